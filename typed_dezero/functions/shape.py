"""Shape operations: reshape, transpose, indexing, broadcasting and its inverse."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, final

import numpy as np
from typing_extensions import TypeIs, override

from typed_dezero._checking import typechecked
from typed_dezero._typing import (
    PLAIN_ARRAYS,
    Arr,
    BasicIndex,
    Index,
    Shape,
    describe,
    is_int,
    is_list,
    is_tuple,
)
from typed_dezero.core.function import UnaryFunction
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.errors import DezeroIndexError, DezeroTypeError, DezeroValueError, ShapeError
from typed_dezero.functions._util import check_shape, int_tuple, normalize_axis, sum_to_array

__all__ = ["broadcast_to", "expand_dims", "flatten", "get_item", "reshape", "squeeze", "sum_to", "transpose"]


@final
class Reshape(UnaryFunction):
    def __init__(self, shape: Shape) -> None:
        self.shape = shape

    @override
    def forward(self, x: Arr, /) -> Arr:
        try:
            return x.reshape(self.shape)
        except ValueError:
            msg = (
                f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) into shape {self.shape}"
            )
            raise ShapeError(msg) from None

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return reshape(gy, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy.reshape(self.inputs[0].shape)


@typechecked
def reshape(x: Variable | Arr, shape: Sequence[int]) -> Variable:
    """`x` with a new `shape` (a tuple or list of ints) of the same size (one entry may be -1).
    Returns `x` itself when the shape is unchanged. Raises ShapeError when the sizes differ.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> x = Variable(np.arange(6.0))
        >>> y = F.reshape(x, (2, -1))
        >>> y.shape
        (2, 3)
        >>> y.backward()
        >>> x.grad
        variable([1. 1. 1. 1. 1. 1.])
        >>> F.reshape(x, (4, 2))
        Traceback (most recent call last):
        ...
        typed_dezero.errors.ShapeError: reshape: cannot reshape an array of shape (6,) (size 6) into ...
    """
    x = to_variable("reshape", x, "x")
    shape = int_tuple("reshape", "shape", shape)  # the runtime checker looks at one item only
    if x.shape == shape:
        return x
    return Reshape(shape)(x)


@final
class Transpose(UnaryFunction):
    def __init__(self, axes: Shape | None) -> None:
        self.axes = axes

    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.transpose(x, self.axes)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return transpose(gy, self._inverse())

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return np.transpose(gy, self._inverse())

    def _inverse(self) -> Shape | None:
        return None if self.axes is None else tuple(int(i) for i in np.argsort(self.axes))


@typechecked
def transpose(x: Variable | Arr, axes: Sequence[int] | None = None) -> Variable:
    """Permute the axes of `x` (`axes` a tuple or list of ints); ``axes=None`` reverses them.
    Negative axes count from the end.
    Raises ValueError unless `axes` is a permutation of ``range(x.ndim)``.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> x = np.zeros((2, 3, 4))
        >>> F.transpose(x).shape, F.transpose(x, (1, 0, 2)).shape, F.transpose(x, (-1, 0, 1)).shape
        ((4, 3, 2), (3, 2, 4), (4, 2, 3))
    """
    x = to_variable("transpose", x, "x")
    if axes is not None:
        axes = int_tuple("transpose", "axes", axes)
        if len(axes) != x.ndim:
            msg = f"transpose: axes {axes} do not match an array of ndim {x.ndim} (shape {x.shape})"
            raise DezeroValueError(msg)
        norm = normalize_axis("transpose", axes, x.ndim)
        if norm != tuple(range(x.ndim)):
            msg = f"transpose: axes {axes} are not a permutation of the {x.ndim} axes"
            raise DezeroValueError(msg)
        axes = tuple(a % x.ndim for a in axes)
    return Transpose(axes)(x)


def _is_index_part(part: object) -> bool:
    if is_list(part):
        return all(is_int(i) for i in part)
    kind: object = getattr(getattr(part, "dtype", None), "kind", None)
    if kind is not None:
        # A plain array only: numpy would index with a masked array's data, ignoring its mask.
        return kind in ("i", "u", "b") and type(part) in PLAIN_ARRAYS
    return is_int(part) or part is None or part is Ellipsis or isinstance(part, slice)


def _index_parts(index: object) -> tuple[object, ...]:
    return index if is_tuple(index) else (index,)


def _is_slice(x: object) -> TypeIs[slice[Any, Any, Any]]:
    return isinstance(x, slice)


def _check_slice(part: object) -> None:
    # NumPy's own errors for these name neither the operation nor the slice.
    if not _is_slice(part):
        return
    bounds = (getattr(part, "start", None), getattr(part, "stop", None), getattr(part, "step", None))
    if any(bound is not None and not hasattr(bound, "__index__") for bound in bounds):
        msg = f"get_item: the bounds of a slice in the index must be ints or None, got {part!r}"
        raise DezeroTypeError(msg)
    if bounds[2] is not None and bounds[2] == 0:
        msg = f"get_item: the step of a slice in the index cannot be zero, got {part!r}"
        raise DezeroValueError(msg)


def _check_index(index: Index) -> Index:
    """`index` after checking its parts, with private copies of its index arrays and lists.

    The copies are what forward and backward read: a caller that changes its index array in place
    after the forward (reusing a buffer) cannot change the gradient. Only the integer/bool arrays
    and lists of the index are copied, never float64 data; ints and slices are immutable.
    """
    # Checked by hand rather than by the runtime checker, for a message that names the bad part.
    mutable = False
    for part in _index_parts(index):
        if not _is_index_part(part):
            msg = (
                "get_item: an index must be made of ints, slices, None, Ellipsis and integer or bool "
                f"arrays, got {describe(part)}"
            )
            raise DezeroTypeError(msg)
        _check_slice(part)
        mutable = mutable or isinstance(part, np.ndarray | list)
    if not mutable:
        return index  # the common case (ints, slices): nothing to copy
    if isinstance(index, tuple):  # a plain tuple: subclasses were refused above
        return tuple(_own_part(part) for part in index)
    return _own_part(index)


def _own_part(part: BasicIndex) -> BasicIndex:
    if isinstance(part, np.ndarray):
        return part.copy()
    return list(part) if isinstance(part, list) else part


@final
class GetItem(UnaryFunction):
    def __init__(self, index: Index) -> None:
        self.index = index

    @override
    def forward(self, x: Arr, /) -> Arr:
        try:
            return x[self.index]
        except IndexError as e:
            msg = f"get_item: index {self.index!r} does not fit an array of shape {x.shape}: {e}"
            raise DezeroIndexError(msg) from None

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return GetItemGrad(self.index, self.inputs[0].shape)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _scatter_add(gy, self.index, self.inputs[0].shape)


@final
class GetItemGrad(UnaryFunction):
    """Scatter-add of a gradient into zeros of the input's shape (repeated indices accumulate)."""

    def __init__(self, index: Index, in_shape: Shape) -> None:
        self.index = index
        self.in_shape = in_shape

    @override
    def forward(self, x: Arr, /) -> Arr:
        return _scatter_add(x, self.index, self.in_shape)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return get_item(gy, self.index)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy[self.index]


def _scatter_add(values: Arr, index: Index, shape: Shape) -> Arr:
    out = np.zeros(shape, dtype=np.float64)
    # numpy's stub for ufunc.at lists only integer-array indices; slices, Ellipsis and None work too.
    where: Any = index
    np.add.at(out, where, values)
    return out


def get_item(x: Variable | Arr, index: Index) -> Variable:
    """``x[index]`` with NumPy's basic slicing and integer/bool array indexing. The gradient
    scatters back, summing over repeated indices. Raises IndexError for out-of-range indices.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> x = Variable(np.array([10.0, 20.0, 30.0]))
        >>> y = F.get_item(x, np.array([0, 2, 2]))  # the same as x[np.array([0, 2, 2])]
        >>> y
        variable([10. 30. 30.])
        >>> y.backward()
        >>> x.grad  # index 2 was taken twice
        variable([1. 0. 2.])
    """
    return GetItem(_check_index(index))(x)


@typechecked
def expand_dims(x: Variable | Arr, axis: int) -> Variable:
    """Insert an axis of length 1 at `axis` (negative counts from the end of the result).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.expand_dims(np.zeros((2, 3)), 0).shape, F.expand_dims(np.zeros((2, 3)), -1).shape
        ((1, 2, 3), (2, 3, 1))
    """
    x = to_variable("expand_dims", x, "x")
    (ax,) = normalize_axis("expand_dims", axis, x.ndim + 1)
    shape = list(x.shape)
    shape.insert(ax, 1)
    return reshape(x, tuple(shape))


@typechecked
def squeeze(x: Variable | Arr, axis: int) -> Variable:
    """Remove the axis `axis`, which must have length 1.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.squeeze(np.zeros((2, 1, 3)), 1).shape
        (2, 3)
    """
    x = to_variable("squeeze", x, "x")
    (ax,) = normalize_axis("squeeze", axis, x.ndim)
    if x.shape[ax] != 1:
        msg = f"squeeze: axis {axis} of shape {x.shape} has length {x.shape[ax]}, not 1"
        raise ShapeError(msg)
    return reshape(x, x.shape[:ax] + x.shape[ax + 1 :])


@typechecked
def flatten(x: Variable | Arr) -> Variable:
    """Keep the first (batch) axis and flatten the rest: shape (N, ...) -> (N, prod(...)).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.flatten(np.zeros((8, 3, 4, 4))).shape
        (8, 48)
    """
    x = to_variable("flatten", x, "x")
    if x.ndim == 0:
        msg = "flatten: needs at least one (batch) axis, got a 0-d input"
        raise ShapeError(msg)
    # The size spelled out, not -1: NumPy cannot infer -1 for an empty batch.
    return reshape(x, (x.shape[0], math.prod(x.shape[1:])))


@final
class BroadcastTo(UnaryFunction):
    def __init__(self, shape: Shape) -> None:
        self.shape = shape

    @override
    def forward(self, x: Arr, /) -> Arr:
        try:
            # A copy, not NumPy's read-only view: outputs (and so gradients) must stay writable.
            return np.broadcast_to(x, self.shape).copy()
        except ValueError:
            msg = f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}"
            raise ShapeError(msg) from None

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return sum_to(gy, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return sum_to_array(gy, self.inputs[0].shape)


@typechecked
def broadcast_to(x: Variable | Arr, shape: Sequence[int]) -> Variable:
    """`x` broadcast to `shape` (a tuple or list of ints; NumPy rules); the gradient sums back.
    Returns `x` itself when the shape is unchanged; raises ShapeError when the shapes do not broadcast.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> b = Variable(np.array([1.0, 2.0, 3.0]))
        >>> y = F.broadcast_to(b, (2, 3))
        >>> y.backward()
        >>> b.grad
        variable([2. 2. 2.])
    """
    x = to_variable("broadcast_to", x, "x")
    shape = check_shape("broadcast_to", shape)
    if x.shape == shape:
        return x
    return BroadcastTo(shape)(x)


@final
class SumTo(UnaryFunction):
    def __init__(self, shape: Shape) -> None:
        self.shape = shape

    @override
    def forward(self, x: Arr, /) -> Arr:
        return sum_to_array(x, self.shape)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return broadcast_to(gy, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return np.broadcast_to(gy, self.inputs[0].shape).copy()


@typechecked
def sum_to(x: Variable | Arr, shape: Sequence[int]) -> Variable:
    """Sum `x` down to `shape` (a tuple or list of ints), the inverse of broadcasting: ``shape``
    must broadcast to ``x.shape``. Returns `x` itself when the shape is unchanged; raises ShapeError
    otherwise.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.sum_to(np.arange(6.0).reshape(2, 3), (1, 3))
        variable([[3. 5. 7.]])
    """
    x = to_variable("sum_to", x, "x")
    shape = check_shape("sum_to", shape)
    if x.shape == shape:
        return x
    return SumTo(shape)(x)
