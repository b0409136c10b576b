"""The wrong calls of tests/typecheck/fail/fail_activation_loss.py also fail at run time, with
TypeError (a DezeroTypeError)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from typed_dezero import DezeroTypeError, Variable
from typed_dezero.functions.activation import leaky_relu, log_softmax, relu, sigmoid, softmax
from typed_dezero.functions.loss import (
    accuracy,
    binary_cross_entropy,
    mean_squared_error,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)

x = Variable(np.zeros((2, 3)))
ints = np.zeros((2, 3), dtype=np.int64)
singles = np.zeros((2, 3), dtype=np.float32)
float_labels = np.array([0.0, 1.0], dtype=np.float64)
bool_targets = np.zeros((2, 3), dtype=np.bool_)
single_targets = np.zeros((2, 3), dtype=np.float32)
labels = np.array([0, 1])

CALLS: list[tuple[str, Callable[[], object]]] = [
    ("sigmoid(ints)", lambda: sigmoid(ints)),  # type: ignore[arg-type]
    ("relu(list)", lambda: relu([1.0, -1.0])),  # type: ignore[arg-type]
    ("relu(float)", lambda: relu(1.0)),  # type: ignore[arg-type]
    ("leaky_relu(slope=str)", lambda: leaky_relu(x, slope="0.1")),  # type: ignore[arg-type]
    ("softmax(axis=float)", lambda: softmax(x, axis=1.0)),  # type: ignore[arg-type]
    ("softmax(axis=None)", lambda: softmax(x, axis=None)),  # type: ignore[arg-type]
    ("log_softmax(singles)", lambda: log_softmax(singles)),  # type: ignore[arg-type]
    ("mean_squared_error(x, float)", lambda: mean_squared_error(x, 1.0)),  # type: ignore[arg-type]
    ("mean_squared_error(ints, x)", lambda: mean_squared_error(ints, x)),  # type: ignore[arg-type]
    ("softmax_cross_entropy(float labels)", lambda: softmax_cross_entropy(x, float_labels)),  # type: ignore[arg-type]
    ("softmax_cross_entropy(list)", lambda: softmax_cross_entropy(x, [0, 1])),  # type: ignore[arg-type]
    (
        "softmax_cross_entropy(Variable labels)",
        lambda: softmax_cross_entropy(x, Variable(float_labels)),  # type: ignore[arg-type]
    ),
    ("sigmoid_cross_entropy(singles t)", lambda: sigmoid_cross_entropy(x, single_targets)),  # type: ignore[arg-type]
    ("sigmoid_cross_entropy(singles x)", lambda: sigmoid_cross_entropy(singles, ints)),  # type: ignore[arg-type]
    ("binary_cross_entropy(bool t)", lambda: binary_cross_entropy(x, bool_targets)),  # type: ignore[arg-type]
    ("accuracy(float labels)", lambda: accuracy(x, float_labels)),  # type: ignore[arg-type]
    ("accuracy(int scores)", lambda: accuracy(ints, labels)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_wrong_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(DezeroTypeError):
        call()
    with pytest.raises(TypeError):
        call()
