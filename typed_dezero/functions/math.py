"""Elementwise math: square, exp, log, sin, cos, tanh, sqrt, abs. Each backward is built from
differentiable functions, so every one of them can be differentiated any number of times."""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import numpy as np
from typing_extensions import override

from typed_dezero._typing import Arr
from typed_dezero.core.function import UnaryFunction
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
        y = _output(self, tanh)
        return gy * (1.0 - y * y)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        y = _output(self, tanh).data
        return gy * (1.0 - y * y)


def tanh(x: Variable | Arr) -> Variable:
    """Hyperbolic tangent elementwise."""
    if not isinstance(x, Variable):  # the common case costs no call
        check_operand("tanh", x)
    return Tanh()(x)


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
