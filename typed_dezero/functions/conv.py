"""Convolution and pooling of NCHW float64 images: conv2d, deconv2d, max pooling, average pooling,
and the im2col/col2im pair.

Images are (N, C, H, W). `kernel_size`, `stride` and `pad` each take an int or a (height, width)
pair. The work is vectorised over the pixels; only the KH*KW kernel offsets are looped over, and
conv2d and deconv2d also over blocks of a few images (whose patches stay in the cache between
their copy and their matrix product). Every function here can be differentiated any number of
times: the gradients of conv2d and deconv2d are built from conv2d, deconv2d and
:class:`Conv2DGradW` (whose inputs are both the image and the output gradient, so its own
gradient reaches both), and the gradients of the pooling functions, im2col and col2im are again
linear maps of the same family. Each Function also has ``backward_data``, the same first-order
gradient on plain arrays (the engine's fast path).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias, final

import numpy as np
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, IntArr, Shape, is_int, is_tuple, too_large
from typed_dezero.core.function import SKIPPED_GRAD, BinaryFunction, TernaryFunction, UnaryFunction
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError
from typed_dezero.functions._recycling import copied_result, empty_result, work_buffer, zeros_result
from typed_dezero.functions._util import as_f64, check_shape
from typed_dezero.functions.linalg import linear
from typed_dezero.functions.reduction import max as max_
from typed_dezero.functions.reduction import sum as sum_
from typed_dezero.functions.shape import reshape, transpose
from typed_dezero.utils.arrays import pair
from typed_dezero.utils.conv import get_conv_outsize

__all__ = [
    "average_pooling",
    "col2im",
    "conv2d",
    "conv2d_simple",
    "deconv2d",
    "im2col",
    "pooling",
    "pooling_simple",
]

IntPair: TypeAlias = int | tuple[int, int]
"""A size along both spatial axes: one int for both, or a (height, width) pair."""


@dataclass(frozen=True, slots=True)
class _Geometry:
    """Kernel size, stride and zero padding along the two spatial axes (validated)."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    @property
    def kernel(self) -> tuple[int, int]:
        return (self.kh, self.kw)

    @property
    def stride(self) -> tuple[int, int]:
        return (self.sh, self.sw)

    @property
    def pad(self) -> tuple[int, int]:
        return (self.ph, self.pw)

    @property
    def offsets(self) -> list[tuple[int, int]]:
        """The kernel offsets (row, column) in C order: the order of the KH*KW window elements."""
        return [(di, dj) for di in range(self.kh) for dj in range(self.kw)]

    @property
    def overlapping(self) -> bool:
        return self.sh < self.kh or self.sw < self.kw


def _pair_arg(where: str, name: str, value: IntPair, minimum: int) -> tuple[int, int]:
    """`value` as a (height, width) pair of ints >= `minimum`, else a TypeError/ValueError."""
    as_pair: object = pair(value)
    parts = as_pair if is_tuple(as_pair) else ()
    ints = [v for v in parts if is_int(v)]
    if len(parts) != 2 or len(ints) != 2:
        msg = f"{where}: {name} must be an int or a pair of ints, got {value!r}"
        raise DezeroTypeError(msg)
    if ints[0] < minimum or ints[1] < minimum:
        msg = f"{where}: {name} must be >= {minimum}, got {name}={value!r}"
        raise DezeroValueError(msg)
    return ints[0], ints[1]


def _stride_pad(where: str, stride: IntPair, pad: IntPair) -> tuple[tuple[int, int], tuple[int, int]]:
    return _pair_arg(where, "stride", stride, 1), _pair_arg(where, "pad", pad, 0)


def _geometry(kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int]) -> _Geometry:
    return _Geometry(kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[1])


def _window_geometry(
    where: str, kernel_size: IntPair, stride: IntPair, pad: IntPair, *, pad_below_kernel: bool = False
) -> _Geometry:
    kernel = _pair_arg(where, "kernel_size", kernel_size, 1)
    strides, pads = _stride_pad(where, stride, pad)
    if pad_below_kernel and (pads[0] >= kernel[0] or pads[1] >= kernel[1]):
        msg = (
            f"{where}: pad must be smaller than kernel_size, so that every window covers part of the "
            f"input; got kernel_size={kernel_size!r}, pad={pad!r}"
        )
        raise DezeroValueError(msg)
    return _geometry(kernel, strides, pads)


def _check_4d(where: str, name: str, shape: Shape, layout: str) -> None:
    if len(shape) != 4:
        msg = f"{where}: {name} must be 4-D {layout}; got {name}.shape={shape}"
        raise ShapeError(msg)


def _check_kernel(where: str, w_shape: Shape) -> None:
    if w_shape[2] < 1 or w_shape[3] < 1:
        msg = f"{where}: W must have a kernel of at least 1x1; got W.shape={w_shape}"
        raise ShapeError(msg)


def _out_hw(where: str, g: _Geometry, shape: Shape, context: str) -> tuple[int, int]:
    """The output (OH, OW) of sliding the kernel over images of `shape` (N, C, H, W), or a ShapeError
    (also when the padded images or their patches would be too large for any array)."""
    h, w = shape[2], shape[3]
    try:
        oh, ow = get_conv_outsize(h, g.kh, g.sh, g.ph), get_conv_outsize(w, g.kw, g.sw, g.pw)
    except DezeroValueError:
        msg = (
            f"{where}: a {g.kh}x{g.kw} kernel with pad {g.pad} does not fit an image of spatial size "
            f"{h}x{w}; got {context}"
        )
        raise ShapeError(msg) from None
    n, c = shape[0], shape[1]
    geometry = f"{context}, kernel_size={g.kernel}, pad={g.pad}"
    _check_fits(where, "padded images", (n, c, h + 2 * g.ph, w + 2 * g.pw), geometry)
    _check_fits(where, "image patches", (n, c, g.kh, g.kw, oh, ow), geometry)
    return oh, ow


def _check_fits(where: str, what: str, shape: Shape, context: str) -> None:
    """A ShapeError naming the operation for float64 arrays of `shape` that NumPy could never create
    (a huge pad or size), in place of NumPy's bare "array is too big"; nothing is allocated."""
    if too_large(shape):
        msg = f"{where}: the {what} would have shape {shape}, too large for any array; got {context}"
        raise ShapeError(msg)


def _padded(x: Arr, g: _Geometry, value: float = 0.0, work: str | None = None) -> Arr:
    """`x` padded with `value`: a new array, or the work buffer `work` (for use within the call)."""
    if g.ph == 0 and g.pw == 0:
        return x
    n, c, h, w = x.shape
    shape = (n, c, h + 2 * g.ph, w + 2 * g.pw)
    out = empty_result(shape) if work is None else work_buffer(work, shape)
    out[:, :, : g.ph] = value
    out[:, :, g.ph + h :] = value
    out[:, :, :, : g.pw] = value
    out[:, :, :, g.pw + w :] = value
    out[:, :, g.ph : g.ph + h, g.pw : g.pw + w] = x
    return out


def _padded_zeros(shape: Shape, g: _Geometry) -> Arr:
    n, c, h, w = shape
    return zeros_result((n, c, h + 2 * g.ph, w + 2 * g.pw))


def _unpadded(img: Arr, g: _Geometry, h: int, w: int) -> Arr:
    if g.ph == 0 and g.pw == 0:
        return img
    return copied_result(img[:, :, g.ph : g.ph + h, g.pw : g.pw + w])


def _window(img: Arr, g: _Geometry, offset: tuple[int, int], out_hw: tuple[int, int]) -> Arr:
    """The strided view of the padded `img` under a kernel offset (row, column): (N, C, OH, OW)."""
    (di, dj), (oh, ow) = offset, out_hw
    return img[:, :, di : di + g.sh * (oh - 1) + 1 : g.sh, dj : dj + g.sw * (ow - 1) + 1 : g.sw]


def _im2col_array(x: Arr, g: _Geometry, out_hw: tuple[int, int]) -> Arr:
    """The (N, C, KH, KW, OH, OW) patches of the zero-padded `x`."""
    n, c = x.shape[:2]
    col = empty_result((n, c, g.kh, g.kw, *out_hw))
    _im2col_into(col, _padded(x, g), g)
    return col


def _im2col_into(col: Arr, xp: Arr, g: _Geometry) -> None:
    """Write the patches of the padded images `xp` into `col` (B, C, KH, KW, OH, OW)."""
    out_hw = (col.shape[4], col.shape[5])
    for di, dj in g.offsets:
        col[:, :, di, dj] = _window(xp, g, (di, dj), out_hw)


def _clip(offset: int, pad: int, stride: int, size: int, out_size: int) -> tuple[slice, slice] | None:
    """Along one axis, the pixels of the unpadded image that a kernel offset reaches and the output
    positions that reach them: (image slice, output slice), or None when all fall in the padding."""
    lo = max(0, -((offset - pad) // stride))  # the first output position inside the image
    hi = min(out_size, (size - 1 + pad - offset) // stride + 1)
    if hi <= lo:
        return None
    first = offset + stride * lo - pad
    return slice(first, first + stride * (hi - lo - 1) + 1, stride), slice(lo, hi)


def _col2im_into(img: Arr, col: Arr, g: _Geometry) -> None:
    """Overwrite the images `img` (B, C, H, W) with the adjoint of im2col of the patches `col`
    (B, C, KH, KW, OH, OW): each patch element added to the pixel it came from, padding dropped.

    No padded image is built: each offset adds its patch elements that land inside the image. An
    offset that covers the whole image (stride 1 with "same" padding: the centre) is copied first
    in place of zero-filling `img`.
    """
    h, w = img.shape[2], img.shape[3]
    oh, ow = col.shape[4], col.shape[5]
    parts: list[tuple[int, int, slice, slice, slice, slice]] = []
    full: tuple[int, int] | None = None
    for di, dj in g.offsets:
        rows, cols = _clip(di, g.ph, g.sh, h, oh), _clip(dj, g.pw, g.sw, w, ow)
        if rows is None or cols is None:
            continue
        (ri, ro), (ci, co) = rows, cols
        covers = g.sh == g.sw == 1 and ri.stop - ri.start == h and ci.stop - ci.start == w
        if full is None and covers:
            full = (di, dj)
            np.copyto(img, col[:, :, di, dj, ro, co])
        else:
            parts.append((di, dj, ri, ci, ro, co))
    if full is None:
        img.fill(0.0)
    for di, dj, ri, ci, ro, co in parts:
        win = img[:, :, ri, ci]
        win += col[:, :, di, dj, ro, co]


def _col2im_array(col: Arr, shape: Shape, g: _Geometry) -> Arr:
    """The adjoint of :func:`_im2col_array`: patches summed back into an image of `shape`."""
    img = empty_result(shape)
    _col2im_into(img, col, g)
    return img


_CHUNK_BYTES = 1 << 21
"""How many bytes of patches each matrix product of conv2d and deconv2d takes: a few images at a
time, so that the patches are written, multiplied and read back while they are in the cache (the
whole batch's patches are many megabytes, which the copies would otherwise stream through memory)."""


def _chunk(n: int, per_image: int) -> int:
    """Images per block when each image has `per_image` float64 patch elements (at least 1)."""
    return max(1, min(n, _CHUNK_BYTES // max(8, 8 * per_image)))


def _to_matrix(col: Arr) -> Arr:
    n, c, kh, kw, oh, ow = col.shape
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, c * kh * kw)


def _from_matrix(x: Arr, shape: Shape, g: _Geometry, out_hw: tuple[int, int]) -> Arr:
    n, c = shape[:2]
    return x.reshape(n, *out_hw, c, g.kh, g.kw).transpose(0, 3, 4, 5, 1, 2)


def _conv_array(x: Arr, W: Arr, g: _Geometry, out_hw: tuple[int, int]) -> Arr:
    n, c = x.shape[:2]
    oc = W.shape[0]
    oh, ow = out_hw
    k = c * g.kh * g.kw
    kernels = W.reshape(oc, k)
    xp = _padded(x, g, work="padded")
    y = empty_result((n, oc, oh * ow))
    step = _chunk(n, k * oh * ow)
    col = work_buffer("patches", (min(n, step), c, g.kh, g.kw, oh, ow))
    for start in range(0, n, step):
        part = xp[start : start + step]
        b = part.shape[0]
        _im2col_into(col[:b], part, g)
        # (OC, C*KH*KW) @ (B, C*KH*KW, OH*OW): one matrix product per image, written straight in NCHW.
        np.matmul(kernels, col[:b].reshape(b, k, oh * ow), out=y[start : start + b])
    return y.reshape(n, oc, oh, ow)


def _deconv_array(x: Arr, W: Arr, g: _Geometry, out_hw: tuple[int, int]) -> Arr:
    n, ci, h, w = x.shape
    co = W.shape[1]
    k = co * g.kh * g.kw
    kernels = W.reshape(ci, k).T
    x3 = x.reshape(n, ci, h * w)
    y = empty_result((n, co, *out_hw))
    step = _chunk(n, k * h * w)
    col = work_buffer("patches", (min(n, step), co, g.kh, g.kw, h, w))
    for start in range(0, n, step):
        b = min(step, n - start)
        np.matmul(kernels, x3[start : start + b], out=col[:b].reshape(b, k, h * w))
        _col2im_into(y[start : start + b], col[:b], g)
    return y


def _grad_w_array(x: Arr, gy: Arr, g: _Geometry) -> Arr:
    n, c = x.shape[:2]
    o, oh, ow = gy.shape[1:]
    k = c * g.kh * g.kw
    xp = _padded(x, g, work="padded")
    g3 = gy.reshape(n, o, oh * ow)
    per_image = np.empty((n, o, k))
    step = _chunk(n, k * oh * ow)
    col = work_buffer("patches", (min(n, step), c, g.kh, g.kw, oh, ow))
    for start in range(0, n, step):
        part = xp[start : start + step]
        b = part.shape[0]
        _im2col_into(col[:b], part, g)
        # Per image (O, OH*OW) @ (OH*OW, C*KH*KW), then the batch sum: BLAS reads the transposed
        # patches in place, where a tensordot over (N, OH*OW) would copy them first.
        cols = col[:b].reshape(b, k, oh * ow).transpose(0, 2, 1)
        np.matmul(g3[start : start + b], cols, out=per_image[start : start + b])
    return as_f64(per_image.sum(axis=0)).reshape(o, c, g.kh, g.kw)


def _bias_grad(gy: Arr) -> Arr:
    return as_f64(gy.sum(axis=(0, 2, 3)))


def _argmax_windows(windows: list[Arr]) -> tuple[Arr, IntArr]:
    """The elementwise maximum of the windows and, per element, the first window attaining it."""
    y = copied_result(windows[0])
    for win in windows[1:]:
        np.maximum(y, win, out=y)
    index: IntArr = np.zeros(y.shape, dtype=np.min_scalar_type(len(windows) - 1))
    if len(windows) > 1:
        # The first arg-max is the number of leading windows strictly below the maximum.
        below = np.greater(y, windows[0])
        for win in windows[1:-1]:
            index += below
            below &= np.greater(y, win)
        index += below
    return y, index


def _max_pool_array(x: Arr, g: _Geometry, out_hw: tuple[int, int]) -> tuple[Arr, IntArr]:
    xp = _padded(x, g, -np.inf)  # padding never wins a max
    return _argmax_windows([_window(xp, g, offset, out_hw) for offset in g.offsets])


def _scatter_to_argmax(gy: Arr, index: IntArr, shape: Shape, g: _Geometry) -> Arr:
    """Each element of `gy` added to the input element its window's `index` names."""
    out_hw = (index.shape[2], index.shape[3])
    h, w = shape[2] + 2 * g.ph, shape[3] + 2 * g.pw
    # Windows that tile the padded image (2x2 at stride 2 on an even size) write every element once.
    tiles = g.stride == g.kernel and out_hw[0] * g.kh == h and out_hw[1] * g.kw == w
    gxp = empty_result((shape[0], shape[1], h, w)) if tiles else _padded_zeros(shape, g)
    for t, offset in enumerate(g.offsets):
        win = _window(gxp, g, offset, out_hw)
        if g.overlapping:
            win += gy * (index == t)
        else:
            np.multiply(gy, index == t, out=win)
    return _unpadded(gxp, g, shape[2], shape[3])


def _gather_argmax(x: Arr, index: IntArr, g: _Geometry) -> Arr:
    """From each window of `x`, the element `index` names (the adjoint of the scatter)."""
    out_hw = (index.shape[2], index.shape[3])
    xp = _padded(x, g)
    y = zeros_result(index.shape)
    for t, offset in enumerate(g.offsets):
        y += np.where(index == t, _window(xp, g, offset, out_hw), 0.0)
    return y


def _average_pool_array(x: Arr, g: _Geometry, out_hw: tuple[int, int]) -> Arr:
    xp = _padded(x, g)
    first, *rest = g.offsets
    y = copied_result(_window(xp, g, first, out_hw))
    for offset in rest:
        y += _window(xp, g, offset, out_hw)
    y *= 1.0 / (g.kh * g.kw)
    return y


def _spread_over_windows(gy: Arr, shape: Shape, g: _Geometry) -> Arr:
    """The adjoint of average pooling: each element of `gy` spread evenly over its window."""
    out_hw = (gy.shape[2], gy.shape[3])
    share = gy * (1.0 / (g.kh * g.kw))
    gxp = _padded_zeros(shape, g)
    for offset in g.offsets:
        win = _window(gxp, g, offset, out_hw)
        win += share
    return _unpadded(gxp, g, shape[2], shape[3])


def _conv_geometry(
    x: Shape, W: Shape, stride: tuple[int, int], pad: tuple[int, int], where: str = "conv2d"
) -> tuple[_Geometry, tuple[int, int]]:
    _check_4d(where, "x", x, "(N, C, H, W)")
    _check_4d(where, "W", W, "(OC, C, KH, KW)")
    if x[1] != W[1]:
        msg = f"{where}: x must have C={W[1]} channels to match W.shape[1]; got x.shape={x}, W.shape={W}"
        raise ShapeError(msg)
    _check_kernel(where, W)
    g = _geometry((W[2], W[3]), stride, pad)
    return g, _out_hw(where, g, x, f"x.shape={x}, W.shape={W}, stride={stride}, pad={pad}")


def _check_bias(where: str, b: Shape, W: Shape) -> None:
    if b != (W[0],):
        msg = f"{where}: b must have shape (OC,) = ({W[0]},); got b.shape={b}, W.shape={W}"
        raise ShapeError(msg)


def _conv_grads(
    x: Variable, W: Variable, gy: Variable, stride: tuple[int, int], pad: tuple[int, int]
) -> tuple[Variable, Variable]:
    gx = Deconv2dNoBias(stride, pad, (x.shape[2], x.shape[3]))(gy, W)
    gW = Conv2DGradW((W.shape[2], W.shape[3]), stride, pad)(x, gy)
    return gx, gW


def _conv_grads_data(
    x: Variable, W: Variable, gy: Arr, stride: tuple[int, int], pad: tuple[int, int]
) -> tuple[Arr, Arr]:
    # A constant x (the input batch of a network) needs no gradient: skip the transposed convolution.
    g = _geometry((W.shape[2], W.shape[3]), stride, pad)
    gx = _deconv_array(gy, W.data, g, (x.shape[2], x.shape[3])) if x.requires_grad else SKIPPED_GRAD
    gW = _grad_w_array(x.data, gy, g) if W.requires_grad else SKIPPED_GRAD
    return gx, gW


@final
class Conv2dNoBias(BinaryFunction):
    """conv2d without a bias: inputs x (N, C, H, W) and W (OC, C, KH, KW)."""

    def __init__(self, stride: IntPair = 1, pad: IntPair = 0) -> None:
        self.stride, self.pad = _stride_pad("conv2d", stride, pad)

    @override
    def forward(self, x: Arr, W: Arr, /) -> Arr:
        g, out_hw = _conv_geometry(x.shape, W.shape, self.stride, self.pad)
        return _conv_array(x, W, g, out_hw)

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x, W = self.inputs
        return _conv_grads(x, W, gy, self.stride, self.pad)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x, W = self.inputs
        return _conv_grads_data(x, W, gy, self.stride, self.pad)


@final
class Conv2d(TernaryFunction):
    """conv2d with a bias: inputs x (N, C, H, W), W (OC, C, KH, KW) and b (OC,)."""

    def __init__(self, stride: IntPair = 1, pad: IntPair = 0) -> None:
        self.stride, self.pad = _stride_pad("conv2d", stride, pad)

    @override
    def forward(self, x: Arr, W: Arr, b: Arr, /) -> Arr:
        g, out_hw = _conv_geometry(x.shape, W.shape, self.stride, self.pad)
        _check_bias("conv2d", b.shape, W.shape)
        y = _conv_array(x, W, g, out_hw)
        y += b.reshape(1, b.shape[0], 1, 1)
        return y

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable, Variable]:
        x, W, _ = self.inputs
        return (*_conv_grads(x, W, gy, self.stride, self.pad), sum_(gy, axis=(0, 2, 3)))

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr, Arr]:
        x, W, b = self.inputs
        gb = _bias_grad(gy) if b.requires_grad else SKIPPED_GRAD
        return (*_conv_grads_data(x, W, gy, self.stride, self.pad), gb)


@typechecked
def conv2d(
    x: Variable | Arr,
    W: Variable | Arr,
    b: Variable | Arr | None = None,
    stride: IntPair = 1,
    pad: IntPair = 0,
) -> Variable:
    """2-D convolution (a cross-correlation, as in DeZero and PyTorch) of NCHW images, zero padded.

    Arguments:
        x: (N, C, H, W) images. W: (OC, C, KH, KW) kernels. b: (OC,) bias, or None.
        stride, pad: an int or a (height, width) pair.

    Returns:
        (N, OC, OH, OW) with ``OH = (H + 2 * pad_h - KH) // stride_h + 1`` (OW likewise).

    Raises ShapeError when x or W is not 4-D, the channels differ, b is not (OC,) or the kernel
    does not fit the padded image; DezeroValueError when a stride is below 1 or a pad negative.
    Differentiable any number of times in x, W and b.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> x = Variable(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> F.conv2d(x, np.ones((1, 1, 2, 2)), stride=2)  # sums of the four 2x2 blocks
        variable([[[[10. 18.]
                    [42. 50.]]]])
        >>> F.conv2d(x, np.ones((3, 1, 3, 3)), np.zeros(3), pad=1).shape  # "same" padding
        (1, 3, 4, 4)
    """
    if b is None:
        return Conv2dNoBias(stride, pad)(x, W)
    return Conv2d(stride, pad)(x, W, b)


@typechecked
def conv2d_simple(
    x: Variable | Arr,
    W: Variable | Arr,
    b: Variable | Arr | None = None,
    stride: IntPair = 1,
    pad: IntPair = 0,
) -> Variable:
    """:func:`conv2d` composed from primitives, as the book first writes it: :func:`im2col`, then
    :func:`~typed_dezero.functions.linear` with the kernels as a (C*KH*KW, OC) matrix, then a
    reshape and transpose back to (N, OC, OH, OW). Same arguments, errors, values and derivatives
    as :func:`conv2d`, which fuses these steps to save the intermediate nodes."""
    x = to_variable("conv2d_simple", x, "x")
    weight = to_variable("conv2d_simple", W, "W")
    strides, pads = _stride_pad("conv2d_simple", stride, pad)
    g, (oh, ow) = _conv_geometry(x.shape, weight.shape, strides, pads, "conv2d_simple")
    oc = weight.shape[0]
    if b is not None:
        b = to_variable("conv2d_simple", b, "b")
        _check_bias("conv2d_simple", b.shape, weight.shape)
    col = im2col(x, g.kernel, g.stride, g.pad, to_matrix=True)  # (N*OH*OW, C*KH*KW)
    # The size spelled out, not -1: NumPy cannot infer -1 when C is 0.
    kernels = transpose(reshape(weight, (oc, weight.shape[1] * g.kh * g.kw)))
    t = linear(col, kernels, b)
    return transpose(reshape(t, (x.shape[0], oh, ow, oc)), (0, 3, 1, 2))


def _deconv_geometry(
    x: Shape, W: Shape, stride: tuple[int, int], pad: tuple[int, int], outsize: tuple[int, int] | None
) -> tuple[_Geometry, tuple[int, int]]:
    _check_4d("deconv2d", "x", x, "(N, C_in, H, W)")
    _check_4d("deconv2d", "W", W, "(C_in, C_out, KH, KW)")
    if x[1] != W[0]:
        msg = f"deconv2d: x must have C_in={W[0]} channels to match W.shape[0]; got x.shape={x}, W.shape={W}"
        raise ShapeError(msg)
    _check_kernel("deconv2d", W)
    g = _geometry((W[2], W[3]), stride, pad)
    context = f"x.shape={x}, W.shape={W}, stride={stride}, pad={pad}"
    # The sizes that a conv2d with this geometry maps back to (H, W): [lo, lo + stride - 1] per axis.
    lo = (g.sh * (x[2] - 1) + g.kh - 2 * g.ph, g.sw * (x[3] - 1) + g.kw - 2 * g.pw)
    hi = (lo[0] + g.sh - 1, lo[1] + g.sw - 1)
    if min(x[2], x[3]) < 1 or min(hi) < 1 or (outsize is None and min(lo) < 1):
        msg = (
            "deconv2d: the output size stride*(H-1)+K-2*pad must be >= 1 along each axis (or, with "
            f"outsize, up to stride-1 less); got {context}"
        )
        raise ShapeError(msg)
    _check_fits("deconv2d", "padded output", (x[0], W[1], hi[0] + 2 * g.ph, hi[1] + 2 * g.pw), context)
    _check_fits("deconv2d", "image patches", (x[0], W[1], g.kh, g.kw, x[2], x[3]), context)
    if outsize is None:
        return g, lo
    if not (lo[0] <= outsize[0] <= hi[0] and lo[1] <= outsize[1] <= hi[1]):
        msg = (
            f"deconv2d: outsize={outsize} is inconsistent with the input size: the height must be in "
            f"[{max(lo[0], 1)}, {hi[0]}] and the width in [{max(lo[1], 1)}, {hi[1]}]; got {context}"
        )
        raise ShapeError(msg)
    return g, outsize


def _outsize_arg(outsize: IntPair | None) -> tuple[int, int] | None:
    return None if outsize is None else _pair_arg("deconv2d", "outsize", outsize, 1)


def _deconv_grads(
    x: Variable, W: Variable, gy: Variable, stride: tuple[int, int], pad: tuple[int, int]
) -> tuple[Variable, Variable]:
    gx = Conv2dNoBias(stride, pad)(gy, W)
    gW = Conv2DGradW((W.shape[2], W.shape[3]), stride, pad)(gy, x)
    return gx, gW


def _deconv_grads_data(
    x: Arr, W: Arr, gy: Arr, stride: tuple[int, int], pad: tuple[int, int]
) -> tuple[Arr, Arr]:
    g = _geometry((W.shape[2], W.shape[3]), stride, pad)
    return _conv_array(gy, W, g, (x.shape[2], x.shape[3])), _grad_w_array(gy, x, g)


@final
class Deconv2dNoBias(BinaryFunction):
    """deconv2d without a bias: inputs x (N, C_in, H, W) and W (C_in, C_out, KH, KW)."""

    def __init__(self, stride: IntPair = 1, pad: IntPair = 0, outsize: IntPair | None = None) -> None:
        self.stride, self.pad = _stride_pad("deconv2d", stride, pad)
        self.outsize = _outsize_arg(outsize)

    @override
    def forward(self, x: Arr, W: Arr, /) -> Arr:
        g, out_hw = _deconv_geometry(x.shape, W.shape, self.stride, self.pad, self.outsize)
        return _deconv_array(x, W, g, out_hw)

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x, W = self.inputs
        return _deconv_grads(x, W, gy, self.stride, self.pad)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x, W = self.inputs
        return _deconv_grads_data(x.data, W.data, gy, self.stride, self.pad)


@final
class Deconv2d(TernaryFunction):
    """deconv2d with a bias: inputs x (N, C_in, H, W), W (C_in, C_out, KH, KW) and b (C_out,)."""

    def __init__(self, stride: IntPair = 1, pad: IntPair = 0, outsize: IntPair | None = None) -> None:
        self.stride, self.pad = _stride_pad("deconv2d", stride, pad)
        self.outsize = _outsize_arg(outsize)

    @override
    def forward(self, x: Arr, W: Arr, b: Arr, /) -> Arr:
        g, out_hw = _deconv_geometry(x.shape, W.shape, self.stride, self.pad, self.outsize)
        if b.shape != (W.shape[1],):
            msg = (
                f"deconv2d: b must have shape (C_out,) = ({W.shape[1]},); got b.shape={b.shape}, "
                f"W.shape={W.shape}"
            )
            raise ShapeError(msg)
        y = _deconv_array(x, W, g, out_hw)
        y += b.reshape(1, b.shape[0], 1, 1)
        return y

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable, Variable]:
        x, W, _ = self.inputs
        return (*_deconv_grads(x, W, gy, self.stride, self.pad), sum_(gy, axis=(0, 2, 3)))

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr, Arr]:
        x, W, _ = self.inputs
        return (*_deconv_grads_data(x.data, W.data, gy, self.stride, self.pad), _bias_grad(gy))


@typechecked
def deconv2d(  # noqa: PLR0917 - DeZero's positional signature
    x: Variable | Arr,
    W: Variable | Arr,
    b: Variable | Arr | None = None,
    stride: IntPair = 1,
    pad: IntPair = 0,
    outsize: IntPair | None = None,
) -> Variable:
    """Transposed 2-D convolution of NCHW images: the adjoint (and gradient) of :func:`conv2d`.

    Arguments:
        x: (N, C_in, H, W) images. W: (C_in, C_out, KH, KW) kernels. b: (C_out,) bias, or None.
        stride, pad: an int or a (height, width) pair (the pad is cropped from the output).
        outsize: the output (OH, OW); by default ``stride * (H - 1) + KH - 2 * pad`` (OW likewise).
            Up to ``stride - 1`` more is allowed: all these sizes are what a strided conv2d maps to H.

    Returns:
        (N, C_out, OH, OW).

    Raises ShapeError when x or W is not 4-D, x.shape[1] != W.shape[0], b is not (C_out,), or the
    output size is not positive or inconsistent with H and W; DezeroValueError for a stride below
    1, a negative pad or a non-positive outsize. Differentiable any number of times.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])  # (1, 1, 2, 2)
        >>> F.deconv2d(x, np.ones((1, 1, 2, 2)), stride=2)  # each pixel spread over a 2x2 block
        variable([[[[1. 1. 2. 2.]
                    [1. 1. 2. 2.]
                    [3. 3. 4. 4.]
                    [3. 3. 4. 4.]]]])
    """
    if b is None:
        return Deconv2dNoBias(stride, pad, outsize)(x, W)
    return Deconv2d(stride, pad, outsize)(x, W, b)


@final
class Conv2DGradW(BinaryFunction):
    """The kernel gradient of conv2d, ``gW[o, c, i, j] = sum(gy[:, o] * x_padded[:, c, shifted by (i, j)])``.

    A function of both the image `x` and the output gradient `gy` (DeZero kept `x` as a constant,
    so its double backprop lost the path through x); bilinear, with gradients deconv2d(gy, ggW)
    for x and conv2d(x, ggW) for gy.
    """

    def __init__(self, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0) -> None:
        self.geometry = _window_geometry("conv2d_grad_w", kernel_size, stride, pad)

    @override
    def forward(self, x: Arr, gy: Arr, /) -> Arr:
        g = self.geometry
        _check_4d("conv2d_grad_w", "x", x.shape, "(N, C, H, W)")
        _check_4d("conv2d_grad_w", "gy", gy.shape, "(N, OC, OH, OW)")
        oh, ow = _out_hw("conv2d_grad_w", g, x.shape, f"x.shape={x.shape}")
        if gy.shape[0] != x.shape[0] or gy.shape[2:] != (oh, ow):
            msg = (
                f"conv2d_grad_w: gy must have shape (N, OC, OH, OW) = ({x.shape[0]}, OC, {oh}, {ow}) "
                f"for x.shape={x.shape}, kernel {g.kernel}, stride {g.stride}, pad {g.pad}; "
                f"got gy.shape={gy.shape}"
            )
            raise ShapeError(msg)
        return _grad_w_array(x, gy, g)

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x, g_out = self.inputs
        g = self.geometry
        gx = Deconv2dNoBias(g.stride, g.pad, (x.shape[2], x.shape[3]))(g_out, gy)
        g_g_out = Conv2dNoBias(g.stride, g.pad)(x, gy)
        return gx, g_g_out

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x, g_out = self.inputs[0].data, self.inputs[1].data
        g = self.geometry
        gx = _deconv_array(g_out, gy, g, (x.shape[2], x.shape[3]))
        return gx, _conv_array(x, gy, g, (g_out.shape[2], g_out.shape[3]))


@final
class Pooling(UnaryFunction):
    """Max pooling; remembers which window element won, for the gradient."""

    def __init__(self, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0) -> None:
        self.geometry = _window_geometry("pooling", kernel_size, stride, pad, pad_below_kernel=True)
        self.indexes: IntArr = np.zeros((0, 0, 0, 0), dtype=np.uint8)

    @override
    def forward(self, x: Arr, /) -> Arr:
        g = self.geometry
        _check_4d("pooling", "x", x.shape, "(N, C, H, W)")
        out_hw = _out_hw("pooling", g, x.shape, f"x.shape={x.shape}, stride={g.stride}")
        y, self.indexes = _max_pool_array(x, g, out_hw)
        return y

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return Pooling2DGrad(self.indexes, self.inputs[0].shape, self.geometry)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _scatter_to_argmax(gy, self.indexes, self.inputs[0].shape, self.geometry)


@final
class Pooling2DGrad(UnaryFunction):
    """The gradient of max pooling: each output gradient routed to its window's arg-max element."""

    def __init__(self, indexes: IntArr, input_shape: Shape, geometry: _Geometry) -> None:
        self.indexes = indexes
        self.input_shape = input_shape
        self.geometry = geometry

    @override
    def forward(self, x: Arr, /) -> Arr:
        return _scatter_to_argmax(x, self.indexes, self.input_shape, self.geometry)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return Pooling2DWithIndexes(self.indexes, self.geometry)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _gather_argmax(gy, self.indexes, self.geometry)


@final
class Pooling2DWithIndexes(UnaryFunction):
    """Picks from each window the element max pooling picked (the gradient of Pooling2DGrad)."""

    def __init__(self, indexes: IntArr, geometry: _Geometry) -> None:
        self.indexes = indexes
        self.geometry = geometry

    @override
    def forward(self, x: Arr, /) -> Arr:
        return _gather_argmax(x, self.indexes, self.geometry)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return Pooling2DGrad(self.indexes, self.inputs[0].shape, self.geometry)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _scatter_to_argmax(gy, self.indexes, self.inputs[0].shape, self.geometry)


@typechecked
def pooling(x: Variable | Arr, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0) -> Variable:
    """Max pooling of NCHW images (DeZero's default ``stride=1``, unlike PyTorch's ``stride=kernel``).

    The padding is -inf, so it never wins a window: each window's maximum is over real pixels, and
    the gradient goes to that one element only (on ties, to the first in row-major window order,
    like ``numpy.argmax``).

    Arguments:
        x: (N, C, H, W). kernel_size, stride, pad: an int or a (height, width) pair; the pad must be
            smaller than the kernel (so that every window covers a pixel).

    Returns:
        (N, C, OH, OW) with ``OH = (H + 2 * pad_h - KH) // stride_h + 1`` (OW likewise).

    Raises ShapeError when x is not 4-D or the kernel does not fit; DezeroValueError for a kernel or
    stride below 1, a negative pad or a pad not below the kernel size.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.pooling(x, 2).shape  # DeZero's default stride is 1: overlapping windows
        (1, 1, 3, 3)
        >>> F.pooling(x, 2, stride=2)
        variable([[[[ 5.  7.]
                    [13. 15.]]]])
    """
    return Pooling(kernel_size, stride, pad)(x)


@typechecked
def pooling_simple(
    x: Variable | Arr, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0
) -> Variable:
    """:func:`pooling` composed from primitives, as the book first writes it: :func:`im2col`, one
    window per row, :func:`~typed_dezero.functions.max` along the rows, a reshape and transpose back.

    Same arguments, errors and values as :func:`pooling`. im2col pads with zeros, so where there is
    padding the input is first shifted by a constant to lie above 0 (and the result shifted back),
    which keeps the padding out of every maximum as pooling's -inf padding does. The derivatives
    are pooling's except on ties, whose elements share the gradient as in ``max``. Raises ShapeError
    for an empty `x` (``max`` cannot reduce an empty array; :func:`pooling` handles it).
    """
    x = to_variable("pooling_simple", x, "x")
    g = _window_geometry("pooling_simple", kernel_size, stride, pad, pad_below_kernel=True)
    _check_4d("pooling_simple", "x", x.shape, "(N, C, H, W)")
    oh, ow = _out_hw("pooling_simple", g, x.shape, f"x.shape={x.shape}, stride={g.stride}")
    if x.size == 0:
        msg = f"pooling_simple: x is empty (x.shape={x.shape}); use pooling for empty batches"
        raise ShapeError(msg)
    shift = 1.0 - float(np.min(x.data)) if g.ph or g.pw else 0.0
    shifted = x + shift if shift > 0.0 else x
    col = reshape(im2col(shifted, g.kernel, g.stride, g.pad, to_matrix=True), (-1, g.kh * g.kw))
    y = transpose(reshape(max_(col, axis=1), (x.shape[0], oh, ow, x.shape[1])), (0, 3, 1, 2))
    return y - shift if shift > 0.0 else y


@final
class AveragePooling(UnaryFunction):
    """Average pooling over zero-padded windows, divided by KH*KW (DeZero's semantics)."""

    def __init__(self, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0) -> None:
        self.geometry = _window_geometry("average_pooling", kernel_size, stride, pad)

    @override
    def forward(self, x: Arr, /) -> Arr:
        g = self.geometry
        _check_4d("average_pooling", "x", x.shape, "(N, C, H, W)")
        out_hw = _out_hw("average_pooling", g, x.shape, f"x.shape={x.shape}, stride={g.stride}")
        return _average_pool_array(x, g, out_hw)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return AveragePooling2DGrad(self.inputs[0].shape, self.geometry)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _spread_over_windows(gy, self.inputs[0].shape, self.geometry)


@final
class AveragePooling2DGrad(UnaryFunction):
    """The gradient of average pooling: each output gradient spread evenly over its window."""

    def __init__(self, input_shape: Shape, geometry: _Geometry) -> None:
        self.input_shape = input_shape
        self.geometry = geometry

    @override
    def forward(self, x: Arr, /) -> Arr:
        return _spread_over_windows(x, self.input_shape, self.geometry)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        g = self.geometry
        return AveragePooling(g.kernel, g.stride, g.pad)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        x = self.inputs[0]
        return _average_pool_array(gy, self.geometry, (x.shape[2], x.shape[3]))


@typechecked
def average_pooling(
    x: Variable | Arr, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0
) -> Variable:
    """Average pooling of NCHW images with DeZero's semantics: the zero padding counts as pixels and
    every window is divided by ``KH * KW`` (PyTorch's ``count_include_pad=True``).

    Arguments and output shape as :func:`pooling` (here the pad may be as large as you like).
    Raises ShapeError when x is not 4-D or the kernel does not fit; DezeroValueError for a kernel or
    stride below 1 or a negative pad.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.average_pooling(np.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)
        variable([[[[ 2.5  4.5]
                    [10.5 12.5]]]])
    """
    return AveragePooling(kernel_size, stride, pad)(x)


@final
class Im2col(UnaryFunction):
    """Image patches as columns; its gradient is :class:`Col2im`."""

    def __init__(
        self, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0, to_matrix: bool = True
    ) -> None:
        self.geometry = _window_geometry("im2col", kernel_size, stride, pad)
        self.to_matrix = to_matrix

    @override
    def forward(self, x: Arr, /) -> Arr:
        g = self.geometry
        _check_4d("im2col", "x", x.shape, "(N, C, H, W)")
        col = _im2col_array(x, g, _out_hw("im2col", g, x.shape, f"x.shape={x.shape}, stride={g.stride}"))
        return _to_matrix(col) if self.to_matrix else col

    @override
    def backward(self, gy: Variable, /) -> Variable:
        g = self.geometry
        return Col2im(self.inputs[0].shape, g.kernel, g.stride, g.pad, self.to_matrix)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        g = self.geometry
        shape = self.inputs[0].shape
        out_hw = _out_hw("im2col", g, shape, f"x.shape={shape}")
        return _col2im_array(_from_matrix(gy, shape, g, out_hw) if self.to_matrix else gy, shape, g)


@typechecked
def im2col(
    x: Variable | Arr, kernel_size: IntPair, stride: IntPair = 1, pad: IntPair = 0, to_matrix: bool = True
) -> Variable:
    """The patches of the zero-padded NCHW images `x` that a kernel slides over.

    Returns ``col[n, c, i, j, oh, ow] = x_padded[n, c, oh * stride_h + i, ow * stride_w + j]`` of
    shape (N, C, KH, KW, OH, OW) when ``to_matrix`` is False, else that array with the patch axes
    last, as a matrix (N*OH*OW, C*KH*KW). Raises as :func:`average_pooling`.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.im2col(x, 2, stride=2).shape, F.im2col(x, 2, stride=2, to_matrix=False).shape
        ((4, 4), (1, 1, 2, 2, 2, 2))
        >>> F.im2col(x, 2, stride=2).data[0]  # the top-left 2x2 patch
        array([0., 1., 4., 5.])
    """
    return Im2col(kernel_size, stride, pad, to_matrix)(x)


@final
class Col2im(UnaryFunction):
    """Columns summed back into images (the adjoint of :class:`Im2col`, and its gradient)."""

    def __init__(
        self,
        input_shape: Shape,
        kernel_size: IntPair,
        stride: IntPair = 1,
        pad: IntPair = 0,
        to_matrix: bool = True,
    ) -> None:
        check_shape("col2im", input_shape)
        if len(input_shape) != 4:
            msg = f"col2im: input_shape must be 4-D (N, C, H, W); got input_shape={input_shape}"
            raise ShapeError(msg)
        self.input_shape = input_shape
        self.geometry = _window_geometry("col2im", kernel_size, stride, pad)
        self.to_matrix = to_matrix

    @override
    def forward(self, x: Arr, /) -> Arr:
        g = self.geometry
        shape = self.input_shape
        n, c = shape[:2]
        out_hw = _out_hw("col2im", g, shape, f"input_shape={shape}, stride={g.stride}")
        if self.to_matrix:
            expected: Shape = (n * out_hw[0] * out_hw[1], c * g.kh * g.kw)
        else:
            expected = (n, c, g.kh, g.kw, *out_hw)
        if x.shape != expected:
            msg = (
                f"col2im: x must have shape {expected} for input_shape={shape}, kernel {g.kernel}, "
                f"stride {g.stride}, pad {g.pad} and to_matrix={self.to_matrix}; got x.shape={x.shape}"
            )
            raise ShapeError(msg)
        return _col2im_array(_from_matrix(x, shape, g, out_hw) if self.to_matrix else x, shape, g)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        g = self.geometry
        return Im2col(g.kernel, g.stride, g.pad, self.to_matrix)(gy)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        g = self.geometry
        out_hw = _out_hw("col2im", g, self.input_shape, f"input_shape={self.input_shape}")
        col = _im2col_array(gy, g, out_hw)
        return _to_matrix(col) if self.to_matrix else col


@typechecked
def col2im(  # noqa: PLR0917 - DeZero's positional signature
    x: Variable | Arr,
    input_shape: Shape,
    kernel_size: IntPair,
    stride: IntPair = 1,
    pad: IntPair = 0,
    to_matrix: bool = True,
) -> Variable:
    """The adjoint of :func:`im2col`: columns of images of `input_shape` (N, C, H, W) summed back into
    those images, overlapping patches adding up and the padding dropped.

    `x` has the shape im2col returns for `input_shape` and the same arguments: (N*OH*OW, C*KH*KW)
    when ``to_matrix`` is true, else (N, C, KH, KW, OH, OW). Raises ShapeError when `input_shape`
    is not 4-D or `x` has another shape, and as :func:`im2col` otherwise.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> cols = np.ones((9, 4))  # 2x2 patches at stride 1 of a (1, 1, 4, 4) image
        >>> F.col2im(cols, (1, 1, 4, 4), 2)  # how many patches cover each pixel
        variable([[[[1. 2. 2. 1.]
                    [2. 4. 4. 2.]
                    [2. 4. 4. 2.]
                    [1. 2. 2. 1.]]]])
    """
    return Col2im(input_shape, kernel_size, stride, pad, to_matrix)(x)
