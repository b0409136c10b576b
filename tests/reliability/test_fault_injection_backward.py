"""Faults injected at every step of ``Variable.backward()`` (see inject.py).

The promise: after any exception raised inside ``backward()`` (KeyboardInterrupt and MemoryError
included) no gradient of any Variable has changed (leaves, retained intermediates, and the output's
seed: an output whose grad was None is None again, a seed given by hand is that same object), no
node of the graph has changed, the switches are restored, exactly the exception raised reaches the
caller, and a retry gives the gradients of one clean backward bit for bit. Graphs cover the
first-order fast path (built-ins' backward_data), create_graph=True, retain_grad=True, DeZero-style
user Functions and typed ones, a two-output Function, a node reached along several paths, leaves
that already hold a gradient, a seed set by hand, a leaf, and anomaly mode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, TwoOutputFunction, UnaryFunction, Variable
from typed_dezero.config import flags, flags_var

from .dezero_style import Cube, Mul
from .harness import FunctionState
from .inject import Scenario, explore

SEED = 20261202


def leaf(name: str, *shape: int, seed: int = 0) -> Variable:
    return Variable(np.random.default_rng(SEED + seed).standard_normal(shape), name=name)


# -- user Functions ---------------------------------------------------------------------------------


class Sine(UnaryFunction):
    """A typed user Function without backward_data: always the Variable path."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.sin(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * F.cos(x)


class Split(TwoOutputFunction):
    """x -> (2x, x**2): the Variable path only."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x * 2.0, x * x

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy0 * 2.0 + gy1 * 2.0 * x


class SplitData(TwoOutputFunction):
    """Split with the first-order fast path."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x * 2.0, x * x

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy0 * 2.0 + gy1 * 2.0 * x

    @override
    def backward_data(self, gy0: Arr, gy1: Arr, /) -> Arr:
        (x,) = self.inputs
        return gy0 * 2.0 + gy1 * 2.0 * x.data


# -- graphs ---------------------------------------------------------------------------------------


@dataclass
class Graph:
    """A graph and everything in it: the output, every Variable it depends on (leaves, constants,
    intermediates) and every Function node, gathered when the graph was built."""

    output: Variable
    variables: list[Variable]
    functions: list[FunctionState]
    """The Function nodes, watched by their attributes."""


def gather(output: Variable) -> Graph:
    variables: list[Variable] = [output]
    functions: list[FunctionState] = []
    seen_v, seen_f = {id(output)}, set[int]()
    pending = [output]
    while pending:
        f = pending.pop().creator
        if f is None or id(f) in seen_f:
            continue
        seen_f.add(id(f))
        functions.append(FunctionState(f))
        for x in f.inputs:
            if id(x) not in seen_v:
                seen_v.add(id(x))
                variables.append(x)
                pending.append(x)
    return Graph(output, variables, functions)


def builtin_graph() -> Variable:
    """Built-ins only (all with backward_data); ``a`` is reached along three paths."""
    x, W = leaf("x", 2, 3), leaf("W", 3, 2, seed=1)
    a = F.exp(x * 0.5)
    h = F.matmul(a, W)
    b = F.tanh(h) * 2.0
    return F.sum(b) + F.sum(a * x) + F.sum(F.sigmoid(a))


def user_graph() -> Variable:
    """DeZero-style and typed user Functions mixed with built-ins; ``c`` is shared."""
    x, y = leaf("x", 3), leaf("y", 3, seed=1)
    c = Cube()(x)
    s = Sine()(c)
    m = Mul()(c, y)
    return F.sum(s * m) + F.sum(Mul()(m, x))


def two_output_graph(cls: type[TwoOutputFunction]) -> Callable[[], Variable]:
    def build() -> Variable:
        x = leaf("x", 3)
        y0, y1 = cls()(x)
        z0, z1 = cls()(y1)  # z0 is dropped: its gradient is zeros
        del z0
        return F.sum(y0 * y1) + F.sum(F.exp(z1 * 0.1))

    return build


def with_previous_pass(build: Callable[[], Variable], **options: bool) -> Callable[[], Variable]:
    """The graph after one clean backward: leaves (and, with retain_grad, intermediates) hold a
    gradient that the next pass accumulates into."""

    def build_twice() -> Variable:
        y = build()
        y.backward(**options)
        return y

    return build_twice


def with_seed(build: Callable[[], Variable]) -> Callable[[], Variable]:
    def seeded() -> Variable:
        y = build()
        y.grad = Variable(np.array(0.5))
        return y

    return seeded


def a_leaf() -> Variable:
    return leaf("x", 2)


# -- the scenarios ----------------------------------------------------------------------------------


def label(i: int, v: Variable) -> str:
    if v.name is not None:
        return f"variable {i} ({v.name})"
    return (
        f"variable {i} (output of {type(v.creator).__name__})" if v.creator else f"variable {i} (a constant)"
    )


def watched(graph: Graph) -> dict[str, object]:
    items: dict[str, object] = {label(i, v): v for i, v in enumerate(graph.variables)}
    items["functions"] = graph.functions
    items["flags"] = repr(flags())  # by value: the switches, not the object holding them
    return items


def backward_scenario(
    name: str, build: Callable[[], Variable], *, anomaly: bool = False, **options: bool
) -> Scenario[Graph]:
    def run(graph: Graph) -> None:
        graph.output.backward(**options)

    def build_graph() -> Graph:
        if anomaly:  # set here, not by a with-block in run: its exit is not backward's
            flags_var.set(flags()._replace(detect_anomaly=True))
        return gather(build())

    return Scenario(name, build_graph, run, watched, watched)


SCENARIOS = [
    backward_scenario("built-ins, fast path", builtin_graph),
    backward_scenario("built-ins, create_graph", builtin_graph, create_graph=True),
    backward_scenario("built-ins, retain_grad", builtin_graph, retain_grad=True),
    backward_scenario("built-ins, anomaly mode", builtin_graph, anomaly=True),
    backward_scenario("user Functions", user_graph),
    backward_scenario("user Functions, create_graph", user_graph, create_graph=True),
    backward_scenario("two outputs, Variable path", two_output_graph(Split)),
    backward_scenario("two outputs, fast path", two_output_graph(SplitData)),
    backward_scenario("two outputs, create_graph", two_output_graph(SplitData), create_graph=True),
    backward_scenario("accumulating, fast path", with_previous_pass(builtin_graph)),
    backward_scenario(
        "accumulating, create_graph",
        with_previous_pass(user_graph, create_graph=True),
        create_graph=True,
    ),
    backward_scenario(
        "accumulating, retained intermediates",
        with_previous_pass(builtin_graph, retain_grad=True),
        retain_grad=True,
    ),
    backward_scenario("a seed set by hand", with_seed(builtin_graph)),
    backward_scenario("a leaf", a_leaf),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_backward_interrupted_at_any_step_changes_no_gradient(scenario: Scenario[Graph]) -> None:
    report = explore(scenario)
    assert report.faults > 0
    assert not report.problems, str(report)
