"""Runtime type checking: the one beartype configuration and its off-switch.

Set the environment variable ``TYPED_DEZERO_TYPECHECK=0`` *before* importing typed_dezero to turn
runtime checking off; it is read once, at import. With checking off, the decorators below return
functions unchanged (zero cost), while the hand-written guards that keep the library's invariants
(``Variable`` data must be float64, ``Function`` outputs must be float64 arrays, gradients must
match their input's shape) stay on.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Final, ParamSpec, Protocol, TypeVar

import numpy as np

from typed_dezero._typing import Arr
from typed_dezero.errors import DezeroTypeError

__all__ = ["ENV_VAR", "RUNTIME_CHECKS", "check_method", "typechecked"]

ENV_VAR: Final = "TYPED_DEZERO_TYPECHECK"

RUNTIME_CHECKS: Final[bool] = os.environ.get(ENV_VAR, "1").strip().lower() not in {"0", "false", "no", "off"}
"""Whether forward/backward and the public functions are checked by beartype (decided at import)."""

P = ParamSpec("P")
R = TypeVar("R")


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
    conf = BeartypeConf(
        violation_type=DezeroTypeError, is_pep484_tower=True, hint_overrides=FrozenDict(overrides)
    )
    return beartype(conf=conf)


# Decorating costs beartype about a millisecond per function, paid at the first call rather than at
# import: importing typed_dezero stays fast, and only the functions a program uses are decorated.


def typechecked(func: Callable[P, R]) -> Callable[P, R]:
    """Check `func`'s annotated arguments and result at each call (a TypeError on violation)."""
    if not RUNTIME_CHECKS:
        return func
    checked: Callable[P, R] | None = None

    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        nonlocal checked
        if checked is None:
            checked = _checked(func, scalar_results=False)
        return checked(*args, **kwargs)

    return call


def check_method(owner: type, name: str, method: Callable[P, R], *, scalar_results: bool) -> Callable[P, R]:
    """`method` of class `owner`, checked at each call from the first on (the checked version then
    replaces this wrapper on the class, so later calls pay nothing extra). With `scalar_results`,
    a float64 result may also be a NumPy scalar, as operations on 0-d arrays return."""
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
