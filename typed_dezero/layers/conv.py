"""Convolution layers (NCHW)."""

from __future__ import annotations

from typing import ClassVar, final

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr
from typed_dezero.core.variable import Parameter, Variable, to_variable
from typed_dezero.errors import DezeroValueError, ShapeError
from typed_dezero.layers._init import (
    DTypeArg,
    check_dtype,
    check_fits,
    check_positive,
    generator,
    scaled_normal,
)
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


class _Convolution(Layer[[Variable | Arr], Variable]):
    """What Conv2d and Deconv2d share: the lazy weight and the call. Each subclass keeps its own
    runtime-checked ``__init__``, so that argument errors name it."""

    W: Parameter
    b: Parameter | None
    transposed: ClassVar[bool]
    """False: W is (out_channels, in_channels, KH, KW); True: (in_channels, out_channels, KH, KW)."""

    def _setup(  # noqa: PLR0917 - the constructor's arguments, passed on
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair,
        pad: IntPair,
        nobias: bool,
        in_channels: int | None,
        rng: np.random.Generator | None,
    ) -> None:
        where = type(self).__name__
        check_positive(where, out_channels=out_channels, in_channels=in_channels)
        check_fits(where, "b (out_channels,)", (out_channels,))
        self.out_channels = out_channels
        self.kernel_size = _check_geometry(where, kernel_size, stride, pad)
        self.stride = stride
        self.pad = pad
        self._rng = generator(rng)
        self.declare_lazy_parameter("W", self._weight_shape(None))
        if in_channels is not None:
            self._init_W(in_channels)
        self.b = None if nobias else Parameter(np.zeros(out_channels), name="b")

    def _weight_shape(self, in_channels: int | None) -> tuple[int | None, ...]:
        pair_ = (in_channels, self.out_channels) if self.transposed else (self.out_channels, in_channels)
        return (*pair_, *self.kernel_size)

    def _init_W(self, in_channels: int) -> None:
        kh, kw = self.kernel_size
        shape = (
            (in_channels, self.out_channels, kh, kw)
            if self.transposed
            else (self.out_channels, in_channels, kh, kw)
        )
        layout = (
            "(in_channels, out_channels, KH, KW)"
            if self.transposed
            else "(out_channels, in_channels, KH, KW)"
        )
        check_fits(type(self).__name__, f"W {layout}", shape)
        self.set_lazy_parameter("W", scaled_normal(self._rng, shape, in_channels * kh * kw))

    def _apply(self, x: Variable) -> Variable:
        if self.transposed:
            return F.deconv2d(x, self.W, self.b, self.stride, self.pad)
        return F.conv2d(x, self.W, self.b, self.stride, self.pad)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        where = type(self).__name__
        x = to_variable(where, x, "x")
        if self.is_initialized("W"):
            return self._apply(x)
        self._init_W(_channels(where, x))  # undone if the call fails (see Layer.__call__)
        return self._apply(x)


@final
class Conv2d(_Convolution):
    """2-D convolution with W of shape (out_channels, in_channels, KH, KW) and bias (out_channels,).

    With ``in_channels=None`` W is created at the first call from the input's channels.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> conv = L.Conv2d(8, kernel_size=3, pad=1)
        >>> conv(np.ones((2, 3, 5, 5))).shape, conv.W.shape
        ((2, 8, 5, 5), (8, 3, 3, 3))
    """

    transposed = False

    @typechecked
    def __init__(  # noqa: PLR0917 - DeZero's positional signature
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        pad: IntPair = 0,
        nobias: bool = False,
        dtype: DTypeArg = None,
        in_channels: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_dtype(type(self).__name__, dtype)
        self._setup(out_channels, kernel_size, stride, pad, nobias, in_channels, rng)


@final
class Deconv2d(_Convolution):
    """Transposed 2-D convolution with W of shape (in_channels, out_channels, KH, KW); the same
    arguments as :class:`Conv2d`.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.layers as L
        >>> up = L.Deconv2d(2, kernel_size=2, stride=2)  # doubles the resolution
        >>> up(np.ones((1, 3, 4, 4))).shape, up.W.shape
        ((1, 2, 8, 8), (3, 2, 2, 2))
    """

    transposed = True

    @typechecked
    def __init__(  # noqa: PLR0917 - DeZero's positional signature
        self,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        pad: IntPair = 0,
        nobias: bool = False,
        dtype: DTypeArg = None,
        in_channels: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_dtype(type(self).__name__, dtype)
        self._setup(out_channels, kernel_size, stride, pad, nobias, in_channels, rng)
