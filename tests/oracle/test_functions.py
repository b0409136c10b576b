"""Every public function of typed_dezero.functions and every Variable operator and method against
PyTorch's autograd (float64, CPU): forward values and gradients of order 1, 2 and 3, on the array
fast path and on the graph path (see tests/oracle/harness.py for the procedure and tolerance)."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.functions.registry import Drawn
from tests.oracle.cases_core import CASES as CORE_CASES
from tests.oracle.cases_nn import CASES as NN_CASES
from tests.oracle.cases_variable import CASES as VARIABLE_CASES
from tests.oracle.harness import OracleCase, run
from typed_dezero import Variable

CASES: list[OracleCase] = [*CORE_CASES, *NN_CASES, *VARIABLE_CASES]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_torch(case: OracleCase) -> None:
    # The hypothesis profile's examples for every case: the whole suite takes ~25 s (~45 s with
    # coverage); a slow case would get fewer with settings(max_examples=...) here, not be dropped.
    @given(drawn=case.inputs, seed=st.integers(0, 2**32 - 1))
    def check(drawn: Drawn, seed: int) -> None:
        run(case, drawn, seed)

    check()


def public_functions() -> set[str]:
    return {name for name in F.__all__ if inspect.isfunction(getattr(F, name))}


def variable_members() -> set[str]:
    """Variable's operators, methods and properties that return a Variable (``__add__``, ``T``,
    ``sum``, ...), read off the class: a new one needs an oracle case."""
    members: set[str] = set()
    for name, attr in vars(Variable).items():
        fn = attr.fget if isinstance(attr, property) else attr
        if not inspect.isfunction(fn) or (name.startswith("_") and not name.endswith("__")):
            continue
        if inspect.signature(fn).return_annotation == "Variable":
            members.add(name)
    return members


def test_every_public_function_has_an_oracle_case() -> None:
    covered = {c.name for c in CASES}
    assert public_functions() - covered == set(), "public functions without an oracle case"
    unknown = {n for n in covered if not n.startswith("Variable.")} - public_functions()
    assert unknown == set(), "oracle cases naming no public function"


def test_every_variable_operator_and_method_has_an_oracle_case() -> None:
    covered = {c.name.removeprefix("Variable.") for c in CASES if c.name.startswith("Variable.")}
    members = variable_members()
    # The introspection itself must see the operators, or the check above would pass vacuously.
    assert {"__add__", "__rpow__", "__getitem__", "__matmul__", "T", "dot", "reshape"} <= members
    assert members - covered == set(), "Variable operators/methods without an oracle case"
    assert covered - members == set(), "oracle cases naming no Variable operator/method"


def test_every_case_compares_gradients_unless_not_differentiable() -> None:
    forward_only = {c.name for c in CASES if c.orders == 0}
    assert forward_only == {"accuracy"}
    assert all(c.orders == 3 or c.label.endswith("native torch") for c in CASES if c.orders)
