"""Wrong uses of the convolution family that both checkers must reject (never executed; see
README.md). tests/functions/test_runtime_types_conv.py makes the same calls at run time and expects
TypeError."""

from __future__ import annotations

import numpy as np

from typed_dezero import Variable
from typed_dezero.functions.conv import (
    Conv2d,
    Pooling,
    average_pooling,
    col2im,
    conv2d,
    deconv2d,
    im2col,
    pooling,
)
from typed_dezero.utils.conv import get_conv_outsize, get_deconv_outsize

x = Variable(np.zeros((1, 1, 4, 4)))
w = Variable(np.ones((1, 1, 2, 2)))
# mypy misses a dtype mismatch when the array expression flows straight into the call, so the wrong
# arrays are named first (pyright catches both spellings).
ints = np.zeros((1, 1, 4, 4), dtype=np.int64)
singles = np.zeros((1, 1, 2, 2), dtype=np.float32)

conv2d(ints, w)  # type: ignore[arg-type]
conv2d(x, singles)  # type: ignore[arg-type]
conv2d(x, w, stride=1.5)  # type: ignore[arg-type]
conv2d(x, w, pad=(1, 1, 1))  # type: ignore[arg-type]
conv2d(x, w, pad=[1, 1])  # type: ignore[arg-type]
conv2d(x, w, 0.0)  # type: ignore[arg-type]
deconv2d(x, w, outsize=[5, 5])  # type: ignore[arg-type]
deconv2d(x, w, stride="2")  # type: ignore[arg-type]
pooling(x)  # type: ignore[call-arg]
pooling(x, "2")  # type: ignore[arg-type]
pooling(x, 2, stride=None)  # type: ignore[arg-type]
average_pooling(x, 2.0)  # type: ignore[arg-type]
im2col(x, (2, 2), to_matrix=1)  # type: ignore[arg-type]
im2col([[1.0]], 2)  # type: ignore[arg-type]
col2im(x, [1, 1, 4, 4], 2)  # type: ignore[arg-type]
Conv2d(1.0)  # type: ignore[arg-type]
Pooling((2, 2, 2))  # type: ignore[arg-type]
get_conv_outsize(4.0, 2, 1, 0)  # type: ignore[arg-type]
get_deconv_outsize(4, 2, 1, "0")  # type: ignore[arg-type]
