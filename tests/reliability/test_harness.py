"""The fuzzing harness can fail: each breach of the error contract that attempt() checks is caught."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import Variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError

from .harness import Contract, attempt

KEPT: list[Variable] = []
CONTRACT = Contract(("frobnicate",))


def _raises(error: Exception) -> Callable[[], object]:
    def call() -> object:
        raise error

    return call


def _keeps_a_graph() -> object:
    KEPT.append(F.exp(Variable(np.ones(2))))  # a recorded node that outlives the failure
    raise DezeroValueError("frobnicate: x is wrong")


def _warns() -> object:
    warnings.warn("frobnicate: careful", RuntimeWarning, stacklevel=1)
    return None


@pytest.mark.parametrize(
    ("call", "breach"),
    [
        (_raises(KeyError("x")), "KeyError where only TypeError/ValueError may come"),
        (_raises(ZeroDivisionError("x")), "ZeroDivisionError where only"),
        (_raises(IndexError("x")), "IndexError where only"),
        (_raises(ValueError("frobnicate: x")), "a bare ValueError"),
        (_raises(DezeroTypeError("something is wrong")), "does not name the operation 'frobnicate'"),
        (_raises(DezeroTypeError("frobnicate: something is wrong")), "does not name the argument 'x'"),
        (_keeps_a_graph, "Functions created by the failed call are still alive: \\['Exp'\\]"),
        (_warns, "RuntimeWarning where only"),
    ],
)
def test_each_breach_is_reported(call: Callable[[], object], breach: str) -> None:
    with pytest.raises(AssertionError, match=breach):
        attempt(call, CONTRACT, [], argument=("x",))
    KEPT.clear()


def test_a_changed_input_is_reported_and_allowed_only_on_success_where_declared() -> None:
    x = Variable(np.zeros(2))

    def change_then_fail() -> object:
        x.data[0] = 1.0
        raise DezeroValueError("frobnicate: x is wrong")

    def change() -> object:
        x.data[1] = 2.0
        return x

    with pytest.raises(AssertionError, match=r"the call changed argument\(s\) \[0\]"):
        attempt(change_then_fail, CONTRACT, [x], may_change=(0,))
    with pytest.raises(AssertionError, match=r"the call changed argument\(s\) \[0\]"):
        attempt(change, CONTRACT, [x])
    assert attempt(change, CONTRACT, [x], may_change=(0,)).kind == "ok"


def test_a_clean_refusal_passes() -> None:
    outcome = attempt(
        _raises(DezeroValueError("frobnicate: x must be positive")), CONTRACT, [], argument=("x",)
    )
    assert (outcome.kind, outcome.message) == ("DezeroValueError", "frobnicate: x must be positive")
