# pyright: basic, reportOptionalMemberAccess=false
# This file deliberately keeps the untyped spelling of the book and the founding notebook (DeZero
# steps 1-36), to prove that such code keeps working unchanged; mypy.ini relaxes the untyped-def
# rules for this package only. Typed code subclasses the arity bases instead.
"""Functions written the way the book writes them."""

import numpy as np
import pytest

from typed_dezero import Function, Variable, as_array, no_grad
from typed_dezero.utils import numerical_diff


class Square(Function):
    def forward(self, x):
        y = x**2
        return y

    def backward(self, gy):
        x = self.inputs[0].data
        gx = 2 * x * gy
        return gx


class Exp(Function):
    def forward(self, x):
        y = np.exp(x)
        return y

    def backward(self, gy):
        x = self.inputs[0].data
        gx = np.exp(x) * gy
        return gx


class Add(Function):
    def forward(self, x0, x1):
        y = x0 + x1
        return y

    def backward(self, gy):
        return gy, gy


class Mul(Function):
    def forward(self, x0, x1):
        return x0 * x1

    def backward(self, gy):
        x0, x1 = self.inputs
        return gy * x1, gy * x0


class SinCos(Function):
    def forward(self, x):
        return np.sin(x), np.cos(x)

    def backward(self, gy0, gy1):
        (x,) = self.inputs
        return gy0 * np.cos(x.data) - gy1 * np.sin(x.data)


def square(x):
    return Square()(x)


def exp(x):
    return Exp()(x)


def add(x0, x1):
    return Add()(x0, x1)


def test_step_3_forward_chain():
    A, B, C = Square(), Exp(), Square()
    x = Variable(np.array(0.5))
    y = C(B(A(x)))
    assert y.data == pytest.approx(1.648721270700128)


def test_step_7_creators_link_the_graph():
    A, B, C = Square(), Exp(), Square()
    x = Variable(np.array(0.5))
    a = A(x)
    b = B(a)
    y = C(b)
    assert y.creator is C
    assert y.creator.inputs[0] is b
    assert y.creator.inputs[0].creator is B
    assert y.creator.inputs[0].creator.inputs[0] is a
    assert y.creator.inputs[0].creator.inputs[0].creator is A
    assert y.creator.inputs[0].creator.inputs[0].creator.inputs[0] is x


def test_step_9_helpers_and_default_seed():
    x = Variable(np.array(0.5))
    y = square(exp(square(x)))
    y.backward()
    assert x.grad.data == pytest.approx(3.297442541400256)


def test_step_9_ndarray_only():
    Variable(np.array(1.0))
    with pytest.raises(TypeError):
        Variable(1.0)  # pyright: ignore[reportArgumentType]


def test_step_9_as_array_for_0d_results():
    x = np.array(1.0)
    y = x**2
    assert type(y) is np.float64
    assert isinstance(as_array(y), np.ndarray)


def test_step_10_unit_tests():
    x = Variable(np.array(2.0))
    assert square(x).data == np.array(4.0)
    x = Variable(np.array(3.0))
    y = square(x)
    y.backward()
    assert x.grad.data == np.array(6.0)
    x = Variable(np.random.default_rng(0).random(1))
    y = square(x)
    y.backward()
    assert np.allclose(x.grad.data, numerical_diff(square, x))


def test_step_13_variadic_inputs_and_step_14_accumulation():
    x = Variable(np.array(2.0))
    y = Variable(np.array(3.0))
    z = add(square(x), square(y))
    z.backward()
    assert z.data == 13.0
    assert x.grad.data == 4.0
    assert y.grad.data == 6.0
    x = Variable(np.array(3.0))
    y = add(add(x, x), x)
    y.backward()
    assert x.grad.data == 3.0


def test_step_16_generations():
    x = Variable(np.array(2.0))
    a = square(x)
    y = add(square(a), square(a))
    y.backward()
    assert y.data == 32.0
    assert x.grad.data == 64.0


def test_multi_output_returns_a_tuple():
    x = Variable(np.array(0.3))
    s, c = SinCos()(x)
    Mul()(s, c).backward()
    assert x.grad.data == pytest.approx(np.cos(0.6))


def test_step_18_no_grad():
    with no_grad():
        x = Variable(np.ones((100, 100)))
        y = square(square(square(x)))
    assert y.creator is None
