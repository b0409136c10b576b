"""The backward walk: ordering, accumulation, retain_grad/create_graph, depth and memory."""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given

import typed_dezero.functions as F
from tests.strategies import arrays, shapes
from typed_dezero import Arr, Function, Variable
from typed_dezero.utils import gradient_check


def _grad(x: Variable) -> Arr:
    assert x.grad is not None, "expected a gradient"
    return x.grad.data


def test_seed_is_ones_and_leaf_backward_sets_its_grad() -> None:
    x = Variable(np.array([1.0, 2.0]))
    x.backward()
    np.testing.assert_array_equal(_grad(x), [1.0, 1.0])


def test_seed_gradient_can_be_given() -> None:
    x = Variable(np.array([1.0, 2.0]))
    y = x * 3.0
    y.grad = Variable(np.array([1.0, 10.0]))
    y.backward()
    np.testing.assert_array_equal(_grad(x), [3.0, 30.0])


def test_x_plus_x_accumulates() -> None:
    x = Variable(np.array(3.0))
    y = x + x
    y.backward()
    assert float(_grad(x)) == 2.0
    x.cleargrad()
    y = x + x + x
    y.backward()
    assert float(_grad(x)) == 3.0


def test_diamond_graph_needs_generation_order() -> None:
    # y = (x^2)^2 + (x^2)^2: the shared a = x^2 must receive both contributions before it propagates
    x = Variable(np.array(2.0))
    a = F.square(x)
    y = F.add(F.square(a), F.square(a))
    y.backward()
    assert float(y.data) == 32.0
    assert float(_grad(x)) == 64.0  # d/dx 2 x^4 = 8 x^3


def test_unbalanced_diamond() -> None:
    # one branch is much deeper than the other; generation order still completes a's gradient first
    x = Variable(np.array(0.5))
    a = F.exp(x)
    deep = a
    for _ in range(20):
        deep = deep * 1.0
    y = deep + a
    y.backward()
    assert math.isclose(float(_grad(x)), 2.0 * math.exp(0.5))


def test_intermediate_gradients_are_released_unless_retained() -> None:
    x = Variable(np.array(1.0))
    a = x * 2.0
    y = a * 3.0
    y.backward()
    assert a.grad is None
    assert y.grad is None
    assert float(_grad(x)) == 6.0
    x.cleargrad()
    a = x * 2.0
    y = a * 3.0
    y.backward(retain_grad=True)
    assert float(_grad(a)) == 3.0
    assert float(_grad(y)) == 1.0


def test_calling_backward_twice_accumulates_into_leaves() -> None:
    x = Variable(np.array(2.0))
    y = x * x
    y.backward()
    y.backward()
    assert float(_grad(x)) == 8.0


def test_cleargrad_and_reuse() -> None:
    x = Variable(np.array(3.0))
    y = F.square(x)
    y.backward()
    assert float(_grad(x)) == 6.0
    x.cleargrad()
    z = F.exp(x)
    z.backward()
    assert math.isclose(float(_grad(x)), math.exp(3.0))


def test_create_graph_gives_differentiable_gradients() -> None:
    # Newton's method on f(x) = x^4 - 2x^2, as in the book's step 33
    x = Variable(np.array(2.0))
    for _ in range(10):
        y = x**4 - 2 * x**2
        x.cleargrad()
        y.backward(create_graph=True)
        gx = x.grad
        assert gx is not None
        x.cleargrad()
        gx.backward()
        gx2 = _grad(x)
        x.data -= gx.data / gx2  # in place, as in the book: a 0-d result would be a NumPy scalar
    assert math.isclose(float(x.data), 1.0)


def test_without_create_graph_gradients_have_no_creator() -> None:
    x = Variable(np.array(2.0))
    y = x**3
    y.backward()
    assert x.grad is not None
    assert x.grad.creator is None
    x.cleargrad()
    y = x**3
    y.backward(create_graph=True)
    assert x.grad is not None
    assert x.grad.creator is not None


def test_nth_derivative_of_sin() -> None:
    x = Variable(np.linspace(-3, 3, 7))
    y = F.sin(x)
    expected: list[Callable[[Arr], Arr]] = [np.cos, lambda v: -np.sin(v), lambda v: -np.cos(v), np.sin]
    for derivative in expected:
        x.cleargrad()
        y.backward(create_graph=True)
        gx = x.grad
        assert gx is not None
        np.testing.assert_allclose(gx.data, derivative(x.data), atol=1e-12)
        y = gx


@given(x=shapes().flatmap(arrays))
def test_second_order_of_composite_graph(x: Arr) -> None:
    def f(v: Variable) -> Variable:
        a = F.tanh(v)
        return a * F.exp(-(v**2)) + F.sin(a) * v

    assert gradient_check(f, x, order=2)


def test_unchain_backward_cuts_the_history() -> None:
    x = Variable(np.array(1.0))
    a = x * 2.0
    b = a * 3.0
    c = b * 4.0
    c.unchain_backward()
    assert c.creator is not None
    assert b.creator is None
    assert a.creator is None
    c.backward()
    assert x.grad is None
    assert _grad(b).item() == 4.0


def test_unchain_backward_cuts_the_other_outputs_of_the_nodes_behind() -> None:
    # An LSTM step's cell state is an output its hidden state's graph never takes as input: cut
    # behind h, it must not lead a later backward into the forgotten step.
    rng = np.random.default_rng(0)
    W = tuple(Variable(rng.standard_normal((2, 2))) for _ in range(4))
    b = tuple(Variable(np.zeros(2)) for _ in range(4))
    x = Variable(rng.standard_normal((1, 2)))
    h, c = F.lstm_step(
        x, None, None, (W[0], W[1], W[2], W[3]), (b[0], b[1], b[2], b[3]), (W[0], W[1], W[2], W[3])
    )
    h2, c2 = F.lstm_step(
        x, h, c, (W[0], W[1], W[2], W[3]), (b[0], b[1], b[2], b[3]), (W[0], W[1], W[2], W[3])
    )
    h2.unchain_backward()
    assert h2.creator is not None
    assert c2.creator is None  # the sibling of this Variable too
    assert h.creator is None
    assert c.creator is None
    F.sum(c).backward()  # a leaf now: nothing flows into the first step's weights
    assert all(w.grad is None for w in W)


def test_summing_gradients_in_place_changes_no_array_it_did_not_make() -> None:
    # x is used four times: its gradient is summed into an array of the pass's own after the second
    # term, in place from the third. The arrays the Functions returned (Add passes its output's
    # gradient on as is, shared by both inputs) and a gradient from before the pass stay as they were.
    x = Variable(np.array([1.0, 2.0]))
    a = x + x
    y = F.sum(a * 3.0 + x * x + x)
    y.backward(retain_grad=True)
    assert a.grad is not None
    np.testing.assert_array_equal(a.grad.data, [3.0, 3.0])  # retained, unchanged by x's sums
    first = _grad(x).copy()
    np.testing.assert_array_equal(first, 2 * 3.0 + 2 * x.data + 1.0)
    held = x.grad
    F.sum((x + x) * 3.0 + x * x + x).backward()  # a new graph, onto the gradient from before it
    assert held is not None
    np.testing.assert_array_equal(held.data, first)  # that array is left alone
    np.testing.assert_array_equal(_grad(x), 2 * first)


def test_an_interrupted_backward_puts_back_gradients_summed_in_place() -> None:
    x = Variable(np.array([1.0, 2.0]))
    before = Variable(np.array([10.0, 20.0]))
    x.grad = before

    class Boom(Function):
        def forward(self, *xs: Any) -> Any:
            return xs[0].copy()

        def backward(self, *gys: Any) -> Any:
            raise KeyboardInterrupt

    # Boom's gradient is computed last (the deepest node): by then x has been summed in place.
    y = F.sum(Boom()(x) * 1.0 + x * 2.0 + x * 3.0 + x * 4.0)
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    assert x.grad is before
    np.testing.assert_array_equal(before.data, [10.0, 20.0])
    x.grad = None
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    assert x.grad is None


def _count_graph_objects() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Variable | Function))


def test_forward_backward_loop_leaves_nothing_alive() -> None:
    gc.collect()
    gc.disable()
    try:
        x = Variable(np.random.default_rng(0).standard_normal((3, 3)))
        before = _count_graph_objects()
        for _ in range(50):
            y = F.sum(F.tanh(x @ x.T) * F.exp(x) + x**2)
            y.backward(create_graph=True)
            x.cleargrad()
            del y
        after = _count_graph_objects()
    finally:
        gc.enable()
    assert after == before


def _chain(n: int) -> Iterator[Variable]:
    x = Variable(np.array(1.0))
    yield x
    y = x
    for _ in range(n):
        y = y * 1.0
    yield y


def test_deep_chain_has_no_recursion_limit() -> None:
    n = 100_000
    assert n > sys.getrecursionlimit()
    x, y = _chain(n)
    y.backward()
    assert float(_grad(x)) == 1.0
    y.unchain_backward()
    x, y = _chain(n)
    del y  # freeing the whole chain at once must not overflow the C stack either
    gc.collect()
    assert x.creator is None


def test_backward_through_graph_built_with_numpy_operands() -> None:
    x = Variable(np.array([1.0, 2.0]))
    y = np.array([3.0, 4.0]) * x + np.array([1.0, 1.0])
    assert isinstance(y, Variable)
    y.sum().backward()
    np.testing.assert_array_equal(_grad(x), [3.0, 4.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradient_aliasing_does_not_leak_between_inputs(create_graph: bool) -> None:
    a = Variable(np.ones(2))
    b = Variable(np.ones(2))
    y = a + b
    y.backward(create_graph=create_graph)
    assert a.grad is not None
    assert b.grad is not None
    a.grad = Variable(a.grad.data * 5.0)
    np.testing.assert_array_equal(_grad(b), [1.0, 1.0])


@pytest.mark.parametrize("flag", ["retain_grad", "create_graph"])
def test_backward_flags_must_be_bools(flag: str) -> None:
    y = Variable(np.ones(2)) * 2.0
    flags: dict[str, Any] = {flag: "no"}  # a wrong type on purpose
    with pytest.raises(TypeError, match=rf"backward: {flag} must be a bool, got str"):
        y.backward(**flags)
    assert y.grad is None


def test_huge_python_ints_are_value_errors_naming_the_argument() -> None:
    x = Variable(np.ones(2))
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: x + 10**400, "add: x1"),
        (lambda: 10**400 * x, "mul: x0"),
        (lambda: x - 10**400, "sub: x1"),
        (lambda: F.leaky_relu(x, 10**400), "leaky_relu: slope"),
    ]
    for call, where in calls:
        with pytest.raises(ValueError, match=rf"{where} is an int of 401 digits, too large for float64"):
            call()
    # A Function refuses any bare number as an input (the operators make constants of theirs).
    with pytest.raises(TypeError, match=r"neg: x must be a Variable or a float64 ndarray, got int"):
        F.neg(10**400)
