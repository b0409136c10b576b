"""Variable's operators: Variables, float64 arrays and Python numbers on either side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import ShapeError, Variable


def _v(*values: float) -> Variable:
    return Variable(np.array(values))


BINARY: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("pow", lambda a, b: a**b, np.power),
]


@pytest.mark.parametrize(("name", "op", "ref"), BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("other", [2, 2.5, np.float64(1.5), np.array([1.5, 2.0]), np.array(3.0)])
def test_operators_with_every_kind_of_other_operand(
    name: str, op: Callable[[Any, Any], Any], ref: Callable[[Any, Any], Any], other: Any
) -> None:
    x = _v(1.0, 2.0)
    for left, right, expected in [(x, other, ref(x.data, other)), (other, x, ref(other, x.data))]:
        y = op(left, right)
        assert isinstance(y, Variable), f"{name}: {type(left).__name__} op {type(right).__name__}"
        np.testing.assert_allclose(y.data, expected)


def test_unary_minus_and_matmul() -> None:
    x = Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal((-x).data, -x.data)
    a = np.eye(2)
    for y in (x @ a, a @ x, x @ Variable(a), x.matmul(a), x.dot(a)):
        assert isinstance(y, Variable)
        np.testing.assert_array_equal(y.data, x.data)


@pytest.mark.parametrize(
    "bad", [np.array([1, 2]), np.array([1.0, 2.0], dtype=np.float32), True, "2", [1.0, 2.0], None]
)
def test_non_float64_operands_are_type_errors(bad: Any) -> None:
    x = _v(1.0, 2.0)
    with pytest.raises(TypeError):
        _ = x + bad
    with pytest.raises(TypeError):
        _ = bad * x


def test_broadcasting_gradients_reduce_to_each_shape() -> None:
    x = Variable(np.ones((2, 3)))
    b = Variable(np.ones(3))
    y = (x * b + b).sum()
    y.backward()
    assert x.grad is not None
    assert b.grad is not None
    assert x.grad.shape == (2, 3)
    assert b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad.data, [4.0, 4.0, 4.0])


def test_shapes_that_do_not_broadcast_are_shape_errors() -> None:
    with pytest.raises(
        ShapeError, match=r"add: shapes do not broadcast; got x0.shape=\(2,\), x1.shape=\(3,\)"
    ):
        _ = _v(1.0, 2.0) + _v(1.0, 2.0, 3.0)


def test_variable_exponent_and_reflected_pow() -> None:
    x = _v(2.0)
    c = _v(3.0)
    y = x**c
    y.backward()
    assert float(y.data[0]) == 8.0
    assert x.grad is not None
    assert c.grad is not None
    assert float(x.grad.data[0]) == 12.0
    np.testing.assert_allclose(c.grad.data, [8.0 * np.log(2.0)])
    z = 2.0**x
    assert float(z.data[0]) == 4.0


def test_constant_zero_base_gives_finite_exponent_gradient() -> None:
    base = Variable(np.array([0.0, 2.0]))
    e = Variable(np.array([2.0, 2.0]))
    (base**e).sum().backward()
    assert e.grad is not None
    np.testing.assert_allclose(e.grad.data, [0.0, 4.0 * np.log(2.0)])


def test_methods_delegate_to_functions() -> None:
    x = Variable(np.arange(6.0).reshape(2, 3))
    assert x.reshape(3, 2).shape == (3, 2)
    assert x.reshape((3, 2)).shape == (3, 2)
    assert x.transpose().shape == (3, 2)
    assert x.transpose(1, 0).shape == (3, 2)
    assert x.transpose((1, 0)).shape == (3, 2)
    assert x.T.shape == (3, 2)
    assert float(x.sum().data) == 15.0
    np.testing.assert_array_equal(x.sum(axis=0, keepdims=True).data, [[3.0, 5.0, 7.0]])
    assert float(x.mean().data) == 2.5
    assert float(x.max().data) == 5.0
    assert float(x.min().data) == 0.0
    np.testing.assert_array_equal(x[1].data, [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(x[:, 1].data, [1.0, 4.0])
    with pytest.raises(TypeError, match="reshape: expected ints or one tuple of ints"):
        x.reshape(3, "2")  # type: ignore[call-overload]
    np.testing.assert_array_equal(F.flatten(Variable(np.ones((2, 3, 4)))).shape, (2, 12))


def test_iteration_over_a_variable_yields_rows() -> None:
    x = Variable(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == 3
    np.testing.assert_array_equal(rows[2].data, [4.0, 5.0])
