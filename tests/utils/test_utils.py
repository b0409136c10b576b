"""utils: gradient checking, numerical differentiation and the array helpers."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, DezeroTypeError, DezeroValueError, ShapeError, UnaryFunction, Variable
from typed_dezero.utils import (
    array_allclose,
    array_equal,
    gradient_check,
    logsumexp,
    max_backward_shape,
    numerical_grad,
    pair,
    reshape_sum_backward,
    sum_to,
)


class WrongSin(UnaryFunction):
    """sin with a wrong derivative (cos + 0.01), which the gradient check must catch."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.sin(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * (F.cos(x) + 0.01)


class TransposedGrad(UnaryFunction):
    """x -> x @ A with the gradient wrongly using A instead of A.T (caught by random cotangents)."""

    A: ClassVar[Arr] = np.array([[1.0, 2.0], [3.0, 4.0]])

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x @ self.A

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy @ self.A


def test_gradient_check_reports_the_worst_mismatch() -> None:
    x = np.linspace(-1, 1, 5)
    result = gradient_check(lambda v: WrongSin()(v), x)
    assert not result
    assert result.order == 1
    assert result.worst_input == 0
    # the checked scalar weights each output by a random w in [0.5, 1.5], so errors are 0.01 w
    assert 0.005 <= result.max_abs_error <= 0.015
    assert "MISMATCH" in str(result)
    assert 0.005 <= abs(result.analytic - result.numeric) <= 0.015


def test_gradient_check_catches_a_transposed_gradient() -> None:
    assert not gradient_check(lambda v: TransposedGrad()(v), np.array([[0.3, -0.2]]))


def test_gradient_check_second_order_catches_a_wrong_second_derivative() -> None:
    x = np.linspace(-1, 1, 5)
    assert gradient_check(F.sin, x, order=2)
    assert not gradient_check(lambda v: WrongSin()(v) * WrongSin()(v), x, order=2, rtol=0, atol=1e-7)


def test_gradient_check_checks_every_input_and_leaves_them_unchanged() -> None:
    a = Variable(np.array([1.0, 2.0]))
    b = np.array([3.0, -1.0])
    result = gradient_check(lambda p, q: p * q + F.sin(p), a, b)
    assert result
    assert "ok" in str(result)
    assert a.grad is None
    np.testing.assert_array_equal(a.data, [1.0, 2.0])
    np.testing.assert_array_equal(b, [3.0, -1.0])


def test_gradient_check_handles_multi_output_and_unused_inputs() -> None:
    def f(p: Variable, q: Variable) -> tuple[Variable, Variable]:
        return p * 2.0, F.exp(p)

    assert gradient_check(f, np.ones(2), np.ones(3))


def test_gradient_check_argument_errors() -> None:
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        gradient_check(F.sin, np.ones(2), order=3)
    with pytest.raises(ValueError, match="needs at least one input"):
        gradient_check(F.sin)

    def returns_array(v: Variable) -> Arr:
        return v.data

    with pytest.raises(TypeError, match="must return Variables"):
        gradient_check(returns_array, np.ones(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="returned no outputs"):
        gradient_check(lambda v: (), np.ones(2))


def test_numerical_grad_matches_analytic() -> None:
    x = np.array([0.1, 0.5, 1.0])
    (g,) = numerical_grad(F.tanh, x)
    np.testing.assert_allclose(g, 1 - np.tanh(x) ** 2, rtol=1e-7)
    ga, gb = numerical_grad(lambda p, q: (p * q, p), np.array([2.0]), Variable(np.array([3.0])))
    np.testing.assert_allclose(ga, [4.0])
    np.testing.assert_allclose(gb, [2.0])


def test_array_helpers() -> None:
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(sum_to(a, (3,)), a.sum(axis=0))
    np.testing.assert_array_equal(sum_to(a, (2, 1)), a.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(logsumexp(a), np.log(np.exp(a).sum(axis=1, keepdims=True)))
    big = np.array([[1e4, 1e4 - 1.0]])
    assert np.isfinite(logsumexp(big)).all()
    np.testing.assert_allclose(logsumexp(big, axis=-1), [[1e4 + np.log(1 + np.exp(-1.0))]])
    assert pair(3) == (3, 3)
    assert pair((2, 5)) == (2, 5)
    assert array_equal(Variable(a), a)
    assert not array_equal(a, a + 1)
    assert array_allclose(a, Variable(a + 1e-7))
    assert not array_allclose(a, a + 1e-2)


@pytest.mark.parametrize(
    ("x_shape", "axis", "keepdims", "expected"),
    [
        ((2, 3, 4), None, False, (1, 1, 1)),
        ((2, 3, 4), 1, False, (2, 1, 4)),
        ((2, 3, 4), (0, -1), False, (1, 3, 1)),
        ((2, 3, 4), [2, 0], False, (1, 3, 1)),
        ((2, 3, 4), 1, True, (2, 1, 4)),
        ((), None, False, ()),
    ],
)
def test_reshape_sum_backward_restores_the_summed_axes(
    x_shape: tuple[int, ...],
    axis: int | tuple[int, ...] | list[int] | None,
    keepdims: bool,
    expected: tuple[int, ...],
) -> None:
    x = np.arange(float(np.prod(x_shape))).reshape(x_shape)
    axes = axis if axis is None or isinstance(axis, int) else tuple(axis)
    gy = np.asarray(np.sum(x, axis=axes, keepdims=keepdims))
    out = reshape_sum_backward(gy, x_shape, axis, keepdims)
    assert isinstance(out, np.ndarray)
    assert out.shape == expected
    np.testing.assert_array_equal(out, np.sum(x, axis=axes, keepdims=True))


def test_reshape_sum_backward_keeps_a_variable_in_the_graph() -> None:
    gy = Variable(np.array([1.0, 2.0, 3.0]))
    out = reshape_sum_backward(gy, [2, 3], 0, False)
    assert isinstance(out, Variable)
    assert out.shape == (1, 3)
    F.sum(out * np.array([[1.0, 10.0, 100.0]])).backward()
    np.testing.assert_array_equal(gy.grad.data if gy.grad is not None else None, [1.0, 10.0, 100.0])


def test_reshape_sum_backward_refuses_a_gradient_of_the_wrong_shape() -> None:
    with pytest.raises(
        ShapeError,
        match=r"reshape_sum_backward: gy.shape must be the shape of the sum, \(3,\), for x_shape=\(2, 3\), "
        r"axis=0, keepdims=False; got gy.shape=\(2,\)",
    ):
        reshape_sum_backward(np.ones(2), (2, 3), 0, False)
    with pytest.raises(DezeroValueError, match=r"reshape_sum_backward: axis 2 is out of range"):
        reshape_sum_backward(np.ones(2), (2, 3), 2, False)
    with pytest.raises(ShapeError, match=r"reshape_sum_backward: shape must not have negative sizes"):
        reshape_sum_backward(np.ones(2), (2, -3), 0, False)
    with pytest.raises(DezeroTypeError, match=r"reshape_sum_backward: (x_)?shape must be"):
        reshape_sum_backward(np.ones(2), ("2", 3), 0, False)  # type: ignore[arg-type]


def test_max_backward_shape() -> None:
    x = np.ones((2, 3, 4))
    assert max_backward_shape(x, None) == (1, 1, 1)
    assert max_backward_shape(Variable(x), 1) == (2, 1, 4)
    assert max_backward_shape(x, (0, -1)) == (1, 3, 1)
    assert max_backward_shape(x, [-2]) == (2, 1, 4)
    with pytest.raises(DezeroValueError, match=r"max_backward_shape: repeated axis"):
        max_backward_shape(x, (1, -2))
