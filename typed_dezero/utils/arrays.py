"""NumPy-level helpers kept from DeZero's utils, typed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, Shape
from typed_dezero.core.variable import Variable
from typed_dezero.errors import ShapeError
from typed_dezero.functions._util import (
    as_f64,
    check_shape,
    keepdims_shape,
    normalize_axis,
    sum_to_array,
)

__all__ = [
    "array_allclose",
    "array_equal",
    "logsumexp",
    "max_backward_shape",
    "pair",
    "reshape_sum_backward",
    "sum_to",
]


@typechecked
def sum_to(x: Arr, shape: Shape) -> Arr:
    """Sum the array `x` down to `shape` (the inverse of broadcasting `shape` to ``x.shape``).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.utils import sum_to
        >>> sum_to(np.ones((2, 3)), (1, 3))
        array([[2., 2., 2.]])
    """
    return sum_to_array(x, shape)


@typechecked
def logsumexp(x: Arr, axis: int = 1) -> Arr:
    """``log(sum(exp(x), axis, keepdims=True))`` computed stably (the maximum is factored out).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.utils import logsumexp
        >>> logsumexp(np.array([[1000.0, 1000.0]]))  # log(2) + 1000, without overflow
        array([[1000.693]])
    """
    (ax,) = normalize_axis("logsumexp", axis, x.ndim)
    m = np.max(x, axis=ax, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return as_f64(m + np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)))


@typechecked
def pair(x: int | tuple[int, int]) -> tuple[int, int]:
    """An int `x` as ``(x, x)``; a pair of ints unchanged (kernel sizes, strides, paddings).

    Examples:
        >>> from typed_dezero.utils import pair
        >>> pair(3), pair((2, 1))
        ((3, 3), (2, 1))
    """
    return (x, x) if isinstance(x, int) else x


def _data(x: Variable | Arr) -> Arr:
    return x.data if isinstance(x, Variable) else x


@typechecked
def array_equal(a: Variable | Arr, b: Variable | Arr) -> bool:
    """Whether two arrays (or Variables' data) have the same shape and elements.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero import Variable
        >>> from typed_dezero.utils import array_equal
        >>> array_equal(Variable(np.ones(2)), np.ones(2)), array_equal(np.ones(2), np.ones(3))
        (True, False)
    """
    return bool(np.array_equal(_data(a), _data(b)))


@typechecked
def array_allclose(a: Variable | Arr, b: Variable | Arr, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Whether two arrays (or Variables' data) are elementwise equal within tolerances.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.utils import array_allclose
        >>> array_allclose(np.array([1.0]), np.array([1.0 + 1e-7]))
        True
    """
    return bool(np.allclose(_data(a), _data(b), rtol=rtol, atol=atol))


@overload
def reshape_sum_backward(
    gy: Variable, x_shape: Sequence[int], axis: int | Sequence[int] | None, keepdims: bool
) -> Variable: ...
@overload
def reshape_sum_backward(
    gy: Arr, x_shape: Sequence[int], axis: int | Sequence[int] | None, keepdims: bool
) -> Arr: ...
@typechecked
def reshape_sum_backward(
    gy: Variable | Arr, x_shape: Sequence[int], axis: int | Sequence[int] | None, keepdims: bool
) -> Variable | Arr:
    """The gradient `gy` of ``sum(x, axis, keepdims)`` reshaped so it broadcasts back to `x_shape`.

    The summed axes come back as 1s (nothing to do when `keepdims` was True). A Variable stays a
    Variable (the reshape is recorded in the graph), an array stays an array.

    Raises:
        ShapeError: ``gy`` does not have the shape of that sum.
        DezeroTypeError: `x_shape` or `axis` is not made of ints.
        DezeroValueError: an axis out of range or repeated, or a negative size in `x_shape`.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.utils import reshape_sum_backward
        >>> reshape_sum_backward(np.ones(3), (2, 3), 0, False).shape
        (1, 3)
    """
    shape = check_shape("reshape_sum_backward", x_shape)
    axes = normalize_axis("reshape_sum_backward", axis, len(shape))
    kept = keepdims_shape(shape, axes)
    summed = kept if keepdims else tuple(n for i, n in enumerate(shape) if i not in axes)
    if gy.shape != summed:
        msg = (
            f"reshape_sum_backward: gy.shape must be the shape of the sum, {summed}, for "
            f"x_shape={shape}, axis={axis!r}, keepdims={keepdims}; got gy.shape={gy.shape}"
        )
        raise ShapeError(msg)
    return gy.reshape(kept)


@typechecked
def max_backward_shape(x: Variable | Arr, axis: int | Sequence[int] | None) -> Shape:
    """The shape of ``max(x, axis)`` with the reduced axes kept as 1s (where its gradient broadcasts).

    DeZero returns a list; this is a tuple. Negative axes count from the end (DeZero ignored them).

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.utils import max_backward_shape
        >>> max_backward_shape(np.ones((2, 3, 4)), (0, -1)), max_backward_shape(np.ones((2, 3)), None)
        ((1, 3, 1), (1, 1))
    """
    return keepdims_shape(x.shape, normalize_axis("max_backward_shape", axis, x.ndim))
