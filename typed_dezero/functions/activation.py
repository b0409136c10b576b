"""Activations: sigmoid, relu, leaky_relu, softmax and log_softmax, and the book's teaching
compositions sigmoid_simple and softmax_simple.

Every fused forward is numerically stable (finite values and gradients for inputs of any finite
magnitude, no overflow), and every backward is built from differentiable functions, so each
activation can be differentiated any number of times. The ``_simple`` variants are plain
compositions of primitives (no backward of their own), exactly as the book first writes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import final

import numpy as np
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.function import UnaryFunction
from typed_dezero.core.variable import Variable, float_constant, to_variable
from typed_dezero.errors import DezeroValueError, ShapeError
from typed_dezero.functions._util import as_f64, check_operand, normalize_axis
from typed_dezero.functions.math import exp
from typed_dezero.functions.reduction import sum as reduce_sum

__all__ = ["leaky_relu", "log_softmax", "relu", "sigmoid", "sigmoid_simple", "softmax", "softmax_simple"]


def _output(fn: UnaryFunction, recompute: Callable[[Variable], Variable]) -> Variable:
    """The output of `fn`, or (if the caller already dropped it) the same value as a new graph node."""
    y = fn.outputs[0]()
    return y if y is not None else recompute(fn.inputs[0])


def _softmax_axis(where: str, x: Variable, axis: int) -> int:
    """`axis` as a non-negative int, after checking it exists and is not empty."""
    (ax,) = normalize_axis(where, axis, x.ndim)
    if x.shape[ax] == 0:
        msg = f"{where}: axis {axis} of shape {x.shape} is empty; there is nothing to normalize over"
        raise ShapeError(msg)
    return ax


@final
class Sigmoid(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        # For x < -709 exp(-x) overflows to inf and 1 / (1 + inf) is exactly 0, the right float64
        # answer; elsewhere this form keeps full relative precision in both tails. One pass of exp,
        # half the work of the branch-per-sign form. In one buffer: the same operations, the same
        # bits, a third less time on an LSTM's (30, 100) gates than four temporaries.
        t = np.negative(x, out=np.empty(x.shape))  # an array for 0-d x too (not a NumPy scalar)
        with np.errstate(over="ignore"):
            np.exp(t, out=t)
        t += 1.0
        return np.divide(1.0, t, out=t)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        y = _output(self, sigmoid)
        return gy * y * (1.0 - y)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        y = _output(self, sigmoid).data
        gx = 1.0 - y  # one temporary, then in place
        gx *= y
        gx *= gy
        return gx


def sigmoid(x: Variable | Arr) -> Variable:
    """The logistic function ``1 / (1 + exp(-x))`` elementwise; stable for any finite `x`."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("sigmoid", x)
    return Sigmoid()(x)


def sigmoid_simple(x: Variable | Arr) -> Variable:
    """``1 / (1 + exp(-x))`` composed from :func:`~typed_dezero.functions.exp` and arithmetic, as
    the book first writes it: same values and derivatives as :func:`sigmoid`, but ``exp(-x)``
    overflows for ``x < -709`` (use :func:`sigmoid` there)."""
    check_operand("sigmoid_simple", x)
    return 1.0 / (1.0 + exp(-x))


@final
class ReLU(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.maximum(x, 0.0)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * as_f64(x.data > 0)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * (self.inputs[0].data > 0)


def relu(x: Variable | Arr) -> Variable:
    """``max(x, 0)`` elementwise (gradient 0 at 0)."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("relu", x)
    return ReLU()(x)


@final
class LeakyReLU(UnaryFunction):
    def __init__(self, slope: float) -> None:
        self.slope = slope

    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.where(x > 0, x, x * self.slope)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * as_f64(np.where(x.data > 0, 1.0, self.slope))

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * as_f64(np.where(self.inputs[0].data > 0, 1.0, self.slope))


@typechecked
def leaky_relu(x: Variable | Arr, slope: float = 0.2) -> Variable:
    """`x` where ``x > 0``, ``slope * x`` elsewhere (gradient `slope` at 0).

    Raises DezeroValueError when `slope` is not finite.
    """
    value = float_constant("leaky_relu", slope, "slope")
    if not math.isfinite(value):
        msg = f"leaky_relu: slope must be a finite number, got {slope!r}"
        raise DezeroValueError(msg)
    return LeakyReLU(value)(x)


@final
class Softmax(UnaryFunction):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    @override
    def forward(self, x: Arr, /) -> Arr:
        # Shifting by the maximum keeps exp() in (0, 1]: no overflow, and the sum is at least 1.
        e = np.exp(x - as_f64(np.max(x, axis=self.axis, keepdims=True)))
        return e / as_f64(np.sum(e, axis=self.axis, keepdims=True))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        y = _output(self, lambda x: softmax(x, self.axis))
        gx = y * gy
        return gx - y * reduce_sum(gx, self.axis, keepdims=True)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        y = _output(self, lambda x: softmax(x, self.axis)).data
        gx = y * gy
        return gx - y * as_f64(np.sum(gx, axis=self.axis, keepdims=True))


@typechecked
def softmax(x: Variable | Arr, axis: int = 1) -> Variable:
    """``exp(x) / sum(exp(x), axis)``: probabilities along `axis` (negative counts from the end).

    Stable for any finite `x`. Raises DezeroValueError for an axis out of range and ShapeError for an
    empty axis.
    """
    x = to_variable("softmax", x, "x")
    return Softmax(_softmax_axis("softmax", x, axis))(x)


@typechecked
def softmax_simple(x: Variable | Arr, axis: int = 1) -> Variable:
    """``exp(x) / sum(exp(x), axis)`` composed from primitives, as the book first writes it: the
    values and derivatives of :func:`softmax`, without its shift by the maximum, so ``exp``
    overflows for entries above about 709 (use :func:`softmax` there). Raises as :func:`softmax`."""
    x = to_variable("softmax_simple", x, "x")
    ax = _softmax_axis("softmax_simple", x, axis)
    y = exp(x)
    return y / reduce_sum(y, ax, keepdims=True)


@final
class LogSoftmax(UnaryFunction):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    @override
    def forward(self, x: Arr, /) -> Arr:
        # log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the maximum: no overflow, and the log's
        # argument is at least 1.
        shifted = x - as_f64(np.max(x, axis=self.axis, keepdims=True))
        return shifted - np.log(as_f64(np.sum(np.exp(shifted), axis=self.axis, keepdims=True)))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        y = _output(self, lambda x: log_softmax(x, self.axis))
        return gy - exp(y) * reduce_sum(gy, self.axis, keepdims=True)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        y = _output(self, lambda x: log_softmax(x, self.axis)).data
        return gy - np.exp(y) * as_f64(np.sum(gy, axis=self.axis, keepdims=True))


@typechecked
def log_softmax(x: Variable | Arr, axis: int = 1) -> Variable:
    """``log(softmax(x, axis))``, computed stably (finite for any finite `x`).

    Raises DezeroValueError for an axis out of range and ShapeError for an empty axis.
    """
    x = to_variable("log_softmax", x, "x")
    return LogSoftmax(_softmax_axis("log_softmax", x, axis))(x)
