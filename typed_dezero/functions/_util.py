"""Array-level helpers shared by the function families (no graph, no Variables)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from typed_dezero._typing import Arr, Shape, describe, f64_hint, is_f64_array, is_int
from typed_dezero.core.variable import Variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError


def as_f64(a: npt.ArrayLike) -> Arr:
    """`a` as a float64 ndarray (NumPy reductions return scalars or `Any`-typed results)."""
    return np.asarray(a, dtype=np.float64)


def mean_of_terms(terms: Arr, n: int) -> Arr:
    """``sum(terms) / n``, finite whenever the terms and that mean are within float64's range.

    The plain sum comes first (the result in the normal range, unchanged); only when it overflows
    while every term is finite are the terms divided by `n` before they are summed (that sum still
    overflows, as it should, when the mean itself is beyond float64's range).
    """
    with np.errstate(over="ignore"):
        total = as_f64(terms.sum()) / n  # the method: np.sum adds a Python layer per call
    if not np.isfinite(total) and np.isfinite(terms).all():
        total = as_f64(np.sum(terms / n))
    return total


def _is_sequence(x: object) -> bool:
    """True for a sequence other than a str or bytes (whose items are not dimensions)."""
    return isinstance(x, Sequence) and not isinstance(x, str | bytes | bytearray)


def int_tuple(where: str, name: str, value: Sequence[int], expected: str = "a tuple of ints") -> Shape:
    """`value` (a tuple, list or other sequence of ints) as a tuple, else a DezeroTypeError naming
    `where` and `name`. A str or bytes is refused although it is a sequence; so are bools, floats,
    NumPy integers and nested sequences as entries."""
    if _is_sequence(value):  # re-checked at run time: the runtime checker may be switched off
        dims = tuple(value)
        if all(is_int(n) for n in dims):
            return dims
    msg = f"{where}: {name} must be {expected} (or a list of ints), got {value!r}"
    raise DezeroTypeError(msg)


def normalize_axis(where: str, axis: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """`axis` (int, tuple or list of ints, negative allowed, or None for all) as sorted non-negative
    ints."""
    if axis is None:
        return tuple(range(ndim))
    expected = "an int, a tuple of ints or None"
    if isinstance(axis, int):
        if not is_int(axis):  # a bool
            msg = f"{where}: axis must be {expected}, got {axis!r}"
            raise DezeroTypeError(msg)
        axes: Shape = (axis,)
    else:
        axes = int_tuple(where, "axis", axis, expected)
    out: list[int] = []
    for a in axes:
        if not -ndim <= a < ndim:
            msg = f"{where}: axis {a} is out of range for an array of ndim {ndim}"
            raise DezeroValueError(msg)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        msg = f"{where}: repeated axis in {axis!r}"
        raise DezeroValueError(msg)
    return tuple(sorted(out))


def keepdims_shape(shape: Shape, axes: Sequence[int]) -> Shape:
    """`shape` with the reduced `axes` kept as 1s (the shape of a keepdims reduction)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def check_operand(where: str, x: object, name: str = "x") -> None:
    """Raise DezeroTypeError unless `x` is a Variable or a float64 ndarray.

    The cheap hand-written guard of the one-input functions (it stays on with runtime checks off).
    Python numbers are refused here: they are welcome only as the other operand of arithmetic.
    """
    if not isinstance(x, Variable) and not is_f64_array(x):
        msg = f"{where}: {name} must be a Variable or a float64 ndarray, got {describe(x)}; {f64_hint(x)}"
        raise DezeroTypeError(msg)


def check_shape(where: str, shape: Sequence[int]) -> Shape:
    """`shape` as a tuple if it is a tuple or list of non-negative ints, else a TypeError/ValueError
    naming `where`."""
    dims = int_tuple(where, "shape", shape)
    for n in dims:
        if n < 0:
            msg = f"{where}: shape must not have negative sizes, got {dims}"
            raise ShapeError(msg)
    return dims


def sum_to_array(x: Arr, shape: Shape) -> Arr:
    """Sum `x` down to `shape`, the inverse of broadcasting `shape` to ``x.shape``."""
    if x.shape == shape:
        return x
    if x.shape[1:] == shape:
        return as_f64(x.sum(axis=0))  # the common case (a bias gradient), without the general path
    lead = x.ndim - len(shape)
    if lead < 0 or any(s != 1 and s != x.shape[lead + i] for i, s in enumerate(shape)):
        msg = f"sum_to: cannot sum shape {x.shape} to {shape}: {shape} does not broadcast to {x.shape}"
        raise ShapeError(msg)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
    )
    y = as_f64(x.sum(axis=axes, keepdims=True))
    return y.reshape(shape) if lead else y
