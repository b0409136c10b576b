"""Pinned static types of the activations and losses (checked by mypy and pyright, run by pytest)."""

from __future__ import annotations

from typing import assert_type

import numpy as np

from typed_dezero import Variable
from typed_dezero.functions.activation import leaky_relu, log_softmax, relu, sigmoid, softmax
from typed_dezero.functions.loss import (
    accuracy,
    binary_cross_entropy,
    mean_squared_error,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)


def test_activation_types() -> None:
    a = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    x = Variable(a)
    assert_type(sigmoid(x), Variable)
    assert_type(sigmoid(a), Variable)
    assert_type(relu(x), Variable)
    assert_type(leaky_relu(x), Variable)
    assert_type(leaky_relu(a, 0.1), Variable)
    assert_type(leaky_relu(x, slope=1), Variable)
    assert_type(softmax(x), Variable)
    assert_type(softmax(a, axis=-1), Variable)
    assert_type(log_softmax(x), Variable)
    assert_type(log_softmax(a, 0), Variable)


def test_loss_types() -> None:
    a = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    x = Variable(a)
    labels = np.array([2, 0], dtype=np.uint8)
    assert_type(mean_squared_error(x, a), Variable)
    assert_type(mean_squared_error(a, np.zeros(3)), Variable)
    assert_type(softmax_cross_entropy(x, labels), Variable)
    assert_type(softmax_cross_entropy(a, np.array([0, 1])), Variable)
    assert_type(sigmoid_cross_entropy(x, np.ones((2, 3), dtype=np.int32)), Variable)
    assert_type(sigmoid_cross_entropy(a, np.full((2, 3), 0.5)), Variable)
    p = sigmoid(x)
    assert_type(binary_cross_entropy(p, np.zeros((2, 3), dtype=np.int64)), Variable)
    assert_type(binary_cross_entropy(p.data, np.full((2, 3), 0.25)), Variable)
    assert_type(accuracy(x, labels), Variable)
    assert_type(accuracy(a, np.array([1, 1], dtype=np.int8)), Variable)
