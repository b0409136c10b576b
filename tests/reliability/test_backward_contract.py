"""The backward contract (docs/reliability.md, "Backward"): repeated backward passes, released
intermediate gradients, outputs that were dropped, a Function instance called twice, backward on a
leaf, cleargrad, and a backward that fails midway."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, TwoOutputFunction, UnaryFunction, Variable, no_grad
from typed_dezero.config import flags
from typed_dezero.errors import GraphError
from typed_dezero.functions.math import Exp


def scalar(value: float) -> Variable:
    return Variable(np.array(value))


def grad(x: Variable) -> float:
    return float(grad_array(x))


def grad_array(x: Variable) -> Arr:
    g = x.grad
    assert g is not None
    return g.data


def graph() -> tuple[Variable, Variable, Variable]:
    """x -> y = 2x -> z = y**2 = 4x**2 (dz/dx = 8x = 24 at x = 3)."""
    x = scalar(3.0)
    y = x * 2.0
    z = y * y
    return x, y, z


def test_a_second_backward_accumulates_into_leaves_and_recomputes_released_intermediates() -> None:
    x, y, z = graph()
    z.backward()
    assert grad(x) == 24.0
    assert y.grad is None  # released: the pass needs no intermediate gradient afterwards
    assert z.grad is None  # the output's own seed is released too
    z.backward()  # the graph is still there: the walk starts again from a fresh seed of ones
    assert grad(x) == 48.0
    assert y.grad is None


def test_retained_intermediate_gradients_add_up_in_a_second_backward() -> None:
    x, y, z = graph()
    z.backward(retain_grad=True)
    assert (grad(x), grad(y), grad(z)) == (24.0, 12.0, 1.0)
    z.backward(retain_grad=True)
    # y.grad is now 12 + 12 and all of it flows to x again: 24 + 2 * 24 (not 48). Clear retained
    # gradients (cleargrad) before another pass, as the documentation says.
    assert (grad(x), grad(y), grad(z)) == (72.0, 24.0, 1.0)


def test_cleargrad_makes_the_next_backward_start_afresh() -> None:
    x, y, z = graph()
    z.backward(retain_grad=True)
    for v in (x, y, z):
        v.cleargrad()
    z.backward()
    assert grad(x) == 24.0
    assert x.grad is not None
    x.cleargrad()
    assert x.grad is None


def test_backward_on_a_leaf_sets_its_seed_once() -> None:
    x = scalar(2.0)
    x.backward()
    assert grad(x) == 1.0
    x.backward()  # the seed is the existing grad: a leaf does not accumulate into itself
    assert grad(x) == 1.0
    x.grad = Variable(np.array(5.0))
    x.backward()
    assert grad(x) == 5.0


def test_a_given_seed_is_used_and_released() -> None:
    x, _, z = graph()
    z.grad = Variable(np.array(0.5))
    z.backward()
    assert grad(x) == 12.0
    assert z.grad is None


class Split(TwoOutputFunction):
    """x -> (2x, 3x): the gradient is 2 gy0 + 3 gy1 (0 for an output that received none)."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x * 2.0, x * 3.0

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return gy0 * 2.0 + gy1 * 3.0


class SplitData(TwoOutputFunction):
    """Split with the first-order fast path as well."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x * 2.0, x * 3.0

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return gy0 * 2.0 + gy1 * 3.0

    @override
    def backward_data(self, gy0: Arr, gy1: Arr, /) -> Arr:
        return gy0 * 2.0 + gy1 * 3.0


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("cls", [Split, SplitData])
def test_outputs_that_were_dropped_contribute_zeros(cls: type[TwoOutputFunction], create_graph: bool) -> None:
    x = Variable(np.ones(3))
    y0, y1 = cls()(x)
    del y1
    gc.collect()
    F.sum(y0).backward(create_graph=create_graph)
    assert np.array_equal(grad_array(x), np.full(3, 2.0))
    x.cleargrad()
    y0, y1 = cls()(x)
    F.sum(y1).backward(create_graph=create_graph)  # y0 is alive but got no gradient
    assert np.array_equal(grad_array(x), np.full(3, 3.0))


def test_both_outputs_used_sum_their_contributions() -> None:
    x = Variable(np.ones(2))
    y0, y1 = Split()(x)
    F.sum(y0 + y1).backward()
    assert np.array_equal(grad_array(x), np.full(2, 5.0))


def test_one_function_instance_called_twice_is_a_graph_error_while_recording() -> None:
    f = Exp()
    x = Variable(np.array([0.0, 1.0]))
    y = f(x)
    with pytest.raises(GraphError, match=r"Exp instance was already called while recording a graph"):
        f(Variable(np.array([2.0])))
    # the first call's graph is intact and still differentiable
    assert f.inputs == (x,)
    F.sum(y).backward()
    assert np.allclose(grad_array(x), np.exp([0.0, 1.0]))


def test_one_function_instance_may_be_called_again_under_no_grad() -> None:
    f = Exp()
    x = Variable(np.array([0.0]))
    y = f(x)
    with no_grad():
        again = f(Variable(np.array([1.0])))
        third = f(Variable(np.array([2.0])))
    assert np.allclose(again.data, np.e)
    assert np.allclose(third.data, np.exp(2.0))
    assert again.creator is None
    assert third.creator is None
    assert f.inputs == (x,)  # the recorded node still belongs to the first call
    y.backward()
    assert np.allclose(grad_array(x), 1.0)


def test_a_function_first_called_under_no_grad_can_record_once_later() -> None:
    f = Exp()
    with no_grad():
        f(Variable(np.array([1.0])))
    x = Variable(np.array([0.0]))
    y = f(x)
    assert y.creator is f
    with pytest.raises(GraphError):
        f(x)


class Failing(UnaryFunction):
    """A user Function whose backward raises."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x.copy()

    @override
    def backward(self, gy: Variable, /) -> Variable:
        msg = "this backward fails"
        raise RuntimeError(msg)


def test_a_backward_that_fails_midway_restores_the_flags_and_every_gradient() -> None:
    x = scalar(1.0)
    x.grad = Variable(np.array(5.0))  # a gradient from an earlier pass, which must survive
    y = x * 3.0 + Failing()(x)  # both branches at generation 0: x * 3.0 (added first) runs first
    with pytest.raises(RuntimeError, match="this backward fails"):
        y.backward()
    assert flags().enable_backprop is True
    assert flags().detect_anomaly is False
    # Atomic: the 3 that x * 3.0 added before the failure was taken back, the seed too.
    assert grad(x) == 5.0
    assert y.grad is None
    assert F.exp(x).creator is not None  # recording works again


def test_unchain_backward_stops_a_later_backward() -> None:
    x, y, z = graph()
    z.unchain_backward()
    assert z.creator is not None
    assert y.creator is None
    z.backward()
    assert x.grad is None  # y is now a leaf: the walk ends there
    assert grad(y) == 12.0
