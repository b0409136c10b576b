"""The wrong calls of tests/typecheck/fail/ also fail at run time, with TypeError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, BinaryFunction, UnaryFunction, Variable, using_config
from typed_dezero.functions.math import Square

x = Variable(np.ones(2))
ints = np.ones(2, dtype=np.int64)
singles = np.ones(2, dtype=np.float32)


def _set(obj: object, name: str, value: object) -> Callable[[], object]:
    return lambda: setattr(obj, name, value)


def _enter(make: Callable[[], Any]) -> Callable[[], object]:
    def run() -> None:
        with make():
            pass

    return run


CORE_CALLS: list[tuple[str, Callable[[], object]]] = [
    ("Variable(1.0)", lambda: Variable(1.0)),  # type: ignore[arg-type]
    ("Variable(list)", lambda: Variable([1.0, 2.0])),  # type: ignore[arg-type]
    ("Variable(ints)", lambda: Variable(ints)),  # type: ignore[arg-type]
    ("Variable(singles)", lambda: Variable(singles)),  # type: ignore[arg-type]
    ("Variable(None)", lambda: Variable(None)),  # type: ignore[arg-type]
    ("Variable(name=3)", lambda: Variable(np.ones(2), name=3)),  # type: ignore[arg-type]
    ("x + ints", lambda: x + ints),  # type: ignore[operator]
    ("x * '2'", lambda: x * "2"),  # type: ignore[operator]
    ("Square()(x, x)", lambda: Square()(x, x)),  # type: ignore[call-arg]
    ("Square()(1.0)", lambda: Square()(1.0)),  # type: ignore[arg-type]
    ("F.square('x')", lambda: F.square("x")),  # type: ignore[arg-type]
    ("F.exp(singles)", lambda: F.exp(singles)),  # type: ignore[arg-type]
    ("F.sum(axis='0')", lambda: F.sum(x, axis="0")),  # type: ignore[arg-type]
    ("F.reshape(floats)", lambda: F.reshape(x, [2.0, 1.0])),  # type: ignore[list-item]
    ("x.grad = ndarray", _set(x, "grad", np.ones(2))),
    ("x.data = ints", _set(x, "data", ints)),
    ("using_config(unknown)", _enter(lambda: using_config("enable_grad", False))),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), CORE_CALLS, ids=[c[0] for c in CORE_CALLS])
def test_wrong_core_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()


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
        return x * 1.0

    @override
    def backward(self, gy: Variable, /) -> Arr:  # type: ignore[override]
        return gy.data


class NoBackward(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x


def test_wrong_subclasses_fail_at_run_time() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        TooManyInputs()(x)
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        MissingInput()(x, x)
    y = BackwardReturnsArray()(x)
    with pytest.raises(TypeError, match=r"BackwardReturnsArray\.backward must return a Variable per input"):
        y.backward()
    with pytest.raises(TypeError, match="abstract"):
        NoBackward()  # type: ignore[abstract]
