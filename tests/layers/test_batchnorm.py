"""BatchNorm layer: running statistics are state, values against NumPy, lazy and eager creation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import typed_dezero.layers as L
from typed_dezero import Arr, DezeroValueError, ShapeError, test_mode
from typed_dezero.layers import UninitializedParameterError
from typed_dezero.utils import gradient_check

from .helpers import check_param_grads

EPS = 2e-5


def _numpy_train(x: Arr, gamma: Arr, beta: Arr) -> tuple[Arr, Arr, Arr]:
    """Output, batch mean and unbiased batch variance per channel (axis 1)."""
    axes = (0, *range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes)
    var = x.var(axis=axes)
    m = x.size // x.shape[1]
    y = gamma.reshape(shape) * (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS) + beta.reshape(
        shape
    )
    return y, mu, var * m / (m - 1)


def test_running_statistics_are_state_not_parameters() -> None:
    bn = L.BatchNorm()
    assert bn.uninitialized() == ["gamma", "beta", "avg_mean", "avg_var"]
    with pytest.raises(
        UninitializedParameterError, match="state 'avg_mean' is created at the layer's first call"
    ):
        bn.state("avg_mean")
    bn(np.arange(12.0).reshape(4, 3))
    assert [k for k, _ in bn.named_params()] == ["gamma", "beta"]
    assert list(bn.state_dict()) == ["gamma", "beta", "avg_mean", "avg_var"]
    assert all(p.dtype == np.float64 for p in bn.params())
    assert bn.state("avg_mean").dtype == np.float64


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 2, 2)])
def test_training_normalises_with_batch_statistics_and_updates_the_running_ones(
    shape: tuple[int, ...],
) -> None:
    rng = np.random.default_rng(0)
    bn = L.BatchNorm(momentum=0.8)
    x = rng.standard_normal(shape) * 3.0 + 1.0
    y = bn(x)
    c = shape[1]
    expected, mu, var = _numpy_train(x, np.ones(c), np.zeros(c))
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.state("avg_mean"), 0.2 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.state("avg_var"), 0.8 * np.ones(c) + 0.2 * var, rtol=1e-12)


def test_test_mode_uses_running_statistics_and_keeps_them() -> None:
    bn = L.BatchNorm(channels=2)
    bn.set_state("avg_mean", np.array([1.0, -2.0]))
    bn.set_state("avg_var", np.array([4.0, 0.25]))
    bn.gamma.data = np.array([2.0, 1.0])
    bn.beta.data = np.array([0.0, 3.0])
    x = np.array([[3.0, -2.0], [1.0, -1.5]])
    with test_mode():
        y = bn(x)
    expected = np.array([2.0, 1.0]) * (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + EPS) + [0.0, 3.0]
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.state("avg_mean"), [1.0, -2.0])


def test_channels_creates_everything_at_construction() -> None:
    bn = L.BatchNorm(channels=3)
    assert bn.uninitialized() == []
    np.testing.assert_array_equal(bn.gamma.data, np.ones(3))
    np.testing.assert_array_equal(bn.beta.data, np.zeros(3))
    np.testing.assert_array_equal(bn.state("avg_mean"), np.zeros(3))
    np.testing.assert_array_equal(bn.state("avg_var"), np.ones(3))
    with pytest.raises(ShapeError, match=r"gamma must have shape \(C,\) = \(4,\)"):
        bn(np.ones((2, 4)))


def test_gradients_match_central_differences() -> None:
    rng = np.random.default_rng(1)
    bn = L.BatchNorm(channels=2)
    bn.gamma.data = np.array([1.5, -0.5])
    bn.beta.data = np.array([0.1, 0.2])
    x = rng.standard_normal((3, 2, 2, 2))
    assert gradient_check(lambda v: bn(v), x)
    weights = rng.uniform(0.5, 1.5, size=x.shape)
    check_param_grads(bn, lambda: (bn(x) * weights).sum())
    with test_mode():
        assert gradient_check(lambda v: bn(v), x)
        check_param_grads(bn, lambda: (bn(x) * weights).sum())


def test_weights_round_trip_into_a_fresh_lazy_layer(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    bn = L.BatchNorm()
    for _ in range(3):
        bn(rng.standard_normal((5, 3)))
    bn.gamma.data = np.array([1.0, 2.0, 3.0])
    bn.save_weights(tmp_path / "bn.npz")
    fresh = L.BatchNorm()
    fresh.load_weights(tmp_path / "bn.npz")
    assert fresh.uninitialized() == []
    for key, value in bn.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[key], value, err_msg=key)
    x = rng.standard_normal((4, 3))
    with test_mode():
        np.testing.assert_array_equal(fresh(x).data, bn(x).data)
    # Loading again replaces the state arrays (never writes into them: one may be read-only).
    mean = fresh.state("avg_mean")
    mean.flags.writeable = False
    fresh.load_weights(tmp_path / "bn.npz")
    assert fresh.state("avg_mean") is not mean
    np.testing.assert_array_equal(fresh.state("avg_mean"), bn.state("avg_mean"))


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: L.BatchNorm(momentum=1.5), r"BatchNorm: momentum must be in \[0, 1\], got 1.5"),
        (lambda: L.BatchNorm(momentum=-0.1), r"BatchNorm: momentum must be in \[0, 1\], got -0.1"),
        (lambda: L.BatchNorm(eps=0.0), "BatchNorm: eps must be a finite number > 0, got 0.0"),
        (lambda: L.BatchNorm(eps=float("inf")), "BatchNorm: eps must be a finite number > 0, got inf"),
        (lambda: L.BatchNorm(channels=0), "BatchNorm: channels must be a positive int, got 0"),
    ],
)
def test_bad_arguments(make: Callable[[], object], pattern: str) -> None:
    with pytest.raises(DezeroValueError, match=pattern):
        make()


def test_wrong_input_ndim() -> None:
    bn = L.BatchNorm()
    with pytest.raises(
        ShapeError, match=r"BatchNorm: expected a \(N, C\) or \(N, C, H, W\) input, got shape \(2, 3, 4\)"
    ):
        bn(np.ones((2, 3, 4)))
    assert bn.uninitialized() == ["gamma", "beta", "avg_mean", "avg_var"]


def test_avg_mean_and_avg_var_are_dezero_names_for_the_running_stats() -> None:
    bn = L.BatchNorm()
    with pytest.raises(UninitializedParameterError, match=r"avg_mean is created at the layer.s first call"):
        _ = bn.avg_mean
    rng = np.random.default_rng(0)
    for _ in range(3):
        bn(rng.standard_normal((4, 2)))
    np.testing.assert_array_equal(bn.avg_mean.data, bn.state("avg_mean"))
    np.testing.assert_array_equal(bn.avg_var.data, bn.state("avg_var"))
    assert bn.avg_mean.name == "avg_mean"
    assert bn.avg_var.name == "avg_var"
    assert not np.array_equal(bn.avg_var.data, np.ones(2))
