"""tanh's fused derivative nodes (``_TanhGrad``, ``_ScaledProduct``): derivatives of order 1 to 4
against the closed forms and PyTorch's, on both backward paths, out to where tanh saturates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import typed_dezero.functions as F
from tests.oracle._torch import array, tensor, torch
from tests.strategies import shapes
from typed_dezero import Arr, Function, Variable
from typed_dezero.functions import math as math_ops

CLOSED_FORMS: dict[int, Callable[[Arr], Arr]] = {
    1: lambda t: 1 - t * t,
    2: lambda t: -2 * t * (1 - t * t),
    3: lambda t: (1 - t * t) * (6 * t * t - 2),
    4: lambda t: 8 * t * (1 - t * t) * (2 - 3 * t * t),
}
"""The k-th derivative of tanh as a function of t = tanh(x)."""

# Moderate values, and values where tanh is saturated (|x| > 19: t rounds to +-1 and every
# derivative to 0 or to denormal-free tiny values) up to float64's largest.
SATURATED = st.sampled_from([19.0, 25.0, 40.0, 400.0, 1e6, 1e300, np.finfo(np.float64).max])
ELEMENTS = st.one_of(
    st.floats(-20.0, 20.0, allow_nan=False, allow_infinity=False),
    SATURATED,
    SATURATED.map(lambda v: -v),
)


def _derivatives(a: Arr, *, last_create_graph: bool) -> list[Arr]:
    """d^k/dx^k tanh(x) elementwise for k = 1..4, by repeated backward of the sum; the last
    backward with `last_create_graph` (False: the array fast path, backward_data)."""
    x = Variable(a.copy())
    g = F.sum(F.tanh(x))
    out: list[Arr] = []
    for k in range(1, 5):
        g.backward(create_graph=k < 4 or last_create_graph)
        gx = x.grad
        assert gx is not None
        out.append(gx.data)
        x.cleargrad()
        g = F.sum(gx)
    return out


def _torch_derivatives(a: Arr) -> list[Arr]:
    t = tensor(a, requires_grad=True)
    g = t.tanh().sum()
    out: list[Arr] = []
    for _ in range(4):
        (gt,) = torch.autograd.grad(g, [t], create_graph=True, allow_unused=True, materialize_grads=True)
        out.append(array(gt))
        g = gt.sum()
    return out


@given(a=hnp.arrays(np.float64, shapes(max_dims=2), elements=ELEMENTS))
def test_orders_1_to_4_match_the_closed_forms_and_torch(a: Arr) -> None:
    t = np.tanh(a)
    expected = [CLOSED_FORMS[k](t) for k in range(1, 5)]
    reference = _torch_derivatives(a)
    for last_create_graph in (False, True):
        got = _derivatives(a, last_create_graph=last_create_graph)
        for k, (mine, closed, theirs) in enumerate(zip(got, expected, reference, strict=True), 1):
            assert np.isfinite(mine).all(), f"order {k}: {mine}"
            np.testing.assert_allclose(mine, closed, rtol=1e-12, atol=1e-12, err_msg=f"order {k}")
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12, err_msg=f"order {k}")


def _nodes_built(order: int) -> int:
    """Function nodes recorded while computing the derivative of `order` of tanh at a 0-d x."""
    built = 0
    call = Function.__call__

    def counting(fn: Function, *inputs: Variable) -> object:
        nonlocal built
        out = call(fn, *inputs)
        built += bool(fn.outputs)
        return out

    x = Variable(np.array(1.0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Function, "__call__", counting)
        g = F.tanh(x)
        for _ in range(order):
            g.backward(create_graph=True)
            gx = x.grad
            assert gx is not None
            x.cleargrad()
            g = gx
    return built


def test_each_order_adds_few_nodes() -> None:
    # Fused: one node per term of each derivative (79 nodes for the 4th with tanh's derivative
    # written as gy * (1 - y * y) and a differentiable seed).
    assert [_nodes_built(k) for k in range(1, 5)] == [2, 4, 9, 20]


def test_the_seed_of_backward_is_a_constant() -> None:
    x = Variable(np.array(0.5))
    y = F.tanh(x)
    y.backward(create_graph=True, retain_grad=True)
    assert y.grad is not None
    assert not y.grad.requires_grad  # no gradient is ever computed for it, as in PyTorch
    assert x.grad is not None
    assert x.grad.requires_grad


@pytest.mark.parametrize("needs", [(True, True), (True, False), (False, True)])
def test_tanh_grad_differentiates_the_inputs_that_need_it(needs: tuple[bool, bool]) -> None:
    y, gy = Variable(np.array([0.3, -0.8])), Variable(np.array([1.5, 2.0]))
    y.requires_grad, gy.requires_grad = needs
    out = math_ops._TanhGrad()(y, gy)  # pyright: ignore[reportPrivateUsage]
    np.testing.assert_allclose(out.data, gy.data * (1 - y.data**2))
    F.sum(out * out).backward(create_graph=True)
    g = 2 * out.data
    assert (y.grad is not None) == needs[0]
    assert (gy.grad is not None) == needs[1]
    if y.grad is not None:
        np.testing.assert_allclose(y.grad.data, -2 * y.data * gy.data * g)
    if gy.grad is not None:
        np.testing.assert_allclose(gy.grad.data, g * (1 - y.data**2))


@pytest.mark.parametrize("skip", [None, 0, 1, 2])
def test_scaled_product_differentiates_the_inputs_that_need_it(skip: int | None) -> None:
    values = [np.array([0.5, -1.0]), np.array([2.0, 3.0]), np.array([-0.25, 4.0])]
    xs = [Variable(v.copy()) for v in values]
    if skip is not None:
        xs[skip].requires_grad = False
    out = math_ops._ScaledProduct(-2.0)(*xs)  # pyright: ignore[reportPrivateUsage]
    np.testing.assert_allclose(out.data, -2.0 * values[0] * values[1] * values[2])
    for create_graph in (False, True):
        for x in xs:
            x.cleargrad()
        F.sum(out).backward(create_graph=create_graph)
        for i, x in enumerate(xs):
            if i == skip:
                assert x.grad is None
                continue
            assert x.grad is not None
            others = [v for j, v in enumerate(values) if j != i]
            np.testing.assert_allclose(x.grad.data, -2.0 * others[0] * others[1])
