"""The wrong calls of tests/typecheck/fail/fail_functions.py also fail at run time, with TypeError."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import Variable

x = Variable(np.ones((2, 3)))
ints = np.ones((2, 3), dtype=np.int64)
singles = np.ones((2, 3), dtype=np.float32)
four = (x, x, x, x)

CALLS: list[tuple[str, Callable[[], object]]] = [
    ("sin(ints)", lambda: F.sin(ints)),  # type: ignore[arg-type]
    ("tanh(singles)", lambda: F.tanh(singles)),  # type: ignore[arg-type]
    ("exp(list)", lambda: F.exp([1.0, 2.0])),  # type: ignore[arg-type]
    ("log(float)", lambda: F.log(2.0)),  # type: ignore[arg-type]
    ("add(x, str)", lambda: F.add(x, "1")),  # type: ignore[arg-type]
    ("mul(x, ints)", lambda: F.mul(x, ints)),  # type: ignore[arg-type]
    ("matmul(x, float)", lambda: F.matmul(x, 2.0)),  # type: ignore[arg-type]
    ("linear(x, singles)", lambda: F.linear(x, singles)),  # type: ignore[arg-type]
    ("transpose(x, floats)", lambda: F.transpose(x, [1.0, 0.0])),  # type: ignore[list-item]
    ("reshape(x, str)", lambda: F.reshape(x, "23")),  # type: ignore[arg-type]
    ("expand_dims(x, float)", lambda: F.expand_dims(x, 0.5)),  # type: ignore[arg-type]
    ("broadcast_to(x, int)", lambda: F.broadcast_to(x, 6)),  # type: ignore[arg-type]
    ("max(x, axis=floats)", lambda: F.max(x, axis=[0.0])),  # type: ignore[list-item]
    ("mean(x, keepdims=str)", lambda: F.mean(x, keepdims="yes")),  # type: ignore[arg-type]
    ("get_item(x, float)", lambda: F.get_item(x, 1.5)),  # type: ignore[arg-type]
    ("lstm_step(three W_x)", lambda: F.lstm_step(x, None, None, (x, x, x), four, four)),  # type: ignore[arg-type]
    ("lstm_step(c singles)", lambda: F.lstm_step(x, None, singles, four, four, four)),  # type: ignore[arg-type]
    ("lstm_step_simple(h list)", lambda: F.lstm_step_simple(x, [1.0], None, four, four, four)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_wrong_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()
