"""Runtime type checking: the one beartype configuration and its off-switch.

Set the environment variable ``TYPED_DEZERO_TYPECHECK=0`` *before* importing typed_dezero to turn
runtime checking off; it is read once, at import. With checking off, the decorators below return
functions unchanged (zero cost), while the hand-written guards that keep the library's invariants
(``Variable`` data must be float64, ``Function`` outputs must be float64 arrays, gradients must
match their input's shape) stay on.

A violation is raised by beartype as a :class:`TypeCheckError` (a ``DezeroTypeError``). Where the call
is known (a decorated function, ``forward`` and ``backward`` run by the engine), it is re-raised as a
``DezeroTypeError`` in typed_dezero's words, with beartype's violation as ``__cause__``.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from types import UnionType
from typing import Any, Final, Literal, ParamSpec, Protocol, TypeVar, Union, get_args, get_origin

import numpy as np

from typed_dezero._typing import PLAIN_ARRAYS, Arr, describe, f64_hint, is_f64_array, is_tuple
from typed_dezero.errors import DezeroTypeError

__all__ = [
    "BACKWARD_FIX",
    "ENV_VAR",
    "RUNTIME_CHECKS",
    "TypeCheckError",
    "call_violation",
    "check_method",
    "forward_fix",
    "method_violation",
    "typechecked",
]

ENV_VAR: Final = "TYPED_DEZERO_TYPECHECK"

RUNTIME_CHECKS: Final[bool] = os.environ.get(ENV_VAR, "1").strip().lower() not in {"0", "false", "no", "off"}
"""Whether forward/backward and the public functions are checked by beartype (decided at import)."""

P = ParamSpec("P")
R = TypeVar("R")


class TypeCheckError(DezeroTypeError):
    """A runtime type-check violation, as beartype raises it (with beartype's own message).

    The classes beartype raises derive from this one and from beartype's
    ``BeartypeCallHintParamViolation`` / ``BeartypeCallHintReturnViolation``; typed_dezero re-raises
    them in its own words wherever it knows the call, with the violation as ``__cause__``.
    """

    values: tuple[object, ...] = ()
    """The offending argument or result, then (for a container) the item of it that failed."""
    pith: str | None = None
    """The name of the offending parameter, ``"return"`` for a result, None when unknown."""


_PARAMETER: Final = re.compile(r"\(\) parameter (\w+)=")


@functools.cache
def _violation_types() -> tuple[type[TypeCheckError], type[TypeCheckError]]:
    """The (parameter, return) violation classes handed to beartype; built on first use, since
    their other base comes from beartype."""
    from beartype.roar import BeartypeCallHintParamViolation, BeartypeCallHintReturnViolation

    # beartype builds them as `cls(message=..., culprits=...)`. Its own copy of the culprits is a
    # weak reference or a repr (ints, strs and tuples cannot be weakly referenced): keep them.
    # beartype's __init__ sets their module to "beartype.roar" at the first instance: set it from the
    # start, so that their name does not change (they are beartype's violations, in its words).
    class ParamTypeError(BeartypeCallHintParamViolation, TypeCheckError):
        __module__ = "beartype.roar"
        __qualname__ = "ParamTypeError"

        def __init__(self, message: str, culprits: tuple[object, ...], *args: object) -> None:
            # beartype annotates culprits as a bare `tuple`, which pyright strict calls partially unknown
            super().__init__(message, culprits, *args)  # pyright: ignore[reportUnknownMemberType]
            self.values = culprits
            found = _PARAMETER.search(message)
            self.pith = found.group(1) if found else None

    class ReturnTypeError(BeartypeCallHintReturnViolation, TypeCheckError):
        __module__ = "beartype.roar"
        __qualname__ = "ReturnTypeError"

        def __init__(self, message: str, culprits: tuple[object, ...], *args: object) -> None:
            super().__init__(message, culprits, *args)  # pyright: ignore[reportUnknownMemberType]
            self.values = culprits
            self.pith = "return"

    return ParamTypeError, ReturnTypeError


class _Decorator(Protocol):
    def __call__(self, func: Callable[P, R], /) -> Callable[P, R]: ...


@functools.cache
def _beartype(scalar_results: bool) -> _Decorator:
    """The configured beartype decorator; beartype itself is imported on first use only, so that a
    program with checks off never loads it (it is a large package)."""
    from beartype import BeartypeConf, FrozenDict, beartype

    # The numeric tower lets `2 * x` through a `float` hint, as mypy and pyright do. NumPy returns
    # np.float64 scalars, not 0-d arrays, from operations on 0-d arrays: with `scalar_results` a
    # result typed Arr may be one (Function.__call__ turns it back into a 0-d array).
    overrides: dict[object, object] = {Arr: Arr | np.float64} if scalar_results else {}
    param_violation, return_violation = _violation_types()
    conf = BeartypeConf(
        violation_type=DezeroTypeError,
        violation_param_type=param_violation,
        violation_return_type=return_violation,
        is_pep484_tower=True,
        hint_overrides=FrozenDict(overrides),
    )
    return beartype(conf=conf)


# Decorating costs beartype about a millisecond per function, paid at the first call rather than at
# import: importing typed_dezero stays fast, and only the functions a program uses are decorated.


def typechecked(func: Callable[P, R]) -> Callable[P, R]:
    """Check `func`'s annotated arguments and result at each call (a DezeroTypeError naming the
    function, the parameter, what it expects and what it got)."""
    if not RUNTIME_CHECKS:
        return func
    checked: Callable[P, R] | None = None

    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal checked
        if checked is None:
            checked = _checked(func, scalar_results=False)
        try:  # free unless it raises (Python 3.11's zero-cost exceptions)
            return checked(*args, **kwargs)
        except TypeCheckError as violation:
            error = call_violation(func, violation)
            if error is None:
                raise  # raised by another checked callable, inside func
            raise error from violation

    return call


def check_method(owner: type, name: str, method: Callable[P, R], *, scalar_results: bool) -> Callable[P, R]:
    """`method` of class `owner`, checked at each call from the first on (the checked version then
    replaces this wrapper on the class, so later calls pay nothing extra). With `scalar_results`,
    a float64 result may also be a NumPy scalar, as operations on 0-d arrays return. A violation is
    a :class:`TypeCheckError` with beartype's message: the caller words it (see
    :func:`method_violation`)."""
    if not RUNTIME_CHECKS:
        return method

    @functools.wraps(method)
    def first_call(*args: P.args, **kwargs: P.kwargs) -> R:
        checked = _checked(method, scalar_results=scalar_results)
        setattr(owner, name, checked)
        return checked(*args, **kwargs)

    return first_call


def _checked(func: Callable[P, R], *, scalar_results: bool) -> Callable[P, R]:
    return _beartype(scalar_results)(func)


# -- the messages ------------------------------------------------------------------------------

BACKWARD_FIX: Final = (
    "build gradients from Variables (e.g. gy * x, with x from self.inputs) so they stay differentiable"
)
"""How to fix a ``backward`` that returns something other than Variables."""

_ALIASES: Final = {"Arr": "NDArray[float64]", "IntArr": "NDArray[integer]", "BoolArr": "NDArray[bool]"}
_ALIAS: Final = re.compile(r"\b(?:Arr|IntArr|BoolArr)\b")


def _raised_by(violation: TypeCheckError, func: object) -> bool:
    # beartype's message starts with "Function module.qualname()" or "Method module.qualname()".
    label = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}() "
    return label in str(violation)


def _hint(func: object, pith: str) -> str:
    """The annotation of `pith` (a parameter name or "return") of `func`, readable."""
    annotations: dict[str, object] = getattr(func, "__annotations__", {})
    return _hint_text(annotations.get(pith))


def _hint_text(hint: object) -> str:
    # beartype resolves the annotations in place: most hints arrive here as objects, not strings.
    origin, args = get_origin(hint), get_args(hint)
    if isinstance(hint, str):  # as written (not resolved yet)
        text = _ALIAS.sub(lambda m: _ALIASES[m.group()], hint)
    elif hint is None or hint is type(None):
        text = "None"
    elif origin is np.ndarray and len(args) == 2:  # NDArray[dtype]: its shape is never constrained
        scalar = get_args(args[1])[0]
        text = f"NDArray[{_hint_text(get_origin(scalar) or scalar)}]"
    elif origin is Literal:
        text = f"Literal[{', '.join(repr(arg) for arg in args)}]"
    elif origin is Union or isinstance(hint, UnionType):
        text = " | ".join(_hint_text(arg) for arg in args)
    elif origin is not None and args:
        items = ", ".join("..." if arg is Ellipsis else _hint_text(arg) for arg in args)
        text = f"{_hint_text(origin)}[{items}]"
    else:
        text = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    return text


def _got(violation: TypeCheckError) -> str:
    """What came in (or out), and the item of it that failed when that is not the whole value."""
    value, item = violation.values[0], violation.values[-1]
    text = _describe(value)
    if item is not value:
        text += f", whose item {_describe(item)} does not fit"
    return text


def _describe(x: object) -> str:
    from typed_dezero.core.variable import Variable  # here: core imports this module

    if isinstance(x, Variable):
        return f"{type(x).__name__} of dtype {x.dtype} and shape {x.shape}"
    return describe(x)


def _display_name(func: object) -> str:
    """How messages name a decorated callable: ``dropout``, ``Linear`` (for its ``__init__``),
    ``Layer.save_weights``."""
    name = str(getattr(func, "__qualname__", func)).rpartition("<locals>.")[2]
    return name.removesuffix(".__init__")


def call_violation(func: object, violation: TypeCheckError) -> DezeroTypeError | None:
    """The error for a violation of the checked callable `func`, in typed_dezero's words; None when
    the violation is not about `func`'s own arguments or result."""
    if not _raised_by(violation, func):
        return None
    where, pith = _display_name(func), violation.pith
    if pith is None:  # beartype's message did not name the parameter: keep all of it
        msg = f"{where}: an argument does not fit its annotation; beartype reports:\n{violation}"
    elif pith == "return":
        msg = f"{where}: must return {_hint(func, pith)}, returned {_got(violation)}"
    else:
        msg = f"{where}: {pith} must be {_hint(func, pith)}, got {_got(violation)}"
    return DezeroTypeError(msg)


def method_violation(fn: object, method: str, violation: TypeCheckError) -> DezeroTypeError | None:
    """The error for a violation of ``forward`` or ``backward`` (`method`) of the Function `fn`, run
    by the engine: what the engine passes and expects, and the fix. None when the violation is not
    about that method's own arguments or result."""
    func: Any = getattr(type(fn), method)
    if not _raised_by(violation, func):
        return None
    owner, pith = f"{type(fn).__name__}.{method}", violation.pith
    if pith is None:
        return call_violation(func, violation)
    hint = _hint(func, pith)
    if pith != "return":
        passed = (
            "each input's data as a float64 ndarray" if method == "forward" else "each gradient as a Variable"
        )
        annotate = "Arr" if method == "forward" else "Variable (its array is .data)"
        msg = (
            f"{owner}: parameter {pith} is annotated {hint}, got {_got(violation)}; {method} receives "
            f"{passed}: annotate it {annotate}"
        )
        return DezeroTypeError(msg)
    value, item = violation.values[0], violation.values[-1]
    place = ""
    if item is not value and is_tuple(value):  # a fixed tuple hint: beartype names the item itself
        index = next((i for i, v in enumerate(value) if v is item), "?")
        place = f" as output {index}" if method == "forward" else f" for input {index}"
    if method == "forward":
        engine_accepts = is_f64_array(item) or type(item) is np.float64
        fix = "its annotation is wrong: annotate it Arr" if engine_accepts else forward_fix(item)
        msg = f"{owner} must return float64 ndarrays (annotated {hint}), returned {_describe(item)}{place}"
        msg += f"; {fix}"
    else:
        msg = (
            f"{owner} must return a Variable per input (annotated {hint}), returned {_describe(item)}{place}"
        )
        msg += f"; {BACKWARD_FIX}"
    return DezeroTypeError(msg)


def forward_fix(y: object) -> str:
    """How to turn `y`, returned by a forward, into a float64 array (for error messages)."""
    advice = f64_hint(y)
    if type(y) in PLAIN_ARRAYS:
        return "return y.astype(np.float64) instead"
    if isinstance(y, np.ndarray):  # np.matrix, masked arrays...: f64_hint knows what each needs
        return advice
    if y is None:
        return "forward must end with a return statement"
    if is_tuple(y):
        return "return one float64 ndarray per output, as many as the Function has"
    return "return np.asarray(y, dtype=np.float64) instead"
