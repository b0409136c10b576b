"""The founding notebook's checks (DeZero steps 1-10), typed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from tests.strategies import arrays, shapes
from typed_dezero import Arr, Variable
from typed_dezero.functions import exp, square
from typed_dezero.functions.math import Exp, Square
from typed_dezero.utils import gradient_check, numerical_diff


def test_square_forward() -> None:
    y = square(Variable(np.array(2.0)))
    assert y.data == np.array(4.0)


def test_square_backward() -> None:
    x = Variable(np.array(3.0))
    square(x).backward()
    assert x.grad is not None
    assert x.grad.data == np.array(6.0)


@given(x=shapes().flatmap(arrays))
def test_square_matches_numerical_diff(x: Arr) -> None:
    v = Variable(x)
    square(v).backward()
    assert v.grad is not None
    np.testing.assert_allclose(v.grad.data, numerical_diff(square, v), rtol=1e-6, atol=1e-8)


def test_chained_functions_match_the_notebook_outputs() -> None:
    A, B, C = Square(), Exp(), Square()
    x = Variable(np.array(0.5))
    y = C(B(A(x)))
    assert float(y.data) == pytest.approx(1.648721270700128, rel=1e-15)
    y.backward()
    assert x.grad is not None
    assert float(x.grad.data) == pytest.approx(3.297442541400256, rel=1e-15)
    x2 = Variable(np.array(0.5))
    square(exp(square(x2))).backward()
    assert x2.grad is not None
    assert float(x2.grad.data) == float(x.grad.data)


def test_numerical_diff_of_composite_function() -> None:
    x = Variable(np.array(0.5))
    dy = numerical_diff(lambda v: square(exp(square(v))), x)
    assert float(dy) == pytest.approx(3.2974426293330694, rel=1e-9)
    np.testing.assert_array_equal(x.data, np.array(0.5))


@given(x=shapes().flatmap(lambda s: arrays(s, -1.0, 1.0)))
def test_gradient_check_first_and_second_order(x: Arr) -> None:
    def f(v: Variable) -> Variable:
        return square(exp(square(v)))

    assert gradient_check(f, x)
    assert gradient_check(f, x, order=2)
