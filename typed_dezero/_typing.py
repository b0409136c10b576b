"""The one home of typed_dezero's array type aliases and float64 guards."""

from __future__ import annotations

from types import EllipsisType
from typing import Any, Final, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt
from typing_extensions import TypeIs

Arr: TypeAlias = npt.NDArray[np.float64]
"""A NumPy array of dtype float64: the only kind of data a Variable holds."""

IntArr: TypeAlias = npt.NDArray[np.integer[Any]]
"""An integer array: labels and indices."""

BoolArr: TypeAlias = npt.NDArray[np.bool_]

Shape: TypeAlias = tuple[int, ...]
Axis: TypeAlias = int | tuple[int, ...] | None

BasicIndex: TypeAlias = int | slice | EllipsisType | IntArr | BoolArr | list[int] | None
Index: TypeAlias = BasicIndex | tuple[BasicIndex, ...]
"""What `Variable.__getitem__` / `get_item` accept: NumPy's basic and integer/boolean advanced indices."""

FLOAT64: Final = np.dtype(np.float64)


PLAIN_ARRAYS: Final = (np.ndarray, np.memmap)
"""The array classes whose values mean what a plain ndarray's mean. Other ndarray subclasses are
refused: np.matrix changes the meaning of ``*``, a masked array's mask would be silently lost."""


def is_f64_array(x: object) -> TypeIs[Arr]:
    """True when `x` is a plain NumPy ndarray (or memmap) of dtype float64; not a subclass such as
    np.matrix or a masked array."""
    # Read .dtype before the class: pyright narrows `object` to ndarray[Unknown, Unknown] otherwise.
    dtype: object = getattr(x, "dtype", None)
    if dtype is FLOAT64 and type(x) is np.ndarray:
        return True  # the common case, first: this guard runs on every Function call
    return dtype == FLOAT64 and type(x) in PLAIN_ARRAYS and isinstance(x, np.ndarray)


def is_int_array(x: object) -> TypeIs[IntArr]:
    """True when `x` is a plain NumPy ndarray (or memmap) of any integer dtype (signed or unsigned,
    not bool)."""
    kind: object = getattr(getattr(x, "dtype", None), "kind", None)
    return kind in ("i", "u") and type(x) in PLAIN_ARRAYS and isinstance(x, np.ndarray)


# The guards below are TypeGuards, not TypeIs: they re-check at run time what the static types
# already promise, and a TypeIs would make mypy call the error branch after them unreachable.


def is_int(x: object) -> TypeGuard[int]:
    """True for a Python int (bool excluded)."""
    return type(x) is int


def is_real_scalar(x: object) -> TypeGuard[float]:
    """True for a Python int or float, or a NumPy float64 scalar (a float subclass); not for bool."""
    return isinstance(x, float) or type(x) is int


def is_tuple(x: object) -> TypeGuard[tuple[object, ...]]:
    """True for a tuple (not a subclass such as a named tuple)."""
    return type(x) is tuple


def is_list(x: object) -> TypeGuard[list[object]]:
    """True for a list."""
    return type(x) is list


def describe(x: object) -> str:
    """A short description of a value for error messages: its type, and dtype/shape for arrays."""
    dtype: object = getattr(x, "dtype", None)
    shape: object = getattr(x, "shape", None)
    text = repr(x)
    kind = type(x).__name__
    if isinstance(x, np.ndarray):
        return f"numpy.{kind} of dtype {dtype} and shape {shape}"
    if isinstance(x, np.generic):
        return f"numpy scalar {kind} ({text})"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} ({text})"


def f64_hint(x: object) -> str:
    """How to turn `x` into what typed_dezero needs, for error messages."""
    if isinstance(x, np.float64):
        return "NumPy returns such scalars from operations on 0-d arrays: wrap the result in np.asarray(...)"
    if isinstance(x, np.matrix):
        return "convert it with np.asarray(x) (np.matrix changes the meaning of *)"
    if isinstance(x, np.ma.MaskedArray):
        return (
            "a masked array's mask would be lost: fill the masked values first (x.filled(value)), "
            "or take np.ma.getdata(x) if the mask does not matter"
        )
    kind = type(x)
    if isinstance(x, np.ndarray) and kind not in PLAIN_ARRAYS:
        return f"ndarray subclasses ({kind.__name__}) are not supported: convert it with np.asarray(x)"
    if isinstance(x, np.ndarray):
        return "convert it with x.astype(np.float64)"
    return "create one with np.asarray(x, dtype=np.float64)"


_MAX_BYTES: Final = int(np.iinfo(np.intp).max)


def too_large(shape: Shape) -> bool:
    """True when NumPy could never create a float64 array of `shape`: it would refuse it, before
    allocating anything, with a bare "array is too big" or "Maximum allowed dimension exceeded"
    (sizes as NumPy counts them: every dimension, and the product of the non-zero ones)."""
    if max(shape, default=0) > _MAX_BYTES:
        return True
    size = 1
    for n in shape:
        if n:
            size *= n
    return size * 8 > _MAX_BYTES
