"""Runtime type checking: the one beartype configuration and its off-switch.

Set the environment variable ``TYPED_DEZERO_TYPECHECK=0`` *before* importing typed_dezero to turn
runtime checking off; it is read once, at import. With checking off, the decorators below return
functions unchanged (zero cost), while the hand-written guards that keep the library's invariants
(``Variable`` data must be float64, ``Function`` outputs must be float64 arrays, gradients must
match their input's shape) stay on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, TypeVar

import numpy as np
from beartype import BeartypeConf, FrozenDict, beartype

from typed_dezero._typing import Arr
from typed_dezero.errors import DezeroTypeError

__all__ = ["ENV_VAR", "RUNTIME_CHECKS", "typechecked", "typechecked_forward"]

ENV_VAR: Final = "TYPED_DEZERO_TYPECHECK"

RUNTIME_CHECKS: Final[bool] = os.environ.get(ENV_VAR, "1").strip().lower() not in {"0", "false", "no", "off"}
"""Whether forward/backward and the public functions are checked by beartype (decided at import)."""

_F = TypeVar("_F", bound=Callable[..., object])

# The numeric tower lets `2 * x` through a `float` hint, as mypy and pyright do.
_CONF: Final = BeartypeConf(violation_type=DezeroTypeError, is_pep484_tower=True)
# NumPy returns np.float64 scalars, not 0-d arrays, from operations on 0-d arrays; forward() may
# therefore return one, and Function.__call__ turns it back into a 0-d array.
_FORWARD_CONF: Final = BeartypeConf(
    violation_type=DezeroTypeError,
    is_pep484_tower=True,
    hint_overrides=FrozenDict({Arr: Arr | np.float64}),
)
_check = beartype(conf=_CONF)
_check_forward = beartype(conf=_FORWARD_CONF)


def typechecked(func: _F) -> _F:
    """Check `func`'s annotated arguments and result at each call (a TypeError on violation)."""
    return _check(func) if RUNTIME_CHECKS else func


def typechecked_forward(func: _F) -> _F:
    """Like :func:`typechecked`, but lets a float64 result be a NumPy scalar (0-d results)."""
    return _check_forward(func) if RUNTIME_CHECKS else func
