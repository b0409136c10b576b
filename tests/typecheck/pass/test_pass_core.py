"""Typed user code that must type-check cleanly under strict mypy and pyright, and run."""

from __future__ import annotations

from typing import final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, BinaryFunction, Function, UnaryFunction, Variable, no_grad


@final
class Cube(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x**3

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * 3.0 * x**2


@final
class Hypot(BinaryFunction):
    @override
    def forward(self, a: Arr, b: Arr, /) -> Arr:  # the base's parameters are positional-only
        return np.sqrt(a * a + b * b)

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        a, b = self.inputs
        r = F.sqrt(a * a + b * b)
        return gy * a / r, gy * b / r


def apply_twice(f: Function[tuple[Arr], Arr], g: Function[tuple[Arr], Arr], x: Variable) -> Variable:
    return g(f(x))


def rosenbrock(x0: Variable, x1: Variable) -> Variable:
    return 100 * (x1 - x0**2) ** 2 + (x0 - 1) ** 2


def test_user_functions_compose() -> None:
    x = Variable(np.array(2.0))
    y = apply_twice(Cube(), Cube(), x)
    y.backward()
    assert x.grad is not None
    assert float(x.grad.data) == 9.0 * 2.0**8
    assert float(Hypot()(np.array(3.0), np.array(4.0)).data) == 5.0


def test_gradient_descent_on_rosenbrock() -> None:
    x0 = Variable(np.array(0.0))
    x1 = Variable(np.array(2.0))
    lr = 0.001
    for _ in range(10000):  # the book reaches (0.9945, 0.9890) after 10,000 steps
        y = rosenbrock(x0, x1)
        x0.cleargrad()
        x1.cleargrad()
        y.backward()
        assert x0.grad is not None
        assert x1.grad is not None
        with no_grad():
            x0.data -= lr * x0.grad.data
            x1.data -= lr * x1.grad.data
    assert abs(float(x0.data) - 1.0) < 0.01
    assert abs(float(x1.data) - 1.0) < 0.02
