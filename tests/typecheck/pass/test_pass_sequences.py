"""Shapes and axes as lists, tuples and varargs type-check (mypy strict, pyright strict) and run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_type

import numpy as np

import typed_dezero.functions as F
from typed_dezero import Variable


def test_shapes_and_axes_as_lists() -> None:
    x = Variable(np.arange(6.0).reshape(2, 3))
    shape: list[int] = [3, 2]
    dims: Sequence[int] = (1, 0)
    assert_type(x.reshape([6, 1]), Variable)
    assert_type(x.reshape((6, 1)), Variable)
    assert_type(x.reshape(6, 1), Variable)
    assert_type(x.reshape(shape), Variable)
    assert_type(F.reshape(x, [6, 1]), Variable)
    assert_type(F.reshape(x, shape), Variable)
    assert_type(x.transpose([1, 0]), Variable)
    assert_type(x.transpose(1, 0), Variable)
    assert_type(x.transpose(dims), Variable)
    assert_type(x.transpose(), Variable)
    assert_type(F.transpose(x, [1, 0]), Variable)
    assert_type(F.transpose(x, dims), Variable)
    assert_type(F.sum(x, axis=[0, 1]), Variable)
    assert_type(x.sum(axis=[0, 1]), Variable)
    assert_type(F.mean(x, axis=[0]), Variable)
    assert_type(F.max(x, axis=[0, 1]), Variable)
    assert_type(F.min(x, axis=dims), Variable)
    assert_type(F.broadcast_to(x, [2, 2, 3]), Variable)
    assert_type(F.sum_to(x, [1, 3]), Variable)
    assert x.reshape(shape).shape == (3, 2)
    assert F.sum(x, axis=[0, 1]).shape == ()
