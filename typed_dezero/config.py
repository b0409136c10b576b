"""Global switches, held in one context variable so that a block in one thread or asyncio task never
affects another: ``enable_backprop`` (record the graph), ``train`` (training vs inference) and
``detect_anomaly`` (NaN/Inf checks, see :func:`detect_anomaly`)."""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from contextvars import ContextVar
from typing import Final, Literal, NamedTuple, TypeAlias

from typed_dezero._checking import typechecked
from typed_dezero.errors import DezeroTypeError, DezeroValueError

__all__ = ["Config", "ConfigName", "Flags", "detect_anomaly", "flags", "no_grad", "test_mode", "using_config"]

ConfigName: TypeAlias = Literal["enable_backprop", "train"]


class Flags(NamedTuple):
    """The switches in force in the current context (immutable; set them with the context managers)."""

    enable_backprop: bool = True
    train: bool = True
    detect_anomaly: bool = False


# One variable for all switches: Function.__call__ reads it once per operation.
flags_var: Final[ContextVar[Flags]] = ContextVar("typed_dezero.flags", default=Flags())  # noqa: B039 - immutable


def flags() -> Flags:
    """The switches in force in the current thread / asyncio task.

    Examples:
        >>> from typed_dezero import no_grad
        >>> from typed_dezero.config import flags
        >>> flags()
        Flags(enable_backprop=True, train=True, detect_anomaly=False)
        >>> with no_grad():
        ...     flags().enable_backprop
        False
    """
    return flags_var.get()


class _ConfigMeta(type):
    # Class-level properties, so that DeZero's spelling `Config.enable_backprop` reads (and sets) the
    # value of the current context instead of a process-wide class attribute.
    @property
    def enable_backprop(cls) -> bool:
        return flags_var.get().enable_backprop

    @enable_backprop.setter
    def enable_backprop(cls, value: bool) -> None:
        flags_var.set(flags_var.get()._replace(enable_backprop=_as_flag("Config.enable_backprop", value)))

    @property
    def train(cls) -> bool:
        return flags_var.get().train

    @train.setter
    def train(cls, value: bool) -> None:
        flags_var.set(flags_var.get()._replace(train=_as_flag("Config.train", value)))


class Config(metaclass=_ConfigMeta):
    """DeZero's configuration flags, read and set for the current thread / asyncio task.

    ``Config.enable_backprop``: whether calling a Function records the graph for backward (default True).
    ``Config.train``: training mode (dropout active, batch statistics in batch_norm; default True).
    Prefer the context managers :func:`using_config`, :func:`no_grad` and :func:`test_mode`, which
    restore the previous value when the block ends, even on error.

    Examples:
        >>> from typed_dezero import Config, test_mode
        >>> Config.train
        True
        >>> with test_mode():
        ...     Config.train
        False
        >>> Config.train = 1
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroTypeError: Config.train must be a bool, got int (1)
    """


def _as_flag(what: str, value: object) -> bool:
    if not isinstance(value, bool):
        msg = f"{what} must be a bool, got {type(value).__name__} ({value!r})"
        raise DezeroTypeError(msg)
    return value


@contextlib.contextmanager
def _flag_set(**changes: bool) -> Generator[None, None, None]:
    token = flags_var.set(flags_var.get()._replace(**changes))
    try:
        yield
    finally:
        flags_var.reset(token)


@typechecked
def using_config(name: ConfigName, value: bool) -> contextlib.AbstractContextManager[None]:
    """Set the flag `name` ("enable_backprop" or "train") to `value` for the duration of a with-block.

    Examples:
        >>> from typed_dezero import Config, using_config
        >>> with using_config("enable_backprop", False):
        ...     Config.enable_backprop
        False
        >>> Config.enable_backprop
        True
    """
    if name not in ("enable_backprop", "train"):
        msg = f"using_config: unknown flag {name!r}; expected 'enable_backprop' or 'train'"
        raise DezeroValueError(msg)
    return _flag_set(**{name: _as_flag(f"using_config({name!r})", value)})


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Do not record the graph inside the with-block (inference, parameter updates).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero import Variable, no_grad
        >>> x = Variable(np.array(3.0))
        >>> with no_grad():
        ...     y = x * x
        >>> y, y.creator is None
        (variable(9.0), True)
    """
    return _flag_set(enable_backprop=False)


def test_mode() -> contextlib.AbstractContextManager[None]:
    """Run in inference mode inside the with-block (dropout off, batch_norm uses running statistics).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import test_mode
        >>> with test_mode():
        ...     F.dropout(np.ones(4), dropout_ratio=0.5)
        variable([1. 1. 1. 1.])
    """
    return _flag_set(train=False)


def detect_anomaly() -> contextlib.AbstractContextManager[None]:
    """Inside the with-block, check every forward result and every gradient for NaN and Inf.

    Each Function records the line of user code that created it; when a forward (or backward)
    turns finite inputs (or gradients) into NaN or Inf, :class:`~typed_dezero.errors.AnomalyError`
    names the Function, its input shapes and that line. Off by default; it costs nothing when off.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable, detect_anomaly
        >>> x = Variable(np.array([-1.0]))
        >>> with detect_anomaly(), np.errstate(invalid="ignore"):
        ...     F.log(x)
        Traceback (most recent call last):
        ...
        typed_dezero.errors.AnomalyError: Log.forward produced NaN or Inf from finite inputs ...
    """
    return _flag_set(detect_anomaly=True)


# pytest would otherwise collect a `test_mode` imported into a test module as a test.
test_mode.__test__ = False  # type: ignore[attr-defined]
