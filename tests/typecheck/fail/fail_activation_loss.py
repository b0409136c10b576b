"""Wrong uses of the activations and losses that both checkers must reject (never executed; see
README.md). tests/functions/test_runtime_types_activation_loss.py makes the same calls at run time
and expects TypeError."""

from __future__ import annotations

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

x = Variable(np.zeros((2, 3)))
# mypy misses a dtype mismatch when the array expression flows straight into the call, so the wrong
# arrays are named first (pyright catches both spellings).
ints = np.zeros((2, 3), dtype=np.int64)
singles = np.zeros((2, 3), dtype=np.float32)
float_labels = np.array([0.0, 1.0], dtype=np.float64)
bool_targets = np.zeros((2, 3), dtype=np.bool_)
single_targets = np.zeros((2, 3), dtype=np.float32)
labels = np.array([0, 1])

sigmoid(ints)  # type: ignore[arg-type]
relu([1.0, -1.0])  # type: ignore[arg-type]
relu(1.0)  # type: ignore[arg-type]
leaky_relu(x, slope="0.1")  # type: ignore[arg-type]
softmax(x, axis=1.0)  # type: ignore[arg-type]
softmax(x, axis=None)  # type: ignore[arg-type]
log_softmax(singles)  # type: ignore[arg-type]
mean_squared_error(x, 1.0)  # type: ignore[arg-type]
mean_squared_error(ints, x)  # type: ignore[arg-type]
softmax_cross_entropy(x, float_labels)  # type: ignore[arg-type]
softmax_cross_entropy(x, [0, 1])  # type: ignore[arg-type]
softmax_cross_entropy(x, Variable(float_labels))  # type: ignore[arg-type]
sigmoid_cross_entropy(x, single_targets)  # type: ignore[arg-type]
sigmoid_cross_entropy(singles, ints)  # type: ignore[arg-type]
binary_cross_entropy(x, bool_targets)  # type: ignore[arg-type]
accuracy(x, float_labels)  # type: ignore[arg-type]
accuracy(ints, labels)  # type: ignore[arg-type]
