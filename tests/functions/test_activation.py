"""Activations: values against plain NumPy formulas, stability at large magnitudes, gradients in
closed form, and every error path."""

from __future__ import annotations

import gc
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import arrays, shapes
from typed_dezero import Arr, DezeroValueError, ShapeError, Variable
from typed_dezero.functions.activation import leaky_relu, log_softmax, relu, sigmoid, softmax

Activation = Callable[[Variable], Variable]


def _g(x: Variable) -> Arr:
    assert x.grad is not None
    return x.grad.data


def _softmax_ref(x: Arr, axis: int) -> Arr:
    e = np.exp(x)
    y: Arr = e / e.sum(axis=axis, keepdims=True)
    return y


def _grad_of(f: Activation, a: Arr, gy: Arr) -> Arr:
    """The gradient of ``sum(f(x) * gy)`` at `a`."""
    x = Variable(a.copy())
    (f(x) * gy).sum().backward()
    return _g(x)


@given(x=shapes().flatmap(lambda s: arrays(s, -30.0, 30.0)))
def test_elementwise_values_match_numpy(x: Arr) -> None:
    np.testing.assert_allclose(sigmoid(x).data, 1.0 / (1.0 + np.exp(-x)), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(relu(x).data, np.where(x > 0, x, 0.0))
    np.testing.assert_array_equal(leaky_relu(x).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_array_equal(leaky_relu(x, 0.05).data, np.where(x > 0, x, 0.05 * x))


@given(x=shapes(min_dims=1).flatmap(lambda s: arrays(s, -30.0, 30.0)), data=st.data())
def test_softmax_values_match_numpy(x: Arr, data: st.DataObject) -> None:
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    ref = _softmax_ref(x, axis)
    np.testing.assert_allclose(softmax(x, axis).data, ref, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(log_softmax(x, axis).data, np.log(ref), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(softmax(x, axis).data.sum(axis=axis), 1.0, rtol=1e-12)


@given(x=shapes(min_dims=2).flatmap(lambda s: arrays(s, -5.0, 5.0)))
def test_softmax_default_axis_is_1(x: Arr) -> None:
    np.testing.assert_array_equal(softmax(x).data, softmax(x, 1).data)
    np.testing.assert_array_equal(log_softmax(x).data, log_softmax(x, 1).data)
    np.testing.assert_allclose(softmax(x).data, _softmax_ref(x, 1), rtol=1e-12)


def test_sigmoid_is_stable_and_precise_at_large_magnitudes() -> None:
    a = np.array([1e4, -1e4, 0.0, -50.0, 50.0])
    x = Variable(a.copy())
    y = sigmoid(x)
    np.testing.assert_array_equal(y.data[:3], [1.0, 0.0, 0.5])
    # the tail keeps its relative precision instead of cancelling to 0 or 1
    np.testing.assert_allclose(y.data[3], np.exp(-50.0), rtol=1e-14)
    np.testing.assert_allclose(1.0 - y.data[4], 0.0, atol=1e-21)
    y.sum().backward()
    s = 1.0 / (1.0 + np.exp(-np.clip(a, -700, 700)))
    np.testing.assert_allclose(_g(x), s * (1.0 - s), rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(_g(x)))


def test_relu_family_at_large_magnitudes_and_at_zero() -> None:
    a = np.array([1e4, -1e4, 0.0, 2.0])
    np.testing.assert_array_equal(relu(a).data, [1e4, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(leaky_relu(a, 0.1).data, [1e4, -1e4 * 0.1, 0.0, 2.0])
    gy = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(_grad_of(relu, a, gy), [1.0, 0.0, 0.0, 4.0])  # 0 at the kink
    np.testing.assert_array_equal(
        _grad_of(lambda v: leaky_relu(v, 0.1), a, gy), [1.0, 2.0 * 0.1, 3.0 * 0.1, 4.0]
    )


def test_softmax_family_is_stable_at_large_magnitudes() -> None:
    a = np.array([[1e4, 0.0], [0.0, -1e4], [1e4, 1e4], [-1e4, -1e4]])
    np.testing.assert_array_equal(softmax(a).data, [[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(
        log_softmax(a).data, [[0.0, -1e4], [0.0, -1e4], [-np.log(2.0)] * 2, [-np.log(2.0)] * 2]
    )
    gy = np.array([[1.0, 3.0], [2.0, -1.0], [1.0, 3.0], [0.0, 4.0]])
    for f in (softmax, log_softmax):
        g = _grad_of(f, a, gy)
        assert np.all(np.isfinite(g))
    # log_softmax: gx = gy - softmax * sum(gy), with softmax one-hot or uniform on these rows
    probs = np.array([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    expected = gy - probs * gy.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(_grad_of(log_softmax, a, gy), expected, atol=1e-12)
    np.testing.assert_allclose(_grad_of(softmax, a, gy), probs * (gy - (probs * gy).sum(1, keepdims=True)))


@given(x=shapes(min_dims=1, max_dims=3).flatmap(lambda s: arrays(s, -3.0, 3.0)), data=st.data())
def test_softmax_gradient_matches_jacobian(x: Arr, data: st.DataObject) -> None:
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    gy = data.draw(arrays(x.shape))
    # move the softmax axis last and apply the Jacobian diag(y) - y y^T row by row
    xm, gm = np.moveaxis(x, axis, -1), np.moveaxis(gy, axis, -1)
    y = _softmax_ref(xm, -1)
    jac = y[..., :, None] * np.eye(y.shape[-1]) - y[..., :, None] * y[..., None, :]
    expected = np.moveaxis(np.einsum("...ij,...j->...i", jac, gm), -1, axis)
    np.testing.assert_allclose(_grad_of(lambda v: softmax(v, axis), x, gy), expected, rtol=1e-9, atol=1e-12)
    log_expected = np.moveaxis(gm - y * gm.sum(axis=-1, keepdims=True), -1, axis)
    np.testing.assert_allclose(
        _grad_of(lambda v: log_softmax(v, axis), x, gy), log_expected, rtol=1e-9, atol=1e-12
    )


def test_sigmoid_second_derivative_in_closed_form() -> None:
    a = np.array([-2.0, 0.0, 0.5, 3.0])
    x = Variable(a.copy())
    sigmoid(x).sum().backward(create_graph=True)
    gx = x.grad
    assert gx is not None
    x.cleargrad()
    gx.sum().backward()
    s = 1.0 / (1.0 + np.exp(-a))
    np.testing.assert_allclose(_g(x), s * (1.0 - s) * (1.0 - 2.0 * s), rtol=1e-12, atol=1e-15)


REUSING_OUTPUT: list[Activation] = [sigmoid, lambda v: softmax(v, 0), lambda v: log_softmax(v, -1)]


@pytest.mark.parametrize("f", REUSING_OUTPUT, ids=["sigmoid", "softmax", "log_softmax"])
def test_backward_recomputes_a_released_output(f: Activation) -> None:
    a, gy = np.array([0.3, -1.2, 2.0]), np.array([1.0, -2.0, 0.5])
    expected = _grad_of(f, a, gy)
    x = Variable(a.copy())
    y = f(x)
    creator = y.creator
    assert creator is not None
    del y
    gc.collect()
    assert creator.outputs[0]() is None
    gx = creator.backward(Variable(gy.copy()))
    assert isinstance(gx, Variable)
    np.testing.assert_allclose(gx.data, expected, rtol=1e-14)
    assert gx.creator is not None  # still a graph node: differentiable again


def test_softmax_axis_errors() -> None:
    with pytest.raises(DezeroValueError, match="softmax: axis 1 is out of range for an array of ndim 1"):
        softmax(np.ones(3))
    with pytest.raises(DezeroValueError, match="log_softmax: axis -3 is out of range for an array of ndim 2"):
        log_softmax(np.ones((2, 3)), -3)
    with pytest.raises(DezeroValueError, match="softmax: axis 0 is out of range for an array of ndim 0"):
        softmax(np.array(1.0), 0)
    with pytest.raises(ShapeError, match=r"softmax: axis 1 of shape \(2, 0\) is empty"):
        softmax(np.ones((2, 0)))
    with pytest.raises(ShapeError, match=r"log_softmax: axis -1 of shape \(3, 0\) is empty"):
        log_softmax(np.ones((3, 0)), -1)
    assert softmax(np.ones((0, 2))).shape == (0, 2)  # an empty batch is fine


@pytest.mark.parametrize("slope", [float("nan"), float("inf"), -float("inf")])
def test_leaky_relu_rejects_non_finite_slope(slope: float) -> None:
    with pytest.raises(DezeroValueError, match="leaky_relu: slope must be a finite number"):
        leaky_relu(np.ones(2), slope)


def test_leaky_relu_accepts_an_int_slope() -> None:
    np.testing.assert_array_equal(leaky_relu(np.array([-2.0, 1.0]), 1).data, [-2.0, 1.0])
