"""Every registered function against central differences: first order for all, second order for
those whose backward is itself differentiable."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.functions.registry import GradCase, Outputs, all_cases
from typed_dezero import Variable
from typed_dezero.utils import gradient_check

CASES = all_cases()
SECOND_ORDER = [c for c in CASES if c.second_order]

# Public names of typed_dezero.functions that are not differentiable functions of float inputs, or
# deprecated aliases (tested with what they alias, in test_simple.py).
NOT_DIFFERENTIABLE = {"accuracy", "batch_nrom"}


def _check(case: GradCase, data: st.DataObject, order: int) -> None:
    d = data.draw(case.inputs)

    def f(*xs: Variable) -> Outputs:
        return case.fn(*xs, **d.kwargs)

    before = [a.copy() for a in d.arrays]
    result = gradient_check(f, *d.arrays, order=order, rtol=case.rtol, atol=case.atol)
    assert result, f"{case.id} with kwargs {dict(d.kwargs)}: {result}"
    for a, b in zip(before, d.arrays, strict=True):
        np.testing.assert_array_equal(a, b)  # the check leaves its inputs unchanged


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@given(data=st.data())
def test_first_order(case: GradCase, data: st.DataObject) -> None:
    _check(case, data, order=1)


@pytest.mark.parametrize("case", SECOND_ORDER, ids=lambda c: c.id)
@given(data=st.data())
def test_second_order(case: GradCase, data: st.DataObject) -> None:
    _check(case, data, order=2)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@given(data=st.data())
def test_gradients_have_input_shape_and_dtype(case: GradCase, data: st.DataObject) -> None:
    d = data.draw(case.inputs)
    xs = [Variable(a.copy()) for a in d.arrays]
    out = case.fn(*xs, **d.kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    total = outs[0].sum()
    for o in outs[1:]:
        total = total + o.sum()
    total.backward()
    for x in xs:
        assert x.grad is not None
        assert x.grad.shape == x.shape
        assert x.grad.dtype == np.float64


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@given(data=st.data())
def test_array_and_graph_backward_agree(case: GradCase, data: st.DataObject) -> None:
    """backward() may take the array fast path (backward_data); backward(create_graph=True) always
    goes through the differentiable backward: both must give the same first gradients."""
    d = data.draw(case.inputs)
    grads: list[list[np.ndarray]] = []
    for create_graph in (False, True):
        xs = [Variable(a.copy()) for a in d.arrays]
        out = case.fn(*xs, **d.kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        total = (outs[0] * 1.5).sum()
        for o in outs[1:]:
            total = total + o.sum()
        total.backward(create_graph=create_graph)
        grads.append([x.grad.data if x.grad is not None else np.zeros_like(x.data) for x in xs])
    for fast, graph in zip(*grads, strict=True):
        np.testing.assert_allclose(fast, graph, rtol=1e-12, atol=1e-12)


def test_registry_is_complete() -> None:
    public = {
        name for name in F.__all__ if inspect.isfunction(getattr(F, name)) and name not in NOT_DIFFERENTIABLE
    }
    registered = {c.name for c in CASES}
    assert public - registered == set(), "public functions missing from the gradient-check registry"
    assert registered - set(F.__all__) == set(), "registry rows naming no public function"
