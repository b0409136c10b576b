"""Linear: values, lazy and explicit input sizes, initialisation, gradients and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import DezeroTypeError, DezeroValueError, Parameter, ShapeError, Variable
from typed_dezero.layers import UninitializedParameterError
from typed_dezero.layers._init import DTypeArg
from typed_dezero.models import MLP
from typed_dezero.utils import gradient_check

from .helpers import check_param_grads


def test_forward_is_x_at_w_plus_b(rng: np.random.Generator) -> None:
    lin = L.Linear(3, in_size=4, rng=rng)
    lin.b = Parameter(np.array([0.5, -1.0, 2.0]))
    x = rng.standard_normal((5, 4))
    y = lin(x)
    assert isinstance(y, Variable)
    np.testing.assert_allclose(y.data, x @ lin.W.data + np.array([0.5, -1.0, 2.0]), rtol=1e-12)


def test_explicit_in_size_creates_w_at_construction() -> None:
    lin = L.Linear(3, in_size=4, rng=np.random.default_rng(0))
    assert lin.is_initialized("W")
    assert lin.in_size == 4
    assert lin.out_size == 3
    assert lin.W.shape == (4, 3)
    assert lin.b is not None
    assert lin.b.shape == (3,)
    assert [name for name, _ in lin.named_params()] == ["W", "b"]
    assert all(p.dtype == np.float64 for p in lin.params())


def test_lazy_w_is_created_at_the_first_call_from_the_last_axis() -> None:
    lin = L.Linear(2, rng=np.random.default_rng(0))
    assert L.Linear(2).in_size is None
    with pytest.raises(UninitializedParameterError, match=r"Linear\.W is created at the layer's first call"):
        _ = lin.W
    y = lin(np.ones((3, 5)))
    assert y.shape == (3, 2)
    assert lin.W.shape == (5, 2)
    assert lin.in_size == 5
    assert lin.W.dtype == np.float64
    w = lin.W
    lin(np.ones((1, 5)))
    assert lin.W is w  # created once


def test_leading_axes_are_kept() -> None:
    lin = L.Linear(2, rng=np.random.default_rng(0))
    x = np.arange(24.0).reshape(2, 3, 4)
    y = lin(x)
    assert y.shape == (2, 3, 2)
    assert lin.b is not None
    np.testing.assert_allclose(y.data, x @ lin.W.data + lin.b.data, rtol=1e-12)


def test_initial_weights_are_scaled_normal_draws_from_the_given_generator() -> None:
    lin = L.Linear(3, in_size=4, rng=np.random.default_rng(7))
    expected = np.random.default_rng(7).standard_normal((4, 3)) * np.sqrt(1.0 / 4)
    np.testing.assert_allclose(lin.W.data, expected, rtol=1e-15)
    assert lin.b is not None
    np.testing.assert_array_equal(lin.b.data, np.zeros(3))
    big = L.Linear(200, in_size=400, rng=np.random.default_rng(0))
    assert abs(float(np.std(big.W.data)) - np.sqrt(1 / 400)) < 0.002


def test_nobias() -> None:
    lin = L.Linear(3, nobias=True, in_size=2, rng=np.random.default_rng(0))
    assert lin.b is None
    assert [name for name, _ in lin.named_params()] == ["W"]
    x = np.ones((1, 2))
    np.testing.assert_allclose(lin(x).data, x @ lin.W.data, rtol=1e-12)


def test_gradients_match_central_differences(rng: np.random.Generator) -> None:
    lin = L.Linear(3, in_size=4, rng=rng)
    x = rng.standard_normal((2, 4))
    assert gradient_check(lambda v: lin(v), x)
    weights = rng.uniform(0.5, 1.5, size=(2, 3))
    check_param_grads(lin, lambda: (lin(x) * weights).sum())
    lin.cleargrads()
    y = lin(x)
    y.backward()
    assert lin.b is not None
    assert lin.b.grad is not None
    assert lin.W.grad is not None
    np.testing.assert_allclose(lin.W.grad.data, x.T @ np.ones((2, 3)), rtol=1e-12)
    np.testing.assert_allclose(lin.b.grad.data, np.full(3, 2.0), rtol=1e-12)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: L.Linear(0), "Linear: out_size must be a positive int, got 0"),
        (lambda: L.Linear(-3), "Linear: out_size must be a positive int, got -3"),
        (lambda: L.Linear(2, in_size=0), "Linear: in_size must be a positive int, got 0"),
    ],
)
def test_non_positive_sizes_are_rejected(make: Callable[[], object], pattern: str) -> None:
    with pytest.raises(DezeroValueError, match=pattern):
        make()


def test_wrong_inputs_are_shape_errors() -> None:
    with pytest.raises(ShapeError, match="Linear: the input needs a feature axis, got a 0-d input"):
        L.Linear(2)(np.array(1.0))
    lin = L.Linear(2, in_size=3)
    with pytest.raises(ShapeError, match=r"x\.shape\[-1\] must equal W\.shape\[0\].*x\.shape=\(4, 5\)"):
        lin(np.ones((4, 5)))


def _linear(dtype: DTypeArg) -> L.Linear:
    return L.Linear(3, False, dtype, 2)  # DeZero's positional order: out_size, nobias, dtype, in_size


def _conv(dtype: DTypeArg) -> L.Conv2d:
    return L.Conv2d(2, 3, 1, 0, False, dtype, 1)


def _deconv(dtype: DTypeArg) -> L.Deconv2d:
    return L.Deconv2d(2, 3, 1, 0, False, dtype, 1)


MAKERS = [_linear, _conv, _deconv]


@pytest.mark.parametrize("dtype", [None, np.float64, np.dtype(np.float64)])
@pytest.mark.parametrize("make", MAKERS)
def test_dtype_float64_is_accepted_in_dezero_position(
    dtype: DTypeArg, make: Callable[[DTypeArg], L.Linear | L.Conv2d | L.Deconv2d]
) -> None:
    layer = make(dtype)
    assert [p.data.dtype for p in layer.params()] == [np.float64, np.float64]


@pytest.mark.parametrize("dtype", [np.float32, np.dtype(np.float32), np.int64])
@pytest.mark.parametrize("make", MAKERS)
def test_dtype_other_than_float64_is_refused_with_the_fix(
    dtype: DTypeArg, make: Callable[[DTypeArg], L.Linear | L.Conv2d | L.Deconv2d]
) -> None:
    with pytest.raises(
        DezeroTypeError, match=r"typed_dezero is float64 only.*pass dtype=np.float64 or omit it"
    ):
        make(dtype)


@pytest.mark.parametrize("dtype", [None, np.float64, np.dtype(np.float64)])
def test_mlp_takes_dtype_float64(dtype: DTypeArg) -> None:
    model = MLP((3, 2), dtype=dtype, rng=np.random.default_rng(0))
    model(np.ones((1, 4)))
    assert [p.data.dtype for p in model.params()] == [np.float64] * 4


@pytest.mark.parametrize("dtype", [np.float32, np.dtype(np.float16), np.int64])
def test_mlp_refuses_other_dtypes_before_building_layers(dtype: DTypeArg) -> None:
    with pytest.raises(DezeroTypeError, match=r"MLP: typed_dezero is float64 only.*pass dtype=np.float64"):
        MLP((3, 2), dtype=dtype)


@pytest.mark.parametrize(
    "make",
    [
        lambda: L.Linear(2, rng=np.random.default_rng(0)),
        lambda: L.Conv2d(2, 3, pad=1, rng=np.random.default_rng(0)),
        lambda: L.BatchNorm(),
    ],
    ids=["Linear", "Conv2d", "BatchNorm"],
)
def test_a_raw_batch_is_a_constant_whose_gradient_is_not_computed(make: Callable[[], Any]) -> None:
    # As Function.__call__ treats a raw array: nobody can read its gradient, so none is computed
    # (for Conv2d, the transposed convolution and col2im of the input gradient are skipped).
    layer = make()
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4) / 10.0
    y = layer(x.reshape(2, -1) if isinstance(layer, L.Linear) else x)
    F.sum(y * y).backward()
    assert y.creator is not None
    first = y.creator.inputs[0]
    assert not first.requires_grad
    assert first.grad is None
    assert all(p.grad is not None for p in layer.params())
