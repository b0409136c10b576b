"""Shared checks for the layer tests: parameter gradients against central differences, snapshots
of every array of a layer, and NumPy reference convolutions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from typed_dezero import Arr, Variable
from typed_dezero.layers import Layer
from typed_dezero.utils import numerical_grad


def check_param_grads(layer: Layer[Any, Any], loss: Callable[[], Variable], rtol: float = 1e-5) -> None:
    """Backprop gradients of every parameter of `layer` for the scalar `loss()` must match central
    differences of `loss` in that parameter (the numeric side never uses the graph)."""
    layer.cleargrads()
    loss().backward()
    params = list(layer.named_params())
    assert params, "the layer has no parameters to check"
    for name, param in params:
        assert param.grad is not None, f"{name} got no gradient"
        analytic = param.grad.data.copy()
        original = param.data.copy()

        def perturbed(w: Variable, param: Any = param) -> Variable:
            param.data = w.data
            return loss()

        (numeric,) = numerical_grad(perturbed, original)
        param.data = original
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=1e-7, err_msg=name)


def snapshot(layer: Layer[Any, Any]) -> dict[str, tuple[int, Arr]]:
    """Every parameter and state array of an initialised `layer`: (id of the array object, a copy)."""
    out: dict[str, tuple[int, Arr]] = {}
    for key, param in layer.named_params():
        out[key] = (id(param.data), param.data.copy())
    for key, value in layer.state_dict().items():
        if key not in out:
            out["state:" + key] = (0, value)
    return out


def assert_same(before: dict[str, tuple[int, Arr]], after: dict[str, tuple[int, Arr]]) -> None:
    assert before.keys() == after.keys()
    for key, (ident, value) in before.items():
        assert after[key][0] == ident, f"{key}: the array object was replaced"
        np.testing.assert_array_equal(after[key][1], value, err_msg=key)


def numpy_conv(x: Arr, W: Arr, b: Arr | None, stride: tuple[int, int], pad: tuple[int, int]) -> Arr:
    """Cross-correlation of NCHW images with zero padding, one output pixel at a time."""
    n, _, h, w = x.shape
    oc, _, kh, kw = W.shape
    (sh, sw), (ph, pw) = stride, pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, oc, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, W)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def numpy_deconv(x: Arr, W: Arr, b: Arr | None, stride: int, pad: int) -> Arr:
    """Transposed convolution: every input pixel scatters its kernel, then the pad is cropped."""
    n, _, h, w = x.shape
    _, oc, kh, kw = W.shape
    full = np.zeros((n, oc, stride * (h - 1) + kh, stride * (w - 1) + kw))
    for i in range(h):
        for j in range(w):
            full[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], W
            )
    out = full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]
    return out if b is None else out + b.reshape(1, -1, 1, 1)
