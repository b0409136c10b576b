"""The wrong calls of tests/typecheck/fail/fail_conv.py also fail at run time, with TypeError."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

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
ints = np.zeros((1, 1, 4, 4), dtype=np.int64)
singles = np.zeros((1, 1, 2, 2), dtype=np.float32)

CALLS: list[tuple[str, Callable[[], object]]] = [
    ("conv2d(ints)", lambda: conv2d(ints, w)),  # type: ignore[arg-type]
    ("conv2d(W singles)", lambda: conv2d(x, singles)),  # type: ignore[arg-type]
    ("conv2d(stride=float)", lambda: conv2d(x, w, stride=1.5)),  # type: ignore[arg-type]
    ("conv2d(pad=triple)", lambda: conv2d(x, w, pad=(1, 1, 1))),  # type: ignore[arg-type]
    ("conv2d(pad=list)", lambda: conv2d(x, w, pad=[1, 1])),  # type: ignore[arg-type]
    ("conv2d(b=float)", lambda: conv2d(x, w, 0.0)),  # type: ignore[arg-type]
    ("deconv2d(outsize=list)", lambda: deconv2d(x, w, outsize=[5, 5])),  # type: ignore[arg-type]
    ("deconv2d(stride=str)", lambda: deconv2d(x, w, stride="2")),  # type: ignore[arg-type]
    ("pooling(no kernel)", lambda: pooling(x)),  # type: ignore[call-arg]
    ("pooling(kernel=str)", lambda: pooling(x, "2")),  # type: ignore[arg-type]
    ("pooling(stride=None)", lambda: pooling(x, 2, stride=None)),  # type: ignore[arg-type]
    ("average_pooling(kernel=float)", lambda: average_pooling(x, 2.0)),  # type: ignore[arg-type]
    ("im2col(to_matrix=int)", lambda: im2col(x, (2, 2), to_matrix=1)),  # type: ignore[arg-type]
    ("im2col(list)", lambda: im2col([[1.0]], 2)),  # type: ignore[arg-type]
    ("col2im(input_shape=list)", lambda: col2im(x, [1, 1, 4, 4], 2)),  # type: ignore[arg-type]
    ("Conv2d(stride=float)", lambda: Conv2d(1.0)),  # type: ignore[arg-type]
    ("Pooling(kernel=triple)", lambda: Pooling((2, 2, 2))),  # type: ignore[arg-type]
    ("get_conv_outsize(float)", lambda: get_conv_outsize(4.0, 2, 1, 0)),  # type: ignore[arg-type]
    ("get_deconv_outsize(str)", lambda: get_deconv_outsize(4, 2, 1, "0")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_wrong_conv_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()
