# pyright: basic, reportOptionalMemberAccess=false, reportOptionalOperand=false
# pyright: reportAttributeAccessIssue=false, reportArgumentType=false
# (my_sin starts from the book's `y = 0`, so checkers infer `int | Variable` for its result.)
# ruff: noqa: B007 -- the book's loop variables and names are kept verbatim
# Book-style programs for DeZero steps 25-36 (see test_book_style.py's header for the untyped style).
"""Stage 3 (steps 25-36) in the book's spelling."""

import math

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import Variable
from typed_dezero.utils import get_dot_graph


def my_sin(x, threshold=0.0001):
    y = 0
    for i in range(100000):
        c = (-1) ** i / math.factorial(2 * i + 1)
        t = c * x ** (2 * i + 1)
        y = y + t
        if abs(t.data) < threshold:
            break
    return y


def test_step_27_taylor_sin():
    x = Variable(np.array(np.pi / 4))
    y = my_sin(x)
    y.backward()
    assert y.data == pytest.approx(0.7071064695751781, rel=1e-12)
    assert x.grad.data == pytest.approx(0.7071032148228457, rel=1e-12)


def rosenbrock(x0, x1):
    y = 100 * (x1 - x0**2) ** 2 + (1 - x0) ** 2
    return y


def test_step_28_rosenbrock_gradient_descent():
    x0 = Variable(np.array(0.0))
    x1 = Variable(np.array(2.0))
    lr = 0.001
    iters = 10000
    printed = None
    for i in range(iters):
        printed = (float(x0.data), float(x1.data))  # the book's print(x0, x1)
        y = rosenbrock(x0, x1)
        x0.cleargrad()
        x1.cleargrad()
        y.backward()
        x0.data -= lr * x0.grad.data
        x1.data -= lr * x1.grad.data
    # The book's last line printed (at the top of the 10000th iteration):
    # variable(0.9944962193480691) variable(0.9890006333530483)
    assert printed == pytest.approx((0.99449622, 0.98900063), abs=1e-8)


def f(x):
    y = x**4 - 2 * x**2
    return y


def gx2(x):
    return 12 * x**2 - 4


NEWTON = [2.0, 1.4545454545454546, 1.1510467893775467, 1.0253259289766978, 1.0009084519430513]


def test_step_29_newton_with_hand_second_derivative():
    x = Variable(np.array(2.0))
    iters = 10
    logs = []
    for i in range(iters):
        logs.append(float(x.data))
        y = f(x)
        x.cleargrad()
        y.backward()
        x.data -= x.grad.data / gx2(x.data)
    assert logs[:5] == pytest.approx(NEWTON, rel=1e-12)
    assert logs[5] == pytest.approx(1.0000012353089454, rel=1e-12)
    assert logs[7] == 1.0


def test_step_33_newton_via_double_backprop():
    x = Variable(np.array(2.0))
    iters = 10
    logs = []
    for i in range(iters):
        logs.append(float(x.data))
        y = f(x)
        x.cleargrad()
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        gx.backward()
        gx2 = x.grad
        x.data -= gx.data / gx2.data
    assert logs[:5] == pytest.approx(NEWTON, rel=1e-12)
    assert logs[7] == 1.0


def test_step_34_higher_derivatives_of_sin():
    x = Variable(np.linspace(-7, 7, 200))
    y = F.sin(x)
    y.backward(create_graph=True)
    logs = [y.data]
    for i in range(3):
        logs.append(x.grad.data)
        gx = x.grad
        x.cleargrad()
        gx.backward(create_graph=True)
    xs = np.linspace(-7, 7, 200)
    assert np.allclose(logs[0], np.sin(xs))
    assert np.allclose(logs[1], np.cos(xs))
    assert np.allclose(logs[2], -np.sin(xs))
    assert np.allclose(logs[3], -np.cos(xs))


def test_step_35_tanh_graph():
    x = Variable(np.array(1.0))
    y = F.tanh(x)
    x.name = "x"
    y.name = "y"
    y.backward(create_graph=True)
    iters = 1
    for i in range(iters):
        gx = x.grad
        x.cleargrad()
        gx.backward(create_graph=True)
    gx = x.grad
    gx.name = "gx" + str(iters + 1)
    txt = get_dot_graph(gx, verbose=False)
    assert txt.startswith("digraph g {")
    assert 'label="gx2"' in txt
    assert 'label="x"' in txt
    # d2/dx2 tanh(x) = -2 tanh(x) (1 - tanh(x)^2)
    t = np.tanh(1.0)
    assert float(gx.data) == pytest.approx(-2 * t * (1 - t**2))


def test_step_36_double_backprop():
    x = Variable(np.array(2.0))
    y = x**2
    y.backward(create_graph=True)
    gx = x.grad
    x.cleargrad()
    z = gx**3 + y
    z.backward()
    assert x.grad.data == 100.0
