"""Reductions: sum, mean (average), max and min over an axis, an axis tuple or everything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypeAlias, final

import numpy as np
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.function import UnaryFunction
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.errors import ShapeError
from typed_dezero.functions._util import as_f64, keepdims_shape, normalize_axis
from typed_dezero.functions.shape import broadcast_to, reshape

__all__ = ["average", "max", "mean", "min", "sum"]

AxisArg: TypeAlias = int | Sequence[int] | None
"""A reduction's `axis`: an int, a tuple or list of ints (negative allowed), or None for all axes."""


def _expand_back(gy: Variable, x_shape: tuple[int, ...], axes: tuple[int, ...]) -> Variable:
    """The gradient of a reduction broadcast back over the reduced axes."""
    return broadcast_to(reshape(gy, keepdims_shape(x_shape, axes)), x_shape)


def _expand_back_data(gy: Arr, x_shape: tuple[int, ...], axes: tuple[int, ...]) -> Arr:
    return np.broadcast_to(gy.reshape(keepdims_shape(x_shape, axes)), x_shape).copy()


@final
class Sum(UnaryFunction):
    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes = axes
        self.keepdims = keepdims

    @override
    def forward(self, x: Arr, /) -> Arr:
        return as_f64(np.sum(x, axis=self.axes, keepdims=self.keepdims))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _expand_back(gy, self.inputs[0].shape, self.axes)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _expand_back_data(gy, self.inputs[0].shape, self.axes)


@typechecked
def sum(x: Variable | Arr, axis: AxisArg = None, keepdims: bool = False) -> Variable:  # noqa: A001 - DeZero's name
    """Sum of `x` over `axis` (an int, a tuple or list of ints, negative allowed, or None for all).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> x = np.arange(6.0).reshape(2, 3)
        >>> F.sum(x), F.sum(x, axis=0), F.sum(x, axis=-1, keepdims=True).shape
        (variable(15.0), variable([3. 5. 7.]), (2, 1))
    """
    x = to_variable("sum", x, "x")
    return Sum(normalize_axis("sum", axis, x.ndim), keepdims)(x)


@final
class Mean(UnaryFunction):
    """``sum(x, axes) * (1 / count)``, fused for one reason: the mean of finite values is finite
    while their sum may overflow; where it does, the values are scaled before they are summed."""

    def __init__(self, axes: tuple[int, ...], keepdims: bool, count: int) -> None:
        self.axes = axes
        self.keepdims = keepdims
        self.scale = 1.0 / count

    @override
    def forward(self, x: Arr, /) -> Arr:
        with np.errstate(over="ignore"):
            y = as_f64(np.sum(x, axis=self.axes, keepdims=self.keepdims)) * self.scale
        finite = np.isfinite(y)
        if not finite.all():  # rare: an overflowing sum, or values that are not finite themselves
            scaled = as_f64(np.sum(x * self.scale, axis=self.axes, keepdims=self.keepdims))
            y = np.where(finite, y, scaled)
        return y

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _expand_back(gy, self.inputs[0].shape, self.axes) * self.scale

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        gx = _expand_back_data(gy, self.inputs[0].shape, self.axes)
        gx *= self.scale
        return gx


@typechecked
def mean(x: Variable | Arr, axis: AxisArg = None, keepdims: bool = False) -> Variable:
    """Mean of `x` over `axis` (as :func:`sum`), finite whenever the values are (a sum that would
    overflow is taken over the scaled values). Raises ShapeError for an empty reduction.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> x = Variable(np.array([[1.0, 2.0], [3.0, 5.0]]))
        >>> y = F.mean(x, axis=1)
        >>> y
        variable([1.5 4. ])
        >>> y.backward()
        >>> x.grad
        variable([[0.5 0.5]
                  [0.5 0.5]])
    """
    x = to_variable("mean", x, "x")
    axes = normalize_axis("mean", axis, x.ndim)
    count = int(np.prod([x.shape[a] for a in axes]))
    if count == 0:
        msg = f"mean: the reduction over axis {axis!r} of shape {x.shape} is empty"
        raise ShapeError(msg)
    return Mean(axes, keepdims, count)(x)


average = mean
"""DeZero's name for :func:`mean`."""


class _Extremum(UnaryFunction):
    """max or min. Tied extrema share the gradient equally, so the gradient of each reduced slice
    sums to the incoming gradient (DeZero gave the full gradient to every tied element)."""

    name: ClassVar[str]

    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes = axes
        self.keepdims = keepdims

    @override
    def forward(self, x: Arr, /) -> Arr:
        if x.size == 0:
            msg = f"{self.name}: cannot reduce an empty array of shape {x.shape}"
            raise ShapeError(msg)
        reduce = np.max if self.name == "max" else np.min
        return as_f64(reduce(x, axis=self.axes, keepdims=self.keepdims))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _expand_back(gy, self.inputs[0].shape, self.axes) * self._shares()

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _expand_back_data(gy, self.inputs[0].shape, self.axes) * self._shares()

    def _shares(self) -> Arr:
        """Each element's share of its slice's gradient: 1/k for the k tied extrema, 0 elsewhere."""
        x = self.inputs[0].data
        y = self.outputs[0]()
        y_data = y.data if y is not None else self.forward(x)  # the output may be released already
        hit = x == y_data.reshape(keepdims_shape(x.shape, self.axes))
        return as_f64(hit / np.sum(hit, axis=self.axes, keepdims=True))


@final
class Max(_Extremum):
    name = "max"


@final
class Min(_Extremum):
    name = "min"


@typechecked
def max(x: Variable | Arr, axis: AxisArg = None, keepdims: bool = False) -> Variable:  # noqa: A001 - DeZero's name
    """Maximum of `x` over `axis`. Where several elements tie for the maximum, each receives an equal
    share of the gradient (the shares of one reduced slice sum to its incoming gradient).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> x = Variable(np.array([1.0, 3.0, 3.0]))
        >>> y = F.max(x)
        >>> y.backward()
        >>> y, x.grad  # the two tied maxima share the gradient (DeZero gave 1 to each)
        (variable(3.0), variable([0.  0.5 0.5]))
    """
    x = to_variable("max", x, "x")
    return Max(normalize_axis("max", axis, x.ndim), keepdims)(x)


@typechecked
def min(x: Variable | Arr, axis: AxisArg = None, keepdims: bool = False) -> Variable:  # noqa: A001 - DeZero's name
    """Minimum of `x` over `axis`; ties share the gradient as in :func:`max`.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.min(np.array([[4.0, 1.0], [2.0, 7.0]]), axis=0)
        variable([2. 1.])
    """
    x = to_variable("min", x, "x")
    return Min(normalize_axis("min", axis, x.ndim), keepdims)(x)
