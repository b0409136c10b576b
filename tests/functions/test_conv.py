"""Convolution family: values against naive loops, adjointness, max-pooling gradients and ties,
double backprop through the kernel gradient, and the error messages."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.functions.cases_conv import (
    Window,
    col2im_cases,
    conv_cases,
    deconv_cases,
    im2col_cases,
    image_shapes,
    out_size,
    pooling_cases,
    windows,
)
from tests.functions.registry import Drawn
from tests.strategies import arrays
from typed_dezero import Arr, DezeroTypeError, DezeroValueError, ShapeError, Variable
from typed_dezero.functions import _recycling as recycling
from typed_dezero.functions import conv as conv_module
from typed_dezero.functions.conv import (
    AveragePooling,
    AveragePooling2DGrad,
    Col2im,
    Conv2d,
    Conv2DGradW,
    Conv2dNoBias,
    Deconv2d,
    Im2col,
    Pooling,
    Pooling2DGrad,
    Pooling2DWithIndexes,
    average_pooling,
    col2im,
    conv2d,
    deconv2d,
    im2col,
    pooling,
    pooling_simple,
)
from typed_dezero.functions.math import square
from typed_dezero.functions.reduction import sum as fsum
from typed_dezero.utils import gradient_check

Pair = tuple[int, int]


def _pair(v: int | Pair) -> Pair:
    return (v, v) if isinstance(v, int) else v


def _grad(x: Variable) -> Arr:
    assert x.grad is not None
    return x.grad.data


def _pad(x: Arr, pad: Pair, value: float = 0.0) -> Arr:
    ph, pw = pad
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


# Naive references: one output (or input) element at a time.


def naive_conv2d(x: Arr, W: Arr, b: Arr | None, stride: Pair, pad: Pair) -> Arr:
    n_, _, h, w = x.shape
    oc, _, kh, kw = W.shape
    (sh, sw), xp = stride, _pad(x, pad)
    oh, ow = out_size(h, kh, sh, pad[0]), out_size(w, kw, sw, pad[1])
    y = np.zeros((n_, oc, oh, ow))
    for n in range(n_):
        for o in range(oc):
            for i in range(oh):
                for j in range(ow):
                    patch = xp[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    y[n, o, i, j] = np.sum(patch * W[o]) + (0.0 if b is None else b[o])
    return y


def naive_deconv2d(x: Arr, W: Arr, b: Arr | None, stride: Pair, pad: Pair, *, outsize: Pair | None) -> Arr:
    n_, ci_, h, w = x.shape
    _, co, kh, kw = W.shape
    (sh, sw), (ph, pw) = stride, pad
    oh, ow = outsize if outsize is not None else (sh * (h - 1) + kh - 2 * ph, sw * (w - 1) + kw - 2 * pw)
    full = np.zeros((n_, co, max(oh + 2 * ph, sh * (h - 1) + kh), max(ow + 2 * pw, sw * (w - 1) + kw)))
    for n in range(n_):
        for ci in range(ci_):
            for i in range(h):
                for j in range(w):
                    full[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw] += x[n, ci, i, j] * W[ci]
    y = full[:, :, ph : ph + oh, pw : pw + ow]
    return y + (0.0 if b is None else b.reshape(1, -1, 1, 1))


def naive_windows(x: Arr, kernel: Pair, stride: Pair, pad: Pair, fill: float) -> Arr:
    """All windows, (N, C, OH, OW, KH, KW), of `x` padded with `fill`."""
    n_, c_, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = out_size(h, kh, sh, pad[0]), out_size(w, kw, sw, pad[1])
    xp = _pad(x, pad, fill)
    out = np.zeros((n_, c_, oh, ow, kh, kw))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = xp[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
    return out


def naive_max_pool_grad(x: Arr, gy: Arr, kernel: Pair, stride: Pair, pad: Pair) -> Arr:
    """Each gy element added to the first maximum of its window (which must be a real pixel)."""
    n_, c_, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    xp = _pad(x, pad, -np.inf)
    gxp = np.zeros(xp.shape)
    for n in range(n_):
        for c in range(c_):
            for i in range(gy.shape[2]):
                for j in range(gy.shape[3]):
                    win = xp[n, c, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    k, m = np.unravel_index(int(np.argmax(win)), win.shape)
                    r, s = i * sh + int(k), j * sw + int(m)
                    assert ph <= r < ph + h, "the padding won a window"
                    assert pw <= s < pw + w, "the padding won a window"
                    gxp[n, c, r, s] += gy[n, c, i, j]
    return gxp[:, :, ph : ph + h, pw : pw + w]


def naive_im2col(x: Arr, kernel: Pair, stride: Pair, pad: Pair, to_matrix: bool) -> Arr:
    n_, c_, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = out_size(h, kh, sh, pad[0]), out_size(w, kw, sw, pad[1])
    xp = _pad(x, pad)
    col = np.zeros((n_, c_, kh, kw, oh, ow))
    for k in range(kh):
        for m in range(kw):
            for i in range(oh):
                for j in range(ow):
                    col[:, :, k, m, i, j] = xp[:, :, i * sh + k, j * sw + m]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n_ * oh * ow, -1) if to_matrix else col


def naive_col2im(
    col: Arr, shape: tuple[int, ...], kernel: Pair, stride: Pair, pad: Pair, *, to_matrix: bool
) -> Arr:
    n_, c_, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    if to_matrix:
        col = col.reshape(n_, oh, ow, c_, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n_, c_, h + 2 * ph, w + 2 * pw))
    for k in range(kh):
        for m in range(kw):
            for i in range(oh):
                for j in range(ow):
                    img[:, :, i * sh + k, j * sw + m] += col[:, :, k, m, i, j]
    return img[:, :, ph : ph + h, pw : pw + w]


def _kw(d: Drawn) -> dict[str, Any]:
    return dict(d.kwargs)


@given(d=conv_cases())
def test_conv2d_matches_naive_loops(d: Drawn) -> None:
    kw = _kw(d)
    x, W = d.arrays[0], d.arrays[1]
    b = d.arrays[2] if len(d.arrays) == 3 else None
    expected = naive_conv2d(x, W, b, _pair(kw["stride"]), _pair(kw["pad"]))
    y = conv2d(x, W, b, kw["stride"], kw["pad"])
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


@given(d=deconv_cases())
def test_deconv2d_matches_naive_loops(d: Drawn) -> None:
    kw = _kw(d)
    x, W = d.arrays[0], d.arrays[1]
    b = d.arrays[2] if len(d.arrays) == 3 else None
    outsize = kw["outsize"]
    expected = naive_deconv2d(x, W, b, _pair(kw["stride"]), _pair(kw["pad"]), outsize=outsize)
    y = deconv2d(x, W, b, kw["stride"], kw["pad"], outsize)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)


@given(d=conv_cases(with_bias=False), data=st.data())
def test_deconv2d_is_the_adjoint_of_conv2d(d: Drawn, data: st.DataObject) -> None:
    x, W = d.arrays
    kw = _kw(d)
    y = conv2d(x, W, stride=kw["stride"], pad=kw["pad"])
    r = data.draw(arrays(y.shape))
    back = deconv2d(r, W, stride=kw["stride"], pad=kw["pad"], outsize=(x.shape[2], x.shape[3]))
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y.data * r), np.sum(x * back.data), rtol=1e-10, atol=1e-10)


@given(d=pooling_cases(), data=st.data())
def test_pooling_values_and_gradient_match_naive_loops(d: Drawn, data: st.DataObject) -> None:
    kw = _kw(d)
    kernel, stride, pad = _pair(kw["kernel_size"]), _pair(kw["stride"]), _pair(kw["pad"])
    # small integers: many ties, which must go to the first maximum of each window
    x = data.draw(arrays(d.arrays[0].shape).map(np.round))
    y = pooling(Variable(x), **kw)
    np.testing.assert_array_equal(y.data, naive_windows(x, kernel, stride, pad, -np.inf).max(axis=(4, 5)))
    gy = data.draw(arrays(y.shape))
    for create_graph in (False, True):
        xv = Variable(x)
        out = pooling(xv, **kw)
        out.grad = Variable(gy)
        out.backward(create_graph=create_graph)
        np.testing.assert_allclose(_grad(xv), naive_max_pool_grad(x, gy, kernel, stride, pad), atol=1e-12)


@given(d=pooling_cases(max_pool=False))
def test_average_pooling_matches_naive_loops(d: Drawn) -> None:
    kw = _kw(d)
    kernel, stride, pad = _pair(kw["kernel_size"]), _pair(kw["stride"]), _pair(kw["pad"])
    x = d.arrays[0]
    expected = naive_windows(x, kernel, stride, pad, 0.0).sum(axis=(4, 5)) / (kernel[0] * kernel[1])
    np.testing.assert_allclose(average_pooling(x, **kw).data, expected, rtol=1e-12, atol=1e-12)


def test_average_pooling_counts_padding_and_allows_large_pads() -> None:
    x = np.ones((1, 1, 2, 2))
    y = average_pooling(x, 2, stride=2, pad=2)  # the corner windows hold padding only
    np.testing.assert_allclose(y.data[0, 0], [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    y = average_pooling(x, 2, pad=1)
    np.testing.assert_allclose(y.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@given(d=im2col_cases())
def test_im2col_matches_naive_loops(d: Drawn) -> None:
    kw = _kw(d)
    x = d.arrays[0]
    expected = naive_im2col(
        x, _pair(kw["kernel_size"]), _pair(kw["stride"]), _pair(kw["pad"]), kw["to_matrix"]
    )
    np.testing.assert_array_equal(im2col(x, **kw).data, expected)


@given(d=col2im_cases())
def test_col2im_matches_naive_loops(d: Drawn) -> None:
    kw = _kw(d)
    col = d.arrays[0]
    expected = naive_col2im(
        col,
        kw["input_shape"],
        _pair(kw["kernel_size"]),
        _pair(kw["stride"]),
        _pair(kw["pad"]),
        to_matrix=kw["to_matrix"],
    )
    np.testing.assert_allclose(col2im(col, **kw).data, expected, rtol=1e-12, atol=1e-12)


@given(d=col2im_cases(), data=st.data())
def test_im2col_and_col2im_are_adjoint(d: Drawn, data: st.DataObject) -> None:
    kw = _kw(d)
    y = d.arrays[0]
    shape = kw.pop("input_shape")
    x = data.draw(arrays(shape))
    lhs = np.sum(im2col(x, **kw).data * y)
    rhs = np.sum(x * col2im(y, shape, **kw).data)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


@given(win=windows(pad_below_kernel=True), data=st.data())
def test_padding_never_wins_a_max(win: Window, data: st.DataObject) -> None:
    shape = data.draw(image_shapes(win))
    x = data.draw(arrays(shape, -3.0, -0.5))  # every pixel is below the zero padding
    xv = Variable(x)
    y = pooling(xv, win.kernel_arg, win.stride_arg, win.pad_arg)
    assert np.all(y.data < 0)
    np.testing.assert_array_equal(
        y.data, naive_windows(x, win.kernel, win.stride, win.pad, -np.inf).max(axis=(4, 5))
    )
    fsum(y).backward()
    # the whole gradient lands on pixels: none of it is lost to the padding
    np.testing.assert_allclose(np.sum(_grad(xv)), y.size)


def test_pooling_ties_send_the_gradient_to_the_first_maximum_only() -> None:
    x = Variable(np.zeros((1, 1, 3, 3)))
    y = pooling(x, 2, stride=1)
    fsum(y).backward()
    # windows start at (0,0), (0,1), (1,0), (1,1); each picks its top-left element
    np.testing.assert_array_equal(_grad(x)[0, 0], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_pooling_defaults_to_stride_one() -> None:
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert pooling(x, 2).shape == (1, 1, 3, 3)
    assert pooling(x, 2, 2).shape == (1, 1, 2, 2)


def test_overlapping_pooling_accumulates_gradient_of_shared_winners() -> None:
    x = Variable(np.array([[[[0.0, 5.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]))
    fsum(pooling(x, 2, stride=1)).backward()
    expected = np.zeros((3, 3))
    expected[0, 1] = 2.0  # the 5 wins both top windows
    expected[1, 0], expected[1, 1] = 1.0, 1.0  # bottom windows tie on zeros: first element
    np.testing.assert_array_equal(_grad(x)[0, 0], expected)


@given(d=conv_cases(with_bias=False), data=st.data())
def test_kernel_gradient_is_differentiable_in_x(d: Drawn, data: st.DataObject) -> None:
    """DeZero's Conv2DGradW treated x as a constant, so d(gW)/dx was lost in double backprop."""
    x, W = d.arrays
    kw = _kw(d)
    r = data.draw(arrays(conv2d(x, W, **kw).shape))

    def weight_grad(xv: Variable) -> Variable:
        wv = Variable(W.copy())
        (conv2d(xv, wv, **kw) * r).sum().backward(create_graph=True)
        xv.cleargrad()  # only the path through the kernel gradient is checked
        assert wv.grad is not None
        return wv.grad

    result = gradient_check(weight_grad, x)
    assert result, str(result)


def test_conv2d_grad_w_function_backward_matches_conv_and_deconv() -> None:
    rng = np.random.default_rng(1)
    x, gy = Variable(rng.normal(size=(2, 3, 5, 4))), Variable(rng.normal(size=(2, 4, 3, 3)))
    gW = Conv2DGradW((3, 2), stride=(1, 2), pad=(0, 1))(x, gy)
    assert gW.shape == (4, 3, 3, 2)
    ggW = rng.normal(size=gW.shape)
    gW.grad = Variable(ggW)
    gW.backward(create_graph=True)
    np.testing.assert_allclose(
        _grad(x), deconv2d(gy.data, ggW, stride=(1, 2), pad=(0, 1), outsize=(5, 4)).data, atol=1e-12
    )
    np.testing.assert_allclose(_grad(gy), conv2d(x.data, ggW, stride=(1, 2), pad=(0, 1)).data, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "pad"), [(2, 2, 0), ((3, 2), (1, 2), (1, 0)), (2, 1, 1)])
def test_gradient_functions_are_differentiable(
    kernel: int | Pair, stride: int | Pair, pad: int | Pair
) -> None:
    """Pooling2DGrad, Pooling2DWithIndexes, AveragePooling2DGrad and Conv2DGradW checked on their
    own to second order: their backward (graph) and backward_data (arrays) both get used."""
    rng = np.random.default_rng(4)
    x = rng.permutation(np.linspace(-2.0, 2.0, 2 * 3 * 5 * 6)).reshape(2, 3, 5, 6)
    pool = Pooling(kernel, stride, pad)
    y = pool(x)
    idx, g = pool.indexes, pool.geometry
    gy, v = rng.normal(size=y.shape), rng.normal(size=x.shape)
    scatter = Pooling2DGrad(idx, x.shape, g)(gy)
    gather = Pooling2DWithIndexes(idx, g)(v)
    np.testing.assert_allclose(np.sum(scatter.data * v), np.sum(gy * gather.data), rtol=1e-12)
    checks: list[tuple[Callable[[Variable], Variable], Arr]] = [
        (lambda a: square(Pooling2DGrad(idx, x.shape, g)(a)), gy),
        (lambda a: square(Pooling2DWithIndexes(idx, g)(a)), v),
        (lambda a: square(AveragePooling2DGrad(x.shape, g)(a)), gy),
    ]
    for fn, arg in checks:
        result = gradient_check(fn, arg, order=2)
        assert result, str(result)
    result = gradient_check(lambda a, b: square(Conv2DGradW(kernel, stride, pad)(a, b)), x, gy, order=2)
    assert result, str(result)


def test_function_classes_can_be_called_directly() -> None:
    rng = np.random.default_rng(2)
    x, W, b = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(3, 2, 2, 2)), rng.normal(size=3)
    np.testing.assert_array_equal(Conv2d(1, 1)(x, W, b).data, conv2d(x, W, b, 1, 1).data)
    np.testing.assert_array_equal(Conv2dNoBias(2)(x, W).data, conv2d(x, W, stride=2).data)
    Wd = rng.normal(size=(2, 3, 2, 2))
    np.testing.assert_array_equal(Deconv2d(2, 0, 9)(x, Wd, b).data, deconv2d(x, Wd, b, 2, 0, 9).data)
    np.testing.assert_array_equal(Pooling(2, 2)(x).data, pooling(x, 2, 2).data)
    np.testing.assert_array_equal(AveragePooling(2)(x).data, average_pooling(x, 2).data)
    np.testing.assert_array_equal(Im2col(2)(x).data, im2col(x, 2).data)
    col = im2col(x, 2, to_matrix=False).data
    np.testing.assert_array_equal(
        Col2im(x.shape, 2, to_matrix=False)(col).data, col2im(col, x.shape, 2, 1, 0, False).data
    )


def test_non_contiguous_inputs_and_empty_batches() -> None:
    rng = np.random.default_rng(3)
    x = np.asfortranarray(rng.normal(size=(2, 3, 5, 5)))[:, :, ::-1]
    W = rng.normal(size=(5, 5, 3, 2)).transpose(0, 1, 3, 2)[:4, :3]
    np.testing.assert_allclose(conv2d(x, W, pad=1).data, naive_conv2d(x, W, None, (1, 1), (1, 1)), atol=1e-12)
    empty = Variable(np.zeros((0, 3, 5, 5)))
    wv = Variable(W.copy())
    y = conv2d(empty, wv, pad=1)
    assert y.shape == (0, 4, 6, 5)
    fsum(pooling(y, 2, 2)).backward()
    np.testing.assert_array_equal(_grad(wv), np.zeros(W.shape))
    assert _grad(empty).shape == (0, 3, 5, 5)
    assert conv2d(x, np.zeros((0, 3, 2, 2)), np.zeros(0)).shape == (2, 0, 4, 4)
    assert deconv2d(x, np.zeros((3, 0, 2, 2)), np.zeros(0)).shape == (2, 0, 6, 6)


X = np.zeros((1, 2, 5, 5))
W3 = np.zeros((4, 2, 3, 3))


def test_conv2d_shape_errors() -> None:
    with pytest.raises(ShapeError, match=r"conv2d: x must be 4-D \(N, C, H, W\); got x.shape=\(2, 5, 5\)"):
        conv2d(np.zeros((2, 5, 5)), W3)
    with pytest.raises(ShapeError, match=r"conv2d: W must be 4-D \(OC, C, KH, KW\); got W.shape=\(4, 2, 3\)"):
        conv2d(X, np.zeros((4, 2, 3)))
    with pytest.raises(
        ShapeError,
        match=r"conv2d: x must have C=3 channels to match W.shape\[1\]; got x.shape=\(1, 2, 5, 5\), "
        r"W.shape=\(4, 3, 3, 3\)",
    ):
        conv2d(X, np.zeros((4, 3, 3, 3)))
    with pytest.raises(ShapeError, match=r"conv2d: b must have shape \(OC,\) = \(4,\); got b.shape=\(3,\)"):
        conv2d(X, W3, np.zeros(3))
    with pytest.raises(
        ShapeError, match=r"conv2d: W must have a kernel of at least 1x1; got W.shape=\(4, 2, 0, 3\)"
    ):
        conv2d(X, np.zeros((4, 2, 0, 3)))
    with pytest.raises(
        ShapeError, match=r"conv2d: a 6x3 kernel with pad \(0, 0\) does not fit an image of spatial size 5x5"
    ):
        conv2d(X, np.zeros((4, 2, 6, 3)))


def test_geometry_argument_errors() -> None:
    with pytest.raises(DezeroValueError, match=r"conv2d: stride must be >= 1, got stride=\(1, 0\)"):
        conv2d(X, W3, stride=(1, 0))
    with pytest.raises(DezeroValueError, match=r"conv2d: pad must be >= 0, got pad=-1"):
        conv2d(X, W3, pad=-1)
    with pytest.raises(DezeroTypeError, match=r"conv2d: stride must be an int or a pair of ints, got True"):
        conv2d(X, W3, stride=True)
    with pytest.raises(DezeroValueError, match=r"pooling: kernel_size must be >= 1, got kernel_size=0"):
        pooling(X, 0)
    with pytest.raises(DezeroValueError, match=r"im2col: stride must be >= 1"):
        im2col(X, 2, stride=0)
    with pytest.raises(DezeroValueError, match=r"deconv2d: outsize must be >= 1, got outsize=\(0, 3\)"):
        deconv2d(X, np.zeros((2, 1, 2, 2)), outsize=(0, 3))


def test_deconv2d_errors() -> None:
    w = np.zeros((2, 3, 3, 3))
    with pytest.raises(ShapeError, match=r"deconv2d: x must be 4-D \(N, C_in, H, W\)"):
        deconv2d(np.zeros((2, 5, 5)), w)
    with pytest.raises(ShapeError, match=r"deconv2d: W must be 4-D \(C_in, C_out, KH, KW\)"):
        deconv2d(X, np.zeros((2, 3, 3)))
    with pytest.raises(
        ShapeError,
        match=r"deconv2d: x must have C_in=3 channels to match W.shape\[0\]; got x.shape=\(1, 2, 5, 5\)",
    ):
        deconv2d(X, np.zeros((3, 2, 3, 3)))
    with pytest.raises(ShapeError, match=r"deconv2d: W must have a kernel of at least 1x1"):
        deconv2d(X, np.zeros((2, 3, 3, 0)))
    with pytest.raises(
        ShapeError, match=r"deconv2d: b must have shape \(C_out,\) = \(3,\); got b.shape=\(2,\)"
    ):
        deconv2d(X, w, np.zeros(2))
    with pytest.raises(ShapeError, match=r"deconv2d: the output size stride\*\(H-1\)\+K-2\*pad must be >= 1"):
        deconv2d(np.zeros((1, 2, 1, 1)), np.zeros((2, 3, 1, 1)), pad=1)
    # stride 2, kernel 2, pad 1, H = 1: the default size 0 is empty, but outsize 1 convolves back to 1
    x1, w2 = np.zeros((1, 2, 1, 1)), np.zeros((2, 3, 2, 2))
    with pytest.raises(ShapeError, match=r"the output size .* \(or, with outsize, up to stride-1 less\)"):
        deconv2d(x1, w2, stride=2, pad=1)
    assert deconv2d(x1, w2, stride=2, pad=1, outsize=1).shape == (1, 3, 1, 1)
    with pytest.raises(ShapeError, match=r"the height must be in \[1, 1\]"):
        deconv2d(x1, w2, stride=2, pad=1, outsize=2)
    with pytest.raises(ShapeError, match=r"deconv2d: the output size"):
        deconv2d(np.zeros((1, 2, 0, 3)), np.zeros((2, 3, 2, 2)), outsize=(1, 4))
    # stride 2, kernel 3, pad 1, H = 5: the sizes that convolve back to 5 are 9 and 10
    assert deconv2d(X, w, stride=2, pad=1, outsize=(9, 10)).shape == (1, 3, 9, 10)
    with pytest.raises(
        ShapeError,
        match=r"deconv2d: outsize=\(11, 9\) is inconsistent with the input size: the height must be in "
        r"\[9, 10\] and the width in \[9, 10\]; got x.shape=\(1, 2, 5, 5\)",
    ):
        deconv2d(X, w, stride=2, pad=1, outsize=(11, 9))
    with pytest.raises(ShapeError, match=r"outsize=\(9, 8\) is inconsistent"):
        deconv2d(X, w, stride=2, pad=1, outsize=(9, 8))


def test_pooling_errors() -> None:
    with pytest.raises(
        DezeroValueError,
        match=r"pooling: pad must be smaller than kernel_size, so that every window covers part of the "
        r"input; got kernel_size=\(3, 2\), pad=\(1, 2\)",
    ):
        pooling(X, (3, 2), pad=(1, 2))
    with pytest.raises(ShapeError, match=r"pooling: x must be 4-D \(N, C, H, W\); got x.shape=\(5, 5\)"):
        pooling(np.zeros((5, 5)), 2)
    with pytest.raises(ShapeError, match=r"pooling: a 6x6 kernel with pad \(0, 0\) does not fit an image"):
        pooling(X, 6)
    with pytest.raises(ShapeError, match=r"average_pooling: x must be 4-D"):
        average_pooling(np.zeros((5, 5)), 2)
    with pytest.raises(ShapeError, match=r"average_pooling: a 2x7 kernel with pad \(0, 0\) does not fit"):
        average_pooling(X, (2, 7))


def test_im2col_col2im_errors() -> None:
    with pytest.raises(ShapeError, match=r"im2col: x must be 4-D"):
        im2col(np.zeros((2, 5, 5)), 2)
    with pytest.raises(
        ShapeError, match=r"im2col: a 3x3 kernel with pad \(0, 0\) does not fit an image of spatial size 2x5"
    ):
        im2col(np.zeros((1, 1, 2, 5)), 3)
    with pytest.raises(
        ShapeError, match=r"col2im: input_shape must be 4-D \(N, C, H, W\); got input_shape=\(2, 5, 5\)"
    ):
        col2im(np.zeros((16, 2)), (2, 5, 5), 2)
    with pytest.raises(ShapeError, match=r"col2im: shape must not have negative sizes"):
        col2im(np.zeros((16, 2)), (1, -2, 5, 5), 2)
    with pytest.raises(
        ShapeError,
        match=r"col2im: x must have shape \(16, 8\) for input_shape=\(1, 2, 5, 5\), kernel \(2, 2\), "
        r"stride \(1, 1\), pad \(0, 0\) and to_matrix=True; got x.shape=\(16, 2\)",
    ):
        col2im(np.zeros((16, 2)), X.shape, 2)
    with pytest.raises(ShapeError, match=r"col2im: x must have shape \(1, 2, 2, 2, 4, 4\) .*to_matrix=False"):
        col2im(np.zeros((16, 8)), X.shape, 2, to_matrix=False)
    with pytest.raises(ShapeError, match=r"col2im: a 9x9 kernel with pad \(0, 0\) does not fit"):
        col2im(np.zeros((16, 8)), X.shape, 9)


def test_conv2d_grad_w_checks_the_gradient_shape() -> None:
    with pytest.raises(
        ShapeError,
        match=r"conv2d_grad_w: gy must have shape \(N, OC, OH, OW\) = \(1, OC, 3, 3\) for "
        r"x.shape=\(1, 2, 5, 5\), kernel \(3, 3\), stride \(1, 1\), pad \(0, 0\); "
        r"got gy.shape=\(1, 4, 3, 2\)",
    ):
        Conv2DGradW(3)(X, np.zeros((1, 4, 3, 2)))
    with pytest.raises(ShapeError, match=r"conv2d_grad_w: gy must be 4-D \(N, OC, OH, OW\)"):
        Conv2DGradW(3)(X, np.zeros((4, 3, 3)))


# The blocked fast paths: conv2d, deconv2d and the kernel gradient multiply a few images at a time
# (conv_module._CHUNK_BYTES of patches per block); col2im adds into the unpadded image; max
# pooling skips zero-filling when its windows tile the image.


@given(d=conv_cases(), chunk_bytes=st.sampled_from([8, 200, 1000]), data=st.data())
def test_blocked_conv_deconv_and_kernel_gradient_match_naive_loops(
    d: Drawn, chunk_bytes: int, data: st.DataObject
) -> None:
    # Blocks of one or a few images (with a short last block) give the values of one block.
    W = d.arrays[1]
    b = d.arrays[2] if len(d.arrays) == 3 else None
    kw = _kw(d)
    kernel, stride, pad = (W.shape[2], W.shape[3]), _pair(kw["stride"]), _pair(kw["pad"])
    x = np.concatenate([d.arrays[0], d.arrays[0][::-1] * 0.5, d.arrays[0]])  # at least 3 images
    y_expected = naive_conv2d(x, W, b, stride, pad)
    gy = data.draw(arrays(y_expected.shape))
    gx_expected = naive_deconv2d(gy, W, None, stride, pad, outsize=(x.shape[2], x.shape[3]))
    gw_expected = np.einsum("nopq,ncpqij->ocij", gy, naive_windows(x, kernel, stride, pad, 0.0))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_module, "_CHUNK_BYTES", chunk_bytes)
        for create_graph in (False, True):  # the array fast path, and the graph of Functions
            xv, wv = Variable(x), Variable(W)
            y = conv2d(xv, wv, b, **kw)
            np.testing.assert_allclose(y.data, y_expected, rtol=1e-12, atol=1e-12)
            y.grad = Variable(gy)
            y.backward(create_graph=create_graph)
            np.testing.assert_allclose(_grad(xv), gx_expected, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(_grad(wv), gw_expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(Conv2DGradW(kernel, stride, pad)(x, gy).data, gw_expected, atol=1e-12)
        np.testing.assert_allclose(
            deconv2d(gy, W, stride=stride, pad=pad, outsize=(x.shape[2], x.shape[3])).data,
            gx_expected,
            atol=1e-12,
        )


@pytest.mark.parametrize(
    ("h", "k", "s", "p"),
    [
        (4, 3, 1, 1),  # "same": the centre offset covers the image and is copied first
        (5, 3, 2, 1),  # strided: zero-filled, then every offset added
        (1, 2, 3, 1),  # offset 0 only ever reads padding: skipped
        (2, 2, 1, 3),  # a pad larger than the kernel: outputs entirely in the padding
        (3, 1, 1, 0),  # a 1x1 kernel: a plain copy
    ],
)
def test_col2im_without_a_padded_image_matches_naive_loops(h: int, k: int, s: int, p: int) -> None:
    rng = np.random.default_rng(5)
    shape = (2, 3, h, h + 1)
    oh, ow = out_size(h, k, s, p), out_size(h + 1, k, s, p)
    col = rng.normal(size=(2, 3, k, k, oh, ow))
    expected = naive_col2im(col, shape, (k, k), (s, s), (p, p), to_matrix=False)
    np.testing.assert_allclose(col2im(col, shape, k, s, p, to_matrix=False).data, expected, atol=1e-12)
    x = rng.normal(size=(2, 3, oh, ow))
    W = rng.normal(size=(3, 4, k, k))
    np.testing.assert_allclose(
        deconv2d(x, W, stride=s, pad=p, outsize=(h, h + 1)).data,
        naive_deconv2d(x, W, None, (s, s), (p, p), outsize=(h, h + 1)),
        atol=1e-12,
    )


@pytest.mark.parametrize(
    ("shape", "kernel", "stride", "pad"),
    [
        ((2, 3, 4, 6), 2, 2, 0),  # tiles: every pixel in exactly one window
        ((2, 3, 5, 7), 2, 2, 0),  # odd sizes: the last row and column are in no window
        ((2, 3, 4, 4), 2, 2, 1),  # tiles the padded 6x6 image
        ((2, 3, 3, 5), 2, 2, 1),  # padded 5x7: does not tile
        ((1, 2, 6, 4), (3, 2), (3, 2), 0),  # non-square tiles
        ((1, 2, 6, 4), 2, (2, 1), 0),  # overlapping along the width
    ],
)
def test_max_pooling_tiling_and_general_paths_agree_with_loops_on_ties(
    shape: tuple[int, int, int, int], kernel: int | Pair, stride: int | Pair, pad: int
) -> None:
    rng = np.random.default_rng(6)
    for x in (rng.integers(0, 2, size=shape).astype(np.float64), np.zeros(shape), rng.normal(size=shape)):
        xv = Variable(x)
        y = pooling(xv, kernel, stride, pad)
        k, s, p = _pair(kernel), _pair(stride), (pad, pad)
        np.testing.assert_array_equal(y.data, naive_windows(x, k, s, p, -np.inf).max(axis=(4, 5)))
        gy = rng.normal(size=y.shape)
        y.grad = Variable(gy)
        y.backward()
        np.testing.assert_array_equal(_grad(xv), naive_max_pool_grad(x, gy, k, s, p))


@given(
    n=st.integers(1, 2),
    c=st.integers(1, 2),
    oh=st.integers(1, 3),
    ow=st.integers(1, 3),
    k=st.integers(1, 3),
    extra=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    pad=st.integers(0, 1),
    data=st.data(),
)
def test_max_pooling_fast_path_matches_the_composed_pooling(  # noqa: PLR0917 - drawn sizes
    n: int, c: int, oh: int, ow: int, k: int, extra: tuple[int, int], pad: int, data: st.DataObject
) -> None:
    # Windows of stride == kernel over sizes that tile or leave a remainder, with distinct values
    # (no ties), so pooling_simple (im2col + max) is an independent reference for both orders.
    pad = min(pad, k - 1)
    h, w = max(1, oh * k + extra[0] % k - 2 * pad), max(1, ow * k + extra[1] % k - 2 * pad)
    perm = data.draw(st.permutations(list(range(n * c * h * w))))
    x = np.asarray(perm, dtype=np.float64).reshape(n, c, h, w)
    gy_shape = pooling(x, k, k, pad).shape
    gy = data.draw(arrays(gy_shape))
    grads: list[tuple[Arr, Arr]] = []
    for f in (pooling, pooling_simple):
        xv = Variable(x)
        y = f(xv, k, k, pad)
        y.grad = Variable(gy)
        y.backward(create_graph=True)
        grads.append((y.data, _grad(xv)))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1], atol=1e-12)


def test_work_buffers_are_never_visible_in_results_or_saved_state() -> None:
    # conv2d reuses per-thread work buffers (padded images, patch blocks) from call to call; what
    # it returns, and what its gradients return, must be new arrays that a later call leaves alone.
    rng = np.random.default_rng(7)
    x, W = Variable(rng.normal(size=(3, 2, 5, 5))), Variable(rng.normal(size=(4, 2, 3, 3)))
    y = conv2d(x, W, pad=1)
    fsum(square(y)).backward()
    held = [y.data.copy(), _grad(x).copy(), _grad(W).copy()]
    results = [y.data, _grad(x), _grad(W)]
    conv2d(rng.normal(size=(3, 2, 5, 5)), rng.normal(size=(4, 2, 3, 3)), pad=1)  # overwrites them
    for kept, now in zip(held, results, strict=True):
        np.testing.assert_array_equal(now, kept)
    buffers = list(recycling._WORK.flat.values())  # pyright: ignore[reportPrivateUsage]
    assert buffers
    for arr in results:
        assert not any(np.shares_memory(arr, b) for b in buffers)


def test_work_buffers_grow_per_thread_and_large_ones_are_not_kept() -> None:
    rng = np.random.default_rng(8)
    small = rng.normal(size=(1, 1, 4, 4))
    big = rng.normal(size=(2, 3, 9, 9))
    W1, W3 = rng.normal(size=(2, 1, 3, 3)), rng.normal(size=(2, 3, 3, 3))
    expected = {id(small): naive_conv2d(small, W1, None, (1, 1), (1, 1))}
    expected[id(big)] = naive_conv2d(big, W3, None, (1, 1), (1, 1))
    failures: list[str] = []

    def work() -> None:
        for _ in range(20):
            for xi, wi in ((small, W1), (big, W3)):  # the buffers grow, then are reused
                if not np.allclose(conv2d(xi, wi, pad=1).data, expected[id(xi)], atol=1e-12):
                    failures.append(f"conv2d of {xi.shape} was wrong in a thread")

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recycling, "WORK_BUFFER_LIMIT", 64)
        kept = dict(recycling._WORK.flat)  # pyright: ignore[reportPrivateUsage]
        np.testing.assert_allclose(conv2d(big, W3, pad=1).data, expected[id(big)], atol=1e-12)
        now = recycling._WORK.flat  # pyright: ignore[reportPrivateUsage]
        assert now.keys() == kept.keys()
        assert all(now[k] is v for k, v in kept.items())
