"""Pinned static types of the core API (checked by mypy and pyright, executed by pytest)."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any, assert_type

import numpy as np
from typing_extensions import override

import typed_dezero as tdz
import typed_dezero.functions as F
from typed_dezero import (
    Arr,
    BinaryFunction,
    Config,
    Function,
    Parameter,
    TwoOutputFunction,
    UnaryFunction,
    Variable,
)
from typed_dezero.functions.arithmetic import Mul
from typed_dezero.functions.math import Square
from typed_dezero.utils import GradientCheckResult, gradient_check, numerical_diff


class Halves(TwoOutputFunction):
    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x * 0.5, x * 0.5

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return (gy0 + gy1) * 0.5


class Plain(Function):
    def forward(self, x: Arr) -> Arr:
        return x

    def backward(self, gy: Variable) -> Variable:
        return gy


def test_core_types() -> None:
    a = np.ones(3, dtype=np.float64)
    x = Variable(a, name="x")
    assert_type(x.data, Arr)
    assert_type(x.grad, Variable | None)
    assert_type(x.name, str | None)
    assert_type(x.shape, tuple[int, ...])
    assert_type(x.ndim, int)
    assert_type(x.size, int)
    assert_type(x.dtype, np.dtype[np.float64])
    assert_type(x.creator, Function[Any, Any] | None)
    assert_type(x.generation, int)
    assert_type(len(x), int)
    assert_type(x.backward(), None)
    assert_type(Parameter(a), Parameter)
    assert_type(tdz.as_array(2.0), Arr)
    assert_type(tdz.as_variable(a), Variable)


def test_operator_types() -> None:
    a = np.ones(3, dtype=np.float64)
    x = Variable(a)
    assert_type(x + x, Variable)
    assert_type(x + 1, Variable)
    assert_type(2.0 * x, Variable)
    assert_type(a * x, Variable)
    assert_type(x * a, Variable)
    assert_type(a - x, Variable)
    assert_type(a / x, Variable)
    assert_type(x**2, Variable)
    assert_type(2.0**x, Variable)
    assert_type(x**x, Variable)
    assert_type(-x, Variable)
    assert_type(x @ x, Variable)
    assert_type(a @ x, Variable)
    assert_type(x[0], Variable)
    assert_type(x.T, Variable)
    assert_type(x.reshape(3, 1), Variable)
    assert_type(x.reshape((3, 1)), Variable)
    assert_type(x.transpose(), Variable)
    assert_type(x.sum(axis=0), Variable)
    assert_type(x.max(), Variable)


def test_function_call_types() -> None:
    a = np.ones(2, dtype=np.float64)
    x = Variable(a)
    assert_type(Square()(x), Variable)
    assert_type(Square()(a), Variable)
    assert_type(F.square(x), Variable)
    assert_type(F.exp(x), Variable)
    assert_type(Halves()(x), tuple[Variable, Variable])
    assert_type(Plain()(x), Any)
    f: UnaryFunction = Square()
    assert_type(f(x), Variable)
    g: Function[tuple[Arr], Arr] = Square()
    assert_type(g(x), Variable)
    h: BinaryFunction = Mul()
    assert_type(h(x, np.array(2.0)), Variable)


def test_config_types() -> None:
    assert_type(Config.enable_backprop, bool)
    assert_type(Config.train, bool)
    assert_type(tdz.no_grad(), contextlib.AbstractContextManager[None])
    assert_type(tdz.test_mode(), contextlib.AbstractContextManager[None])


def test_utils_types() -> None:
    x = Variable(np.ones(2, dtype=np.float64))
    assert_type(numerical_diff(F.square, x), Arr)
    assert_type(gradient_check(F.square, x), GradientCheckResult)
    assert_type(weakref.ref(x), weakref.ref[Variable])
