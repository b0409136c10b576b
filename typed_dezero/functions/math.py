"""Elementwise math: square, exp, log, sin, cos, tanh, sqrt, abs. Each backward is built from
differentiable functions, so every one of them can be differentiated any number of times."""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import numpy as np
from typing_extensions import override

from typed_dezero._typing import Arr
from typed_dezero.core.function import BinaryFunction, TernaryFunction, UnaryFunction
from typed_dezero.core.variable import Variable
from typed_dezero.functions._util import check_operand

__all__ = ["abs", "cos", "exp", "log", "sin", "sqrt", "square", "tanh"]


def _output(fn: UnaryFunction, recompute: Callable[[Variable], Variable]) -> Variable:
    """The output of a unary Function or, if the caller has already dropped it, the same value as a
    new graph node (a constant would make the gradient wrong when it is differentiated again)."""
    y = fn.outputs[0]()
    return y if y is not None else recompute(fn.inputs[0])


@final
class Square(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x**2

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * (2.0 * x)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * (2.0 * self.inputs[0].data)


def square(x: Variable | Arr) -> Variable:
    """``x ** 2`` elementwise."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("square", x)
    return Square()(x)


@final
class Exp(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.exp(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * _output(self, exp)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * _output(self, exp).data


def exp(x: Variable | Arr) -> Variable:
    """``e ** x`` elementwise."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("exp", x)
    return Exp()(x)


@final
class Log(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.log(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy / x

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy / self.inputs[0].data


def log(x: Variable | Arr) -> Variable:
    """Natural logarithm elementwise (``-inf`` at 0 and NaN below, as NumPy)."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("log", x)
    return Log()(x)


@final
class Sin(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.sin(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * cos(x)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * np.cos(self.inputs[0].data)


def sin(x: Variable | Arr) -> Variable:
    """Sine elementwise."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("sin", x)
    return Sin()(x)


@final
class Cos(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.cos(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * -sin(x)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * -np.sin(self.inputs[0].data)


def cos(x: Variable | Arr) -> Variable:
    """Cosine elementwise."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("cos", x)
    return Cos()(x)


@final
class Tanh(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.tanh(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _TanhGrad()(_output(self, tanh), gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        y = _output(self, tanh).data
        return gy * (1.0 - y * y)


def tanh(x: Variable | Arr) -> Variable:
    """Hyperbolic tangent elementwise."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("tanh", x)
    return Tanh()(x)


# Fused for speed, as PyTorch's tanh_backward: tanh's derivative, and every derivative of it, is one
# node per term rather than three or four (a 4th derivative by repeated backward builds 20 nodes, not
# 79). Internal: their inputs always share one shape (tanh's output and gradients of it).


@final
class _TanhGrad(BinaryFunction):
    """``gy * (1 - y**2)``: the gradient of x for ``y = tanh(x)`` and the output gradient `gy`."""

    @override
    def forward(self, y: Arr, gy: Arr, /) -> Arr:
        return gy * (1.0 - y * y)

    @override
    def backward(self, g: Variable, /) -> tuple[Variable, Variable]:
        y, gy = self.inputs
        # An input that needs no gradient (e.g. a constant) gets `g` as a stand-in: the engine drops it.
        gyy = _ScaledProduct(-2.0)(y, gy, g) if y.requires_grad else g
        ggy = _TanhGrad()(y, g) if gy.requires_grad else g
        return gyy, ggy

    @override
    def backward_data(self, g: Arr, /) -> tuple[Arr, Arr]:
        y, gy = self.inputs[0].data, self.inputs[1].data
        return -2.0 * y * gy * g, g * (1.0 - y * y)


@final
class _ScaledProduct(TernaryFunction):
    """``k * a * b * c`` for a constant `k`; its derivatives are again scaled products."""

    def __init__(self, k: float) -> None:
        self.k = k

    @override
    def forward(self, a: Arr, b: Arr, c: Arr, /) -> Arr:
        return self.k * a * b * c

    @override
    def backward(self, g: Variable, /) -> tuple[Variable, Variable, Variable]:
        a, b, c = self.inputs
        k = self.k
        ga = _ScaledProduct(k)(b, c, g) if a.requires_grad else g
        gb = _ScaledProduct(k)(a, c, g) if b.requires_grad else g
        gc = _ScaledProduct(k)(a, b, g) if c.requires_grad else g
        return ga, gb, gc

    @override
    def backward_data(self, g: Arr, /) -> tuple[Arr, Arr, Arr]:
        a, b, c = self.inputs[0].data, self.inputs[1].data, self.inputs[2].data
        kg = self.k * g
        return kg * b * c, kg * a * c, kg * a * b


@final
class Sqrt(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.sqrt(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy / (2.0 * _output(self, sqrt))

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy / (2.0 * _output(self, sqrt).data)


def sqrt(x: Variable | Arr) -> Variable:
    """Square root elementwise (the gradient is infinite at 0)."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("sqrt", x)
    return Sqrt()(x)


@final
class Abs(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.abs(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * np.sign(x.data)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * np.sign(self.inputs[0].data)


def abs(x: Variable | Arr) -> Variable:  # noqa: A001 - mirrors the builtin for Variables
    """Absolute value elementwise (subgradient 0 at 0)."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("abs", x)
    return Abs()(x)
