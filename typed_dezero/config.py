"""Global switches, held in context variables so a block in one thread or asyncio task never
affects another: ``enable_backprop`` (record the graph) and ``train`` (training vs inference)."""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from contextvars import ContextVar
from typing import Final, Literal, TypeAlias

from typed_dezero._checking import typechecked
from typed_dezero.errors import DezeroTypeError, DezeroValueError

__all__ = ["Config", "ConfigName", "no_grad", "test_mode", "using_config"]

ConfigName: TypeAlias = Literal["enable_backprop", "train"]

enable_backprop_var: Final[ContextVar[bool]] = ContextVar("typed_dezero.enable_backprop", default=True)
train_var: Final[ContextVar[bool]] = ContextVar("typed_dezero.train", default=True)

_VARS: Final[dict[str, ContextVar[bool]]] = {"enable_backprop": enable_backprop_var, "train": train_var}


class _ConfigMeta(type):
    # Class-level properties, so that DeZero's spelling `Config.enable_backprop` reads (and sets) the
    # value of the current context instead of a process-wide class attribute.
    @property
    def enable_backprop(cls) -> bool:
        return enable_backprop_var.get()

    @enable_backprop.setter
    def enable_backprop(cls, value: bool) -> None:
        enable_backprop_var.set(_as_flag("Config.enable_backprop", value))

    @property
    def train(cls) -> bool:
        return train_var.get()

    @train.setter
    def train(cls, value: bool) -> None:
        train_var.set(_as_flag("Config.train", value))


class Config(metaclass=_ConfigMeta):
    """DeZero's configuration flags, read and set for the current thread / asyncio task.

    ``Config.enable_backprop``: whether calling a Function records the graph for backward (default True).
    ``Config.train``: training mode (dropout active, batch statistics in batch_norm; default True).
    Prefer the context managers :func:`using_config`, :func:`no_grad` and :func:`test_mode`, which
    restore the previous value when the block ends, even on error.
    """


def _as_flag(what: str, value: object) -> bool:
    if not isinstance(value, bool):
        msg = f"{what} must be a bool, got {type(value).__name__} ({value!r})"
        raise DezeroTypeError(msg)
    return value


@contextlib.contextmanager
@typechecked
def using_config(name: ConfigName, value: bool) -> Generator[None, None, None]:
    """Set the flag `name` ("enable_backprop" or "train") to `value` for the duration of a with-block."""
    var = _VARS.get(name)
    if var is None:
        msg = f"using_config: unknown flag {name!r}; expected one of {sorted(_VARS)}"
        raise DezeroValueError(msg)
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def no_grad() -> contextlib.AbstractContextManager[None]:
    """Do not record the graph inside the with-block (inference, parameter updates)."""
    return using_config("enable_backprop", False)


def test_mode() -> contextlib.AbstractContextManager[None]:
    """Run in inference mode inside the with-block (dropout off, batch_norm uses running statistics)."""
    return using_config("train", False)


# pytest would otherwise collect a `test_mode` imported into a test module as a test.
test_mode.__test__ = False  # type: ignore[attr-defined]
