"""Registry rows for the convolution family, and the strategies its tests share.

The linear maps (im2col, col2im, average_pooling) and max pooling (piecewise linear) have a zero
second derivative, so a second-order check of them alone never runs their gradient's backward;
the "squared" rows compose them with a square to exercise that path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from tests.functions.registry import Drawn, GradCase
from tests.strategies import arrays, distinct
from typed_dezero import Variable
from typed_dezero.functions.conv import (
    average_pooling,
    col2im,
    conv2d,
    conv2d_simple,
    deconv2d,
    im2col,
    pooling,
    pooling_simple,
)
from typed_dezero.functions.math import square

Draw = st.DrawFn
Pair = tuple[int, int]


def out_size(size: int, k: int, s: int, p: int) -> int:
    """The number of positions of a k-window with stride s on a p-padded axis of length size."""
    return (size + 2 * p - k) // s + 1


@dataclass(frozen=True)
class Window:
    """A drawn sliding-window setting; `*_arg` is how it is passed (an int when both sides agree)."""

    kernel: Pair
    stride: Pair
    pad: Pair
    kernel_arg: int | Pair
    stride_arg: int | Pair
    pad_arg: int | Pair

    def out(self, h: int, w: int) -> Pair:
        return (
            out_size(h, self.kernel[0], self.stride[0], self.pad[0]),
            out_size(w, self.kernel[1], self.stride[1], self.pad[1]),
        )


def _as_arg(draw: Draw, value: Pair) -> int | Pair:
    return value[0] if value[0] == value[1] and draw(st.booleans()) else value


@st.composite
def windows(
    draw: Draw, max_kernel: int = 3, max_stride: int = 2, max_pad: int = 1, pad_below_kernel: bool = False
) -> Window:
    """A kernel, stride and pad, each square or not."""
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, max_stride)), draw(st.integers(1, max_stride)))
    pad_max = [min(max_pad, k - 1) if pad_below_kernel else max_pad for k in kernel]
    pad = (draw(st.integers(0, pad_max[0])), draw(st.integers(0, pad_max[1])))
    return Window(kernel, stride, pad, _as_arg(draw, kernel), _as_arg(draw, stride), _as_arg(draw, pad))


@st.composite
def image_shapes(draw: Draw, win: Window, max_n: int = 2, max_c: int = 2, extra: int = 2) -> tuple[int, ...]:
    """An (N, C, H, W) shape the window fits (output size >= 1)."""
    h = draw(st.integers(max(1, win.kernel[0] - 2 * win.pad[0]), win.kernel[0] + extra))
    w = draw(st.integers(max(1, win.kernel[1] - 2 * win.pad[1]), win.kernel[1] + extra))
    return (draw(st.integers(1, max_n)), draw(st.integers(1, max_c)), h, w)


@st.composite
def conv_cases(draw: Draw, with_bias: bool | None = None) -> Drawn:
    """x, W (and b) for conv2d, with stride and pad keywords."""
    win = draw(windows())
    shape = draw(image_shapes(win))
    oc = draw(st.integers(1, 2))
    x = draw(arrays(shape))
    w = draw(arrays((oc, shape[1], *win.kernel)))
    bias = draw(st.booleans()) if with_bias is None else with_bias
    xs = (x, w, draw(arrays((oc,)))) if bias else (x, w)
    return Drawn(xs, {"stride": win.stride_arg, "pad": win.pad_arg})


@st.composite
def deconv_cases(draw: Draw, with_bias: bool | None = None) -> Drawn:
    """x, W (and b) for deconv2d, with stride, pad and outsize (None or a valid size) keywords."""
    win = draw(windows())
    n, c_in = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # the output sizes a conv2d maps back to (h, w): [lo, lo + stride - 1], kept positive
    lo = [
        s * (size - 1) + k - 2 * p
        for size, k, s, p in zip((h, w), win.kernel, win.stride, win.pad, strict=True)
    ]
    hi = [a + s - 1 for a, s in zip(lo, win.stride, strict=True)]
    assume(min(hi) >= 1)
    c_out = draw(st.integers(1, 2))
    x = draw(arrays((n, c_in, h, w)))
    weight = draw(arrays((c_in, c_out, *win.kernel)))
    outsize: Pair | None = None
    if min(lo) < 1 or draw(st.booleans()):
        outsize = (draw(st.integers(max(lo[0], 1), hi[0])), draw(st.integers(max(lo[1], 1), hi[1])))
    bias = draw(st.booleans()) if with_bias is None else with_bias
    xs = (x, weight, draw(arrays((c_out,)))) if bias else (x, weight)
    return Drawn(xs, {"stride": win.stride_arg, "pad": win.pad_arg, "outsize": outsize})


@st.composite
def pooling_cases(draw: Draw, max_pool: bool = True) -> Drawn:
    """x (distinct values for max pooling: no ties) with kernel_size, stride and pad keywords."""
    win = draw(windows(pad_below_kernel=max_pool))
    shape = draw(image_shapes(win))
    x = draw(distinct(shape) if max_pool else arrays(shape))
    return Drawn((x,), {"kernel_size": win.kernel_arg, "stride": win.stride_arg, "pad": win.pad_arg})


@st.composite
def im2col_cases(draw: Draw) -> Drawn:
    win = draw(windows())
    x = draw(arrays(draw(image_shapes(win))))
    return Drawn(
        (x,),
        {
            "kernel_size": win.kernel_arg,
            "stride": win.stride_arg,
            "pad": win.pad_arg,
            "to_matrix": draw(st.booleans()),
        },
    )


@st.composite
def col2im_cases(draw: Draw) -> Drawn:
    win = draw(windows())
    shape = draw(image_shapes(win))
    n, c, h, w = shape
    oh, ow = win.out(h, w)
    to_matrix = draw(st.booleans())
    col_shape = (n * oh * ow, c * win.kernel[0] * win.kernel[1]) if to_matrix else (n, c, *win.kernel, oh, ow)
    return Drawn(
        (draw(arrays(col_shape)),),
        {
            "input_shape": shape,
            "kernel_size": win.kernel_arg,
            "stride": win.stride_arg,
            "pad": win.pad_arg,
            "to_matrix": to_matrix,
        },
    )


def _squared_pooling(x: Variable, **kwargs: Any) -> Variable:
    return square(pooling(x, **kwargs))


def _squared_pooling_simple(x: Variable, **kwargs: Any) -> Variable:
    return square(pooling_simple(x, **kwargs))


def _squared_average_pooling(x: Variable, **kwargs: Any) -> Variable:
    return square(average_pooling(x, **kwargs))


def _squared_im2col(x: Variable, **kwargs: Any) -> Variable:
    return square(im2col(x, **kwargs))


def _squared_col2im(x: Variable, **kwargs: Any) -> Variable:
    return square(col2im(x, **kwargs))


CASES: list[GradCase] = [
    GradCase("conv2d", conv2d, conv_cases()),
    GradCase("conv2d_simple", conv2d_simple, conv_cases()),
    GradCase("deconv2d", deconv2d, deconv_cases()),
    GradCase("pooling", pooling, pooling_cases()),
    GradCase("pooling", _squared_pooling, pooling_cases(), "squared"),
    GradCase("pooling_simple", pooling_simple, pooling_cases()),
    GradCase("pooling_simple", _squared_pooling_simple, pooling_cases(), "squared"),
    GradCase("average_pooling", average_pooling, pooling_cases(max_pool=False)),
    GradCase("average_pooling", _squared_average_pooling, pooling_cases(max_pool=False), "squared"),
    GradCase("im2col", im2col, im2col_cases()),
    GradCase("im2col", _squared_im2col, im2col_cases(), "squared"),
    GradCase("col2im", col2im, col2im_cases()),
    GradCase("col2im", _squared_col2im, col2im_cases(), "squared"),
]
