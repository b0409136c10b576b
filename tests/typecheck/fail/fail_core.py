"""Wrong uses of the core API that both checkers must reject (never executed; see README.md).

tests/test_runtime_types.py makes the same calls at run time and expects TypeError.
"""

from __future__ import annotations

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, BinaryFunction, UnaryFunction, Variable, using_config
from typed_dezero.functions.math import Square

x = Variable(np.ones(2, dtype=np.float64))
# mypy misses a dtype mismatch when the array expression flows straight into the call, so the wrong
# arrays are named first (pyright catches both spellings).
ints = np.ones(2, dtype=np.int64)
singles = np.ones(2, dtype=np.float32)

Variable(1.0)  # type: ignore[arg-type]
Variable([1.0, 2.0])  # type: ignore[arg-type]
Variable(ints)  # type: ignore[arg-type]
Variable(singles)  # type: ignore[arg-type]
Variable(None)  # type: ignore[arg-type]
Variable(np.ones(2, dtype=np.float64), name=3)  # type: ignore[arg-type]
x + ints  # type: ignore[operator]
x * "2"  # type: ignore[operator]
Square()(x, x)  # type: ignore[call-arg]
Square()(1.0)  # type: ignore[arg-type]
F.square("x")  # type: ignore[arg-type]
F.exp(singles)  # type: ignore[arg-type]
F.sum(x, axis="0")  # type: ignore[arg-type]
F.reshape(x, [2.0, 1.0])  # type: ignore[list-item]
x.grad = np.ones(2, dtype=np.float64)  # type: ignore[assignment]
x.data = ints  # type: ignore[assignment]
using_config("enable_grad", False)  # type: ignore[arg-type]


class TooManyInputs(UnaryFunction):
    @override
    def forward(self, x: Arr, y: Arr, /) -> Arr:  # type: ignore[override]
        return x

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


class MissingInput(BinaryFunction):
    @override
    def forward(self, x0: Arr, /) -> Arr:  # type: ignore[override]
        return x0

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        return gy, gy


class BackwardReturnsArray(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x

    @override
    def backward(self, gy: Variable, /) -> Arr:  # type: ignore[override]
        return gy.data


class NoBackward(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x


NoBackward()  # type: ignore[abstract]
