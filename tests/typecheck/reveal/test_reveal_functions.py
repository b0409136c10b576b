"""Pinned static types of every function of the core families (arithmetic, elementwise math, shape,
reduction, linear algebra) and of the utils helpers; executed by pytest too."""

from __future__ import annotations

from typing import assert_type

import numpy as np

import typed_dezero.functions as F
import typed_dezero.utils as U
from typed_dezero import Arr, Variable


def test_arithmetic_and_math() -> None:
    a = np.linspace(0.5, 1.5, 6, dtype=np.float64).reshape(2, 3)
    x = Variable(a)
    for binary in (F.add, F.sub, F.rsub, F.mul, F.div, F.rdiv, F.pow):
        assert_type(binary(x, 2.0), Variable)
        assert_type(binary(a, x), Variable)
    assert_type(F.neg(x), Variable)
    for unary in (F.square, F.exp, F.log, F.sin, F.cos, F.tanh, F.sqrt, F.abs):
        assert_type(unary(x), Variable)
        assert_type(unary(a), Variable)


def test_shape_reduction_linalg() -> None:
    a = np.ones((2, 3), dtype=np.float64)
    x = Variable(a)
    assert_type(F.reshape(x, (3, 2)), Variable)
    assert_type(F.transpose(x), Variable)
    assert_type(F.transpose(x, (1, 0)), Variable)
    assert_type(F.get_item(x, (slice(None), np.array([0, 2]))), Variable)
    assert_type(F.expand_dims(x, 0), Variable)
    assert_type(F.squeeze(F.expand_dims(x, 0), 0), Variable)
    assert_type(F.flatten(x), Variable)
    assert_type(F.broadcast_to(x, (4, 2, 3)), Variable)
    assert_type(F.sum_to(x, (1, 3)), Variable)
    assert_type(F.sum(x, axis=(0, 1), keepdims=True), Variable)
    assert_type(F.mean(x, 1), Variable)
    assert_type(F.average(x), Variable)
    assert_type(F.max(x, -1), Variable)
    assert_type(F.min(x, None, True), Variable)
    assert_type(F.matmul(x, a.T), Variable)
    assert_type(F.linear(x, np.ones((3, 4), dtype=np.float64)), Variable)
    assert_type(F.linear(x, np.ones((3, 4), dtype=np.float64), np.zeros(4, dtype=np.float64)), Variable)


def test_utils() -> None:
    a = np.ones((2, 3), dtype=np.float64)
    assert_type(U.sum_to(a, (3,)), Arr)
    assert_type(U.logsumexp(a), Arr)
    assert_type(U.pair(3), tuple[int, int])
    assert_type(U.get_conv_outsize(8, 3, 1, 1), int)
    assert_type(U.get_deconv_outsize(8, 3, 1, 1), int)
    assert_type(U.array_equal(a, Variable(a)), bool)
    assert_type(U.array_allclose(a, a), bool)
    assert_type(U.numerical_grad(F.sin, a), list[Arr])
    assert_type(U.get_dot_graph(F.sin(a)), str)


def test_recurrent() -> None:
    x, h = Variable(np.ones((2, 3))), Variable(np.ones((2, 4)))
    w, b, u = np.ones((3, 4)), np.zeros(4), np.ones((4, 4))
    assert_type(F.lstm_step(x, h, None, (w, w, w, w), (b, b, b, b), (u, u, u, u)), tuple[Variable, Variable])
    assert_type(
        F.lstm_step_simple(x, None, h, (w, w, w, w), (b, b, b, b), (u, u, u, u)), tuple[Variable, Variable]
    )
