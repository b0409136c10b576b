"""Arithmetic, math, shape, reduction and linalg: values against NumPy, and their errors."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given

import typed_dezero.functions as F
from tests.strategies import arrays, shapes
from typed_dezero import Arr, DezeroIndexError, DezeroValueError, ShapeError, Variable


def _g(x: Variable) -> Arr:
    assert x.grad is not None
    return x.grad.data


@given(x=shapes().flatmap(lambda s: arrays(s, 0.1, 3.0)))
def test_elementwise_values_match_numpy(x: Arr) -> None:
    for fn, ref in [
        (F.exp, np.exp),
        (F.log, np.log),
        (F.sin, np.sin),
        (F.cos, np.cos),
        (F.tanh, np.tanh),
        (F.sqrt, np.sqrt),
        (F.square, np.square),
        (F.abs, np.abs),
        (F.neg, np.negative),
    ]:
        np.testing.assert_allclose(fn(x).data, ref(x), rtol=1e-15, atol=0)


def test_outputs_released_before_backward_are_recomputed() -> None:
    for fn in (F.exp, F.tanh, F.sqrt):
        x = Variable(np.array([0.5, 1.5]))
        y = fn(x)
        creator = y.creator
        assert creator is not None
        (y * 1.0).backward(retain_grad=True)
        expected = _g(x).copy()
        x.cleargrad()
        z = fn(x) * 1.0
        inner = z.creator
        assert inner is not None
        del y
        gc.collect()
        z.backward()
        np.testing.assert_allclose(_g(x), expected)


def test_max_min_share_tied_gradients() -> None:
    x = Variable(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    F.max(x, axis=1).backward()
    np.testing.assert_allclose(_g(x), [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(_g(x).sum(axis=1), [1.0, 1.0])  # each slice's shares sum to gy
    x.cleargrad()
    F.min(x).backward()
    np.testing.assert_allclose(_g(x), [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_max_backward_after_output_dropped() -> None:
    x = Variable(np.array([1.0, 4.0, 2.0]))
    y = F.max(x) * 2.0
    gc.collect()
    y.backward()
    np.testing.assert_array_equal(_g(x), [0.0, 2.0, 0.0])


def test_reduction_values_and_keepdims() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    for axis in [None, 0, -1, (0, 2), (1,)]:
        for keepdims in (False, True):
            np.testing.assert_array_equal(
                F.sum(a, axis, keepdims).data, np.sum(a, axis=axis, keepdims=keepdims)
            )
            np.testing.assert_allclose(
                F.mean(a, axis, keepdims).data, np.mean(a, axis=axis, keepdims=keepdims)
            )
            np.testing.assert_array_equal(
                F.max(a, axis, keepdims).data, np.max(a, axis=axis, keepdims=keepdims)
            )
            np.testing.assert_array_equal(
                F.min(a, axis, keepdims).data, np.min(a, axis=axis, keepdims=keepdims)
            )


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: F.sum(np.ones((2, 3)), axis=2),
            DezeroValueError,
            r"sum: axis 2 is out of range for an array of ndim 2",
        ),
        (lambda: F.sum(np.ones((2, 3)), axis=(0, -2)), DezeroValueError, r"sum: repeated axis"),
        (lambda: F.max(np.ones((0, 3))), ShapeError, r"max: cannot reduce an empty array of shape \(0, 3\)"),
        (
            lambda: F.mean(np.ones((0, 3)), axis=0),
            ShapeError,
            r"mean: the reduction over axis 0 of shape \(0, 3\)",
        ),
        (
            lambda: F.reshape(np.ones(6), (4, 2)),
            ShapeError,
            r"reshape: cannot reshape an array of shape \(6,\)",
        ),
        (
            lambda: F.transpose(np.ones((2, 3)), (0,)),
            DezeroValueError,
            r"transpose: axes \(0,\) do not match",
        ),
        (lambda: F.transpose(np.ones((2, 3)), (1, 1)), DezeroValueError, r"transpose: repeated axis"),
        (
            lambda: F.broadcast_to(np.ones(3), (2, 4)),
            ShapeError,
            r"broadcast_to: cannot broadcast shape \(3,\)",
        ),
        (lambda: F.broadcast_to(np.ones(3), (-1, 3)), ShapeError, r"must not have negative sizes"),
        (lambda: F.sum_to(np.ones((2, 3)), (4,)), ShapeError, r"sum_to: cannot sum shape \(2, 3\) to \(4,\)"),
        (lambda: F.sum_to(np.ones(3), (2, 3)), ShapeError, r"sum_to: cannot sum shape \(3,\) to \(2, 3\)"),
        (
            lambda: F.get_item(np.ones(3), 5),
            DezeroIndexError,
            r"get_item: index 5 does not fit an array of shape \(3,\)",
        ),
        (
            lambda: F.squeeze(np.ones((2, 3)), 0),
            ShapeError,
            r"squeeze: axis 0 of shape \(2, 3\) has length 2",
        ),
        (lambda: F.flatten(np.array(1.0)), ShapeError, r"flatten: needs at least one \(batch\) axis"),
        (
            lambda: F.matmul(np.ones((2, 3)), np.ones((4, 4))),
            ShapeError,
            r"matmul: x0.shape\[-1\] must equal x1.shape\[-2\]; got x0.shape=\(2, 3\), x1.shape=\(4, 4\)",
        ),
        (lambda: F.matmul(np.ones(3), np.ones(4)), ShapeError, r"x1.shape\[0\]; got x0.shape=\(3,\)"),
        (
            lambda: F.matmul(np.array(1.0), np.ones(4)),
            ShapeError,
            r"matmul: operands must have at least 1 dimension",
        ),
        (
            lambda: F.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 2))),
            ShapeError,
            r"matmul: batch dimensions do not broadcast",
        ),
        (
            lambda: F.linear(np.ones((2, 3)), np.ones((4, 5))),
            ShapeError,
            r"linear: x.shape\[-1\] must equal W.shape\[0\]",
        ),
        (
            lambda: F.linear(np.ones((2, 3)), np.ones((3, 5)), np.ones(4)),
            ShapeError,
            r"linear: b must have shape \(W.shape\[1\],\); got b.shape=\(4,\)",
        ),
        (lambda: F.pow(np.ones(2), np.ones(3)), ShapeError, r"pow: shapes do not broadcast"),
        (lambda: F.sub(np.ones(2), np.ones(3)), ShapeError, r"sub: shapes do not broadcast"),
        (lambda: F.mul(np.ones(2), np.ones(3)), ShapeError, r"mul: shapes do not broadcast"),
        (lambda: F.div(np.ones(2), np.ones(3)), ShapeError, r"div: shapes do not broadcast"),
    ],
)
def test_errors_name_the_function_and_the_shapes(call: object, error: type[Exception], message: str) -> None:
    assert callable(call)
    with pytest.raises(error, match=message):
        call()


def test_index_arrays_must_be_integer_or_bool() -> None:
    for bad in [np.array([0.0, 1.0]), "1", 1.5, True, (0, [0.5]), [0, True]]:
        with pytest.raises(TypeError, match="get_item: an index must be made of ints, slices"):
            F.get_item(np.ones((3, 3)), bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="axis"):  # the runtime checker or the hand check
        F.sum(np.ones(3), axis=(0, "1"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="shape must be a tuple of ints"):
        F.sum_to(np.ones(3), (True,))


def test_same_shape_shortcuts_return_the_input() -> None:
    x = Variable(np.ones((2, 3)))
    assert F.reshape(x, (2, 3)) is x
    assert F.broadcast_to(x, (2, 3)) is x
    assert F.sum_to(x, (2, 3)) is x


def test_repeated_indices_accumulate() -> None:
    x = Variable(np.arange(4.0))
    F.get_item(x, np.array([0, 0, 3, 0])).sum().backward()
    np.testing.assert_array_equal(_g(x), [3.0, 0.0, 0.0, 1.0])


def test_broadcast_outputs_are_writable() -> None:
    y = F.broadcast_to(np.ones(3), (2, 3))
    y.data[0, 0] = 5.0
    assert y.data[1, 0] == 1.0


def test_linear_equals_matmul_plus_bias_with_leading_dimensions() -> None:
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    np.testing.assert_allclose(F.linear(x, w, b).data, x @ w + b)
    np.testing.assert_allclose(F.linear(x, w).data, x @ w)


def test_pow_with_zero_exponent_has_zero_gradient() -> None:
    x = Variable(np.array([0.0, 2.0]))
    (x**0).sum().backward()
    np.testing.assert_array_equal(_g(x), [0.0, 0.0])
