"""Convolution layers (NCHW)."""

from __future__ import annotations

from typing import final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.variable import Parameter, Variable, to_variable
from typed_dezero.errors import DezeroValueError, ShapeError
from typed_dezero.layers._init import check_fits, check_positive, generator, scaled_normal
from typed_dezero.layers.layer import Layer
from typed_dezero.utils import pair

__all__ = ["Conv2d", "Deconv2d"]

IntPair = int | tuple[int, int]


def _check_geometry(where: str, kernel_size: IntPair, stride: IntPair, pad: IntPair) -> tuple[int, int]:
    """The kernel size as a pair, after checking kernel_size >= 1, stride >= 1 and pad >= 0."""
    for name, value, minimum in (("kernel_size", kernel_size, 1), ("stride", stride, 1), ("pad", pad, 0)):
        if min(pair(value)) < minimum:
            msg = f"{where}: {name} must be >= {minimum}, got {name}={value!r}"
            raise DezeroValueError(msg)
    return pair(kernel_size)


def _channels(where: str, x: Variable) -> int:
    if x.ndim != 4:
        msg = f"{where}: expected (N, C, H, W) images, got shape {x.shape}"
        raise ShapeError(msg)
    if x.shape[1] == 0:
        msg = f"{where}: the images need at least one channel, got shape {x.shape}"
        raise ShapeError(msg)
    return x.shape[1]


@final
class Conv2d(Layer[[Variable | Arr], Variable]):
    """2-D convolution with W of shape (out_channels, in_channels, KH, KW) and bias (out_channels,).

    With ``in_channels=None`` W is created at the first call from the input's channels.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> conv = L.Conv2d(8, kernel_size=3, pad=1)
        >>> conv(np.ones((2, 3, 5, 5))).shape, conv.W.shape
        ((2, 8, 5, 5), (8, 3, 3, 3))
    """

    W: Parameter
    b: Parameter | None

    @typechecked
    def __init__(  # noqa: PLR0917 - DeZero's positional signature
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        pad: IntPair = 0,
        nobias: bool = False,
        in_channels: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive("Conv2d", out_channels=out_channels, in_channels=in_channels)
        check_fits("Conv2d", "b (out_channels,)", (out_channels,))
        self.out_channels = out_channels
        self.kernel_size = _check_geometry("Conv2d", kernel_size, stride, pad)
        self.stride = stride
        self.pad = pad
        self._rng = generator(rng)
        self.declare_lazy_parameter("W", (out_channels, None, *self.kernel_size))
        if in_channels is not None:
            self._init_W(in_channels)
        self.b = None if nobias else Parameter(np.zeros(out_channels), name="b")

    def _init_W(self, in_channels: int) -> None:
        kh, kw = self.kernel_size
        shape = (self.out_channels, in_channels, kh, kw)
        check_fits("Conv2d", "W (out_channels, in_channels, KH, KW)", shape)
        self.set_lazy_parameter("W", scaled_normal(self._rng, shape, in_channels * kh * kw))

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = to_variable("Conv2d", x, "x")
        if self.is_initialized("W"):
            return F.conv2d(x, self.W, self.b, self.stride, self.pad)
        with self._first_call(self._rng):
            self._init_W(_channels("Conv2d", x))
            return F.conv2d(x, self.W, self.b, self.stride, self.pad)


@final
class Deconv2d(Layer[[Variable | Arr], Variable]):
    """Transposed 2-D convolution with W of shape (in_channels, out_channels, KH, KW).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> up = L.Deconv2d(2, kernel_size=2, stride=2)  # doubles the resolution
        >>> up(np.ones((1, 3, 4, 4))).shape, up.W.shape
        ((1, 2, 8, 8), (3, 2, 2, 2))
    """

    W: Parameter
    b: Parameter | None

    @typechecked
    def __init__(  # noqa: PLR0917 - DeZero's positional signature
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        pad: IntPair = 0,
        nobias: bool = False,
        in_channels: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_positive("Deconv2d", out_channels=out_channels, in_channels=in_channels)
        check_fits("Deconv2d", "b (out_channels,)", (out_channels,))
        self.out_channels = out_channels
        self.kernel_size = _check_geometry("Deconv2d", kernel_size, stride, pad)
        self.stride = stride
        self.pad = pad
        self._rng = generator(rng)
        self.declare_lazy_parameter("W", (None, out_channels, *self.kernel_size))
        if in_channels is not None:
            self._init_W(in_channels)
        self.b = None if nobias else Parameter(np.zeros(out_channels), name="b")

    def _init_W(self, in_channels: int) -> None:
        kh, kw = self.kernel_size
        shape = (in_channels, self.out_channels, kh, kw)
        check_fits("Deconv2d", "W (in_channels, out_channels, KH, KW)", shape)
        self.set_lazy_parameter("W", scaled_normal(self._rng, shape, in_channels * kh * kw))

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = to_variable("Deconv2d", x, "x")
        if self.is_initialized("W"):
            return F.deconv2d(x, self.W, self.b, self.stride, self.pad)
        with self._first_call(self._rng):
            self._init_W(_channels("Deconv2d", x))
            return F.deconv2d(x, self.W, self.b, self.stride, self.pad)
