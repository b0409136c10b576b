"""Wrong calls of the core-family functions that both checkers must reject (never executed; see
README.md); tests/functions/test_runtime_types_functions.py makes them at run time."""

from __future__ import annotations

import numpy as np

import typed_dezero.functions as F
from typed_dezero import Variable

x = Variable(np.ones((2, 3), dtype=np.float64))
ints = np.ones((2, 3), dtype=np.int64)
singles = np.ones((2, 3), dtype=np.float32)

F.sin(ints)  # type: ignore[arg-type]
F.tanh(singles)  # type: ignore[arg-type]
F.exp([1.0, 2.0])  # type: ignore[arg-type]
F.log(2.0)  # type: ignore[arg-type]
F.add(x, "1")  # type: ignore[arg-type]
F.mul(x, ints)  # type: ignore[arg-type]
F.matmul(x, 2.0)  # type: ignore[arg-type]
F.linear(x, singles)  # type: ignore[arg-type]
F.transpose(x, [1.0, 0.0])  # type: ignore[list-item]
F.reshape(x, "23")  # type: ignore[arg-type]
F.expand_dims(x, 0.5)  # type: ignore[arg-type]
F.broadcast_to(x, 6)  # type: ignore[arg-type]
F.max(x, axis=[0.0])  # type: ignore[list-item]
F.mean(x, keepdims="yes")  # type: ignore[arg-type]
F.get_item(x, 1.5)  # type: ignore[arg-type]
four = (x, x, x, x)
F.lstm_step(x, None, None, (x, x, x), four, four)  # type: ignore[arg-type]
F.lstm_step(x, None, singles, four, four, four)  # type: ignore[arg-type]
F.lstm_step_simple(x, [1.0], None, four, four, four)  # type: ignore[arg-type]
