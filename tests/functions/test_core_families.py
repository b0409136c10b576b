"""Arithmetic, math, shape, reduction and linalg: values against NumPy, and their errors."""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given

import typed_dezero.functions as F
from tests.strategies import arrays, shapes
from typed_dezero import Arr, DezeroIndexError, DezeroValueError, ShapeError, Variable
from typed_dezero._typing import Index


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


def _third_derivatives(f: Any, a: float, b: float) -> tuple[Arr, Arr]:
    """d/dx0 and d/dx1 of d2f/dx0dx1 at (a, b), by differentiating typed_dezero's gradient twice."""
    x0, x1 = Variable(np.array(a)), Variable(np.array(b))
    f(x0, x1).backward(create_graph=True)
    g1 = x1.grad
    assert g1 is not None
    x0.cleargrad()
    x1.cleargrad()
    g1.backward(create_graph=True)
    g10 = x0.grad
    assert g10 is not None
    x0.cleargrad()
    x1.cleargrad()
    g10.backward()
    return _g(x0), _g(x1)


def _pow_operator(u: Variable, v: Variable) -> Variable:
    return u**v


def _tanh_second(a: Arr) -> Arr:
    t: Arr = np.tanh(a)
    return -2.0 * t * (1.0 - t**2)


def _sqrt_second(a: Arr) -> Arr:
    return -0.25 * a**-1.5


@pytest.mark.parametrize("f", [_pow_operator, F.pow], ids=["operator", "F.pow"])
def test_pow_of_two_variables_third_order_matches_the_closed_form(f: Any) -> None:
    # f = a**b: d2f/dadb = a**(b-1) (1 + b log a); its derivatives, by hand:
    #   d/da = a**(b-2) ((b-1)(1 + b log a) + b),  d/db = a**(b-1) log a (2 + b log a).
    # The gradient of log(a) w.r.t. the exponent used to be a constant 1/a: 12% off at (1.3, 0.7).
    a, b = 1.3, 0.7
    da, db = _third_derivatives(f, a, b)
    la = np.log(a)
    np.testing.assert_allclose(da, a ** (b - 2) * ((b - 1) * (1 + b * la) + b), rtol=1e-12)
    np.testing.assert_allclose(db, a ** (b - 1) * la * (2 + b * la), rtol=1e-12)


@pytest.mark.parametrize(
    ("fn", "second"),
    [
        (F.exp, np.exp),
        (F.tanh, _tanh_second),
        (F.sqrt, _sqrt_second),
    ],
    ids=["exp", "tanh", "sqrt"],
)
def test_gradient_after_the_output_was_released_is_differentiable(fn: Any, second: Any) -> None:
    # The output is recomputed as a graph node, not as a constant: its gradient can be
    # differentiated again (a constant gave no second derivative at all).
    x = Variable(np.array([0.5, 1.5]))
    y = fn(x)
    creator = y.creator
    assert creator is not None
    del y
    gc.collect()
    assert creator.outputs[0]() is None
    gx = creator.backward(Variable(np.ones(2)))
    gx.sum().backward()
    np.testing.assert_allclose(_g(x), second(x.data), rtol=1e-12)


def test_mean_of_values_whose_sum_overflows_is_finite() -> None:
    x = Variable(np.array([[1.5e308, 1.7e308], [1.6e308, 1e308]]))
    np.testing.assert_allclose(
        F.mean(x).data, (1.5e308 / 4 + 1.7e308 / 4 + 1.6e308 / 4 + 1e308 / 4), rtol=1e-15
    )
    np.testing.assert_allclose(x.mean(axis=0).data, [1.55e308, 1.35e308], rtol=1e-15)
    np.testing.assert_allclose(F.mean(x, axis=1, keepdims=True).data, [[1.6e308], [1.3e308]], rtol=1e-15)
    F.mean(x).backward()
    np.testing.assert_array_equal(_g(x), np.full((2, 2), 0.25))
    # the normal range is untouched: still the sum times 1 / count
    a = np.array([0.1, 0.2, 0.4])
    assert F.mean(a).data == np.sum(a) * (1.0 / 3)


@pytest.mark.parametrize(
    "index",
    [
        np.array([0, 2, 2]),
        np.array([True, False, True, False]),
        [3, 0],
        (np.array([1, 3]), slice(None)),
        (slice(None), [1, 0]),
    ],
    ids=["int array", "bool array", "list", "array in a tuple", "list in a tuple"],
)
@pytest.mark.parametrize("create_graph", [False, True])
def test_index_changed_after_forward_does_not_change_the_gradient(index: Index, create_graph: bool) -> None:
    original = copy.deepcopy(index)
    x = Variable(np.arange(8.0).reshape(4, 2))
    w = np.arange(1.0, 1.0 + x.data[original].size).reshape(x.data[original].shape)
    y = x[index]
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, np.ndarray):
            part[...] = np.flip(part).copy()
        elif isinstance(part, list):
            part.reverse()
    F.sum(y * w).backward(create_graph=create_graph)
    expected = np.zeros((4, 2))
    where: Any = original  # numpy's stub for ufunc.at lists only integer-array indices
    np.add.at(expected, where, w)
    np.testing.assert_array_equal(_g(x), expected)


Binary = Callable[[Variable, Arr], Variable]
Closed = Callable[[Arr, Arr], Arr]
RAW_OPERAND_CASES: dict[str, tuple[Binary, Closed]] = {
    "x*c": (lambda x, c: x * c, lambda x, c: c + 0 * x),
    "c*x": (lambda x, c: c * x, lambda x, c: c + 0 * x),
    "x-c": (lambda x, c: x - c, lambda x, c: 1 + 0 * (x + c)),
    "c-x": (lambda x, c: c - x, lambda x, c: -1 + 0 * (x + c)),
    "x/c": (lambda x, c: x / c, lambda x, c: 1 / c + 0 * x),
    "c/x": (lambda x, c: c / x, lambda x, c: -c / x**2),
}


@pytest.mark.parametrize("name", sorted(RAW_OPERAND_CASES))
@pytest.mark.parametrize(("x_shape", "c_shape"), [((2, 3), (3,)), ((3,), (2, 3)), ((), ())])
def test_a_raw_array_operand_gets_no_gradient_and_the_variable_the_right_one(
    name: str, x_shape: tuple[int, ...], c_shape: tuple[int, ...]
) -> None:
    # The fast path skips the constant's gradient; the Variable's must still be the closed form,
    # summed over the broadcast axes, on both backward paths.
    op, derivative = RAW_OPERAND_CASES[name]
    rng = np.random.default_rng(11)
    xd, c = rng.uniform(0.5, 2.0, size=x_shape), rng.uniform(0.5, 2.0, size=c_shape)
    full = np.asarray(derivative(xd, c), dtype=np.float64)
    expected = full.sum(axis=tuple(range(full.ndim - xd.ndim)))
    for create_graph in (False, True):
        x = Variable(xd.copy())
        y = op(x, c)
        creator = y.creator
        assert creator is not None
        assert [v.requires_grad for v in creator.inputs] == [v is x for v in creator.inputs]
        F.sum(y).backward(create_graph=create_graph)
        assert x.grad is not None
        np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)
