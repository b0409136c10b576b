"""Conv2d and Deconv2d layers against NumPy loops, lazy channels, gradients and errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import typed_dezero.layers as L
from typed_dezero import DezeroValueError, ShapeError
from typed_dezero.utils import gradient_check

from .helpers import check_param_grads, numpy_conv, numpy_deconv


def test_conv2d_lazy_channels_and_values(rng: np.random.Generator) -> None:
    conv = L.Conv2d(4, 3, stride=2, pad=1, rng=np.random.default_rng(9))
    assert conv.uninitialized() == ["W"]
    x = rng.standard_normal((2, 3, 5, 6))
    y = conv(x)
    assert conv.W.shape == (4, 3, 3, 3)
    assert y.shape == (2, 4, 3, 3)
    assert conv.b is not None
    conv.b.data = np.array([0.5, -1.0, 0.0, 2.0])
    y = conv(x)
    np.testing.assert_allclose(y.data, numpy_conv(x, conv.W.data, conv.b.data, (2, 2), (1, 1)), rtol=1e-10)
    expected_w = np.random.default_rng(9).standard_normal((4, 3, 3, 3)) * np.sqrt(1.0 / 27)
    np.testing.assert_allclose(conv.W.data, expected_w, rtol=1e-15)
    assert [k for k, _ in conv.named_params()] == ["W", "b"]
    assert all(p.dtype == np.float64 for p in conv.params())


def test_conv2d_explicit_channels_rectangular_kernel_nobias(rng: np.random.Generator) -> None:
    conv = L.Conv2d(2, (2, 3), stride=(1, 2), pad=(1, 0), nobias=True, in_channels=3, rng=rng)
    assert conv.b is None
    assert conv.W.shape == (2, 3, 2, 3)
    x = rng.standard_normal((1, 3, 4, 7))
    np.testing.assert_allclose(conv(x).data, numpy_conv(x, conv.W.data, None, (1, 2), (1, 0)), rtol=1e-10)
    with pytest.raises(ShapeError, match="channels"):
        conv(rng.standard_normal((1, 2, 4, 7)))


def test_deconv2d_values(rng: np.random.Generator) -> None:
    deconv = L.Deconv2d(3, 3, stride=2, pad=1, rng=np.random.default_rng(8))
    x = rng.standard_normal((2, 2, 3, 4))
    y = deconv(x)
    assert deconv.W.shape == (2, 3, 3, 3)
    assert y.shape == (2, 3, 2 * 2 + 3 - 2, 2 * 3 + 3 - 2)
    assert deconv.b is not None
    deconv.b.data = np.array([1.0, 0.0, -1.0])
    np.testing.assert_allclose(
        deconv(x).data, numpy_deconv(x, deconv.W.data, deconv.b.data, 2, 1), rtol=1e-10, atol=1e-12
    )
    expected_w = np.random.default_rng(8).standard_normal((2, 3, 3, 3)) * np.sqrt(1.0 / 18)
    np.testing.assert_allclose(deconv.W.data, expected_w, rtol=1e-15)


def test_deconv2d_explicit_channels_nobias(rng: np.random.Generator) -> None:
    deconv = L.Deconv2d(1, 2, nobias=True, in_channels=2, rng=rng)
    assert deconv.b is None
    assert deconv.W.shape == (2, 1, 2, 2)
    x = rng.standard_normal((1, 2, 3, 3))
    np.testing.assert_allclose(deconv(x).data, numpy_deconv(x, deconv.W.data, None, 1, 0), rtol=1e-10)


@pytest.mark.parametrize("kind", ["Conv2d", "Deconv2d"])
def test_gradients_match_central_differences(kind: str) -> None:
    rng = np.random.default_rng(10)
    layer = (
        L.Conv2d(2, 2, stride=1, pad=1, in_channels=2, rng=rng)
        if kind == "Conv2d"
        else L.Deconv2d(2, 2, stride=2, pad=0, in_channels=2, rng=rng)
    )
    x = rng.standard_normal((1, 2, 3, 3))
    assert gradient_check(lambda v: layer(v), x)
    weights = rng.uniform(0.5, 1.5, size=layer(x).shape)
    check_param_grads(layer, lambda: (layer(x) * weights).sum())


BAD: list[tuple[Callable[[], object], str]] = [
    (lambda: L.Conv2d(0, 3), "Conv2d: out_channels must be a positive int, got 0"),
    (lambda: L.Conv2d(2, 3, in_channels=0), "Conv2d: in_channels must be a positive int, got 0"),
    (lambda: L.Conv2d(2, 0), "Conv2d: kernel_size must be >= 1, got kernel_size=0"),
    (lambda: L.Conv2d(2, (3, 0)), r"Conv2d: kernel_size must be >= 1, got kernel_size=\(3, 0\)"),
    (lambda: L.Conv2d(2, 3, stride=0), "Conv2d: stride must be >= 1, got stride=0"),
    (lambda: L.Conv2d(2, 3, pad=-1), "Conv2d: pad must be >= 0, got pad=-1"),
    (lambda: L.Deconv2d(-1, 3), "Deconv2d: out_channels must be a positive int, got -1"),
    (lambda: L.Deconv2d(2, 3, stride=(1, 0)), r"Deconv2d: stride must be >= 1, got stride=\(1, 0\)"),
    (lambda: L.Deconv2d(2, 3, pad=(-1, 0)), r"Deconv2d: pad must be >= 0, got pad=\(-1, 0\)"),
]


@pytest.mark.parametrize(("make", "pattern"), BAD)
def test_bad_arguments(make: Callable[[], object], pattern: str) -> None:
    with pytest.raises(DezeroValueError, match=pattern):
        make()


@pytest.mark.parametrize("kind", ["Conv2d", "Deconv2d"])
def test_inputs_must_be_images(kind: str) -> None:
    layer = L.Conv2d(2, 3) if kind == "Conv2d" else L.Deconv2d(2, 3)
    with pytest.raises(ShapeError, match=rf"{kind}: expected \(N, C, H, W\) images, got shape \(3, 4\)"):
        layer(np.ones((3, 4)))
    assert layer.uninitialized() == ["W"]
