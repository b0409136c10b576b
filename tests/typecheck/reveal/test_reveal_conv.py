"""Pinned static types of the convolution family (checked by mypy and pyright, run by pytest)."""

from __future__ import annotations

from typing import assert_type

import numpy as np

from typed_dezero import Variable
from typed_dezero.functions.conv import (
    AveragePooling,
    Col2im,
    Conv2d,
    Conv2DGradW,
    Conv2dNoBias,
    Deconv2d,
    Deconv2dNoBias,
    Im2col,
    Pooling,
    average_pooling,
    col2im,
    conv2d,
    deconv2d,
    im2col,
    pooling,
)
from typed_dezero.utils.conv import get_conv_outsize, get_deconv_outsize


def test_conv_types() -> None:
    a = np.linspace(-1.0, 1.0, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    x = Variable(a)
    w = Variable(np.ones((5, 3, 3, 3)))
    b = np.zeros(5)
    assert_type(conv2d(x, w), Variable)
    assert_type(conv2d(a, w.data, b, 1, 1), Variable)
    assert_type(conv2d(x, w, None, stride=(1, 2), pad=(1, 0)), Variable)
    wd = np.ones((3, 2, 2, 2))
    assert_type(deconv2d(x, wd), Variable)
    assert_type(deconv2d(a, wd, np.zeros(2), 2, 0, (8, 9)), Variable)
    assert_type(deconv2d(x, wd, outsize=9, stride=2), Variable)
    assert_type(Conv2d(1, 1)(x, w, b), Variable)
    assert_type(Conv2dNoBias()(x, w), Variable)
    assert_type(Deconv2d(2)(x, wd, np.zeros(2)), Variable)
    assert_type(Deconv2dNoBias(outsize=(5, 5))(x, wd), Variable)
    gy = conv2d(x, w, pad=1)
    assert_type(Conv2DGradW(3, 1, 1)(x, gy), Variable)


def test_pooling_and_im2col_types() -> None:
    a = np.linspace(-1.0, 1.0, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    x = Variable(a)
    assert_type(pooling(x, 2), Variable)
    assert_type(pooling(a, (2, 1), 2, (1, 0)), Variable)
    assert_type(average_pooling(x, 2, stride=2), Variable)
    assert_type(Pooling(2)(x), Variable)
    assert_type(AveragePooling((2, 2), pad=1)(a), Variable)
    col = im2col(x, 3, pad=1)
    assert_type(col, Variable)
    assert_type(im2col(a, (3, 2), (1, 2), 0, False), Variable)
    assert_type(col2im(col, x.shape, 3, pad=1), Variable)
    assert_type(col2im(col.data, (2, 3, 4, 4), (3, 3), 1, 1, True), Variable)
    assert_type(Im2col(2)(x), Variable)
    assert_type(Col2im((2, 3, 4, 4), 3, 1, 1)(col), Variable)


def test_outsize_types() -> None:
    assert_type(get_conv_outsize(4, 3, 1, 1), int)
    assert_type(get_deconv_outsize(4, 3, 1, 1), int)
