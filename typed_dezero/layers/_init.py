"""Helpers shared by the layers: weight initialisation (scaled normal draws from a Generator) and
size checks."""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np

from typed_dezero._typing import Arr, Shape, describe, is_int, too_large
from typed_dezero.errors import DezeroTypeError, DezeroValueError

_default_rng = np.random.default_rng()

DTypeArg: TypeAlias = type[np.generic] | np.dtype[Any] | None
"""A layer's DeZero-compatible `dtype` argument; only float64 (or None) is accepted at run time."""


def check_dtype(where: str, dtype: DTypeArg) -> None:
    """Raise DezeroTypeError unless `dtype` is None, np.float64 or np.dtype(np.float64)."""
    if dtype is None or dtype is np.float64 or (isinstance(dtype, np.dtype) and dtype == np.float64):
        return
    msg = (
        f"{where}: typed_dezero is float64 only, got dtype={dtype!r} (DeZero's default is np.float32); "
        "pass dtype=np.float64 or omit it"
    )
    raise DezeroTypeError(msg)


def generator(rng: np.random.Generator | None) -> np.random.Generator:
    """`rng`, or the module's own Generator (never NumPy's global random state)."""
    return _default_rng if rng is None else rng


def scaled_normal(rng: np.random.Generator, shape: Shape, fan_in: int) -> Arr:
    """Normal draws scaled by ``sqrt(1 / fan_in)``, DeZero's initialisation."""
    draws: Arr = rng.standard_normal(size=shape)
    draws *= math.sqrt(1.0 / fan_in)  # in place: VGG16 and ResNet152 weights are large
    return draws


def check_fits(where: str, name: str, shape: Shape) -> None:
    """Raise DezeroValueError naming `where` and `name` when the float64 array `name` of `shape`
    could never be created (NumPy would refuse it with a bare "array is too big")."""
    if too_large(shape):
        msg = f"{where}: {name} would have shape {shape}, too large for any array"
        raise DezeroValueError(msg)


def check_positive(where: str, **sizes: int | None) -> None:
    """Raise DezeroValueError naming the first of `sizes` that is not None and below 1 (and
    DezeroTypeError for a bool, which the runtime checker lets through as an int)."""
    for name, size in sizes.items():
        if size is not None and not is_int(size):
            msg = f"{where}: {name} must be an int, got {describe(size)}"
            raise DezeroTypeError(msg)
        if size is not None and size < 1:
            msg = f"{where}: {name} must be a positive int, got {size}"
            raise DezeroValueError(msg)
