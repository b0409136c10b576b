"""Resources: graphs of a million nodes in depth (a chain) and in width (a sum of a million terms)
are built, backpropagated and freed without RecursionError or crash; dropping a graph returns every
Variable, Function and byte it used, with the garbage collector disabled (so nothing may hang in a
reference cycle). Marked ``resources`` (they run in ``make test``; deselect with -m 'not resources')."""

from __future__ import annotations

import collections
import gc
import sys
import time
import tracemalloc
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Function, Variable, detect_anomaly
from typed_dezero.optimizers import Adam

from .harness import COUNTS

pytestmark = pytest.mark.resources

MILLION: Final = 1_000_000


def live_graph_objects() -> collections.Counter[str]:
    """Live Variables and Functions, found through the type's MRO (isinstance would fill the ABC
    caches with weak references and change what is counted)."""
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        mro = type(obj).__mro__
        if Variable in mro:
            counts["Variable"] += 1
        elif Function in mro:
            counts["Function"] += 1
    return counts


@pytest.fixture
def gc_disabled() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _sample(nodes: list[weakref.ref[Any]], obj: object, i: int) -> None:
    if i % 10_000 == 0:
        nodes.append(weakref.ref(obj))


def test_a_chain_of_a_million_nodes(gc_disabled: None) -> None:
    start = time.perf_counter()
    x = Variable(np.array(1.0))
    y = x
    nodes: list[weakref.ref[Any]] = []  # every 10,000th Variable and Function, to see them freed
    for i in range(MILLION):
        y = y * 1.0
        _sample(nodes, y, i)
        _sample(nodes, y.creator, i)
    assert y.generation == MILLION > sys.getrecursionlimit()
    y.backward()
    assert x.grad is not None
    assert float(x.grad.data) == 1.0
    assert all(ref() is not None for ref in nodes)
    del y  # frees a million nested nodes at once: no C stack overflow either
    assert all(ref() is None for ref in nodes)  # freed by reference counting alone (gc is off)
    COUNTS["chain_nodes"] = MILLION
    COUNTS["chain_seconds"] = round(time.perf_counter() - start)


class SumOfTerms(Function):
    """One node with any number of inputs (DeZero's untyped style): their sum."""

    @override
    def forward(self, *xs: Any) -> Any:
        return np.asarray(np.sum(xs), dtype=np.float64)

    @override
    def backward(self, *gys: Any) -> Any:
        (gy,) = gys
        return tuple(gy for _ in self.inputs)

    @override
    def backward_data(self, *gys: Any) -> Any:
        (gy,) = gys
        return tuple(gy for _ in self.inputs)


def test_a_sum_of_a_million_terms(gc_disabled: None) -> None:
    start = time.perf_counter()
    x = Variable(np.array(1.0))
    terms = [x * 1.0 for _ in range(MILLION)]  # a million nodes of one generation
    nodes: list[weakref.ref[Any]] = []
    for i, term in enumerate(terms):
        _sample(nodes, term, i)
        _sample(nodes, term.creator, i)
    y = SumOfTerms()(*terms)
    del terms
    assert isinstance(y, Variable)
    assert float(y.data) == MILLION
    y.backward()  # the walk holds a million Functions of one generation in its heap
    assert x.grad is not None
    assert float(x.grad.data) == MILLION
    assert all(ref() is not None for ref in nodes)
    del y
    assert all(ref() is None for ref in nodes)
    COUNTS["width_nodes"] = MILLION
    COUNTS["width_seconds"] = round(time.perf_counter() - start)


def _workload() -> None:
    """A bit of everything: layers, an optimizer, a higher-order backward, anomaly mode, a chain."""
    rng = np.random.default_rng(0)
    model = L.Linear(8, in_size=4, rng=rng)
    bn = L.BatchNorm()
    opt = Adam().setup(model)
    x = Variable(rng.standard_normal((16, 4)))
    for _ in range(3):
        loss = F.softmax_cross_entropy(bn(model(x)), rng.integers(0, 8, 16))
        model.cleargrads()
        loss.backward()
        opt.update()
    with detect_anomaly():
        z = Variable(rng.standard_normal(5))
        y = F.sum(F.tanh(z) * F.exp(z))
        y.backward(create_graph=True)
        gz = z.grad
        assert gz is not None
        z.cleargrad()
        F.sum(gz).backward()
    chain = Variable(np.ones(3))
    for _ in range(2000):
        chain = F.sin(chain)
    chain.backward()


@dataclass(frozen=True)
class Usage:
    leftover: collections.Counter[str]
    """Variables and Functions alive after the runs that were not before (gc disabled all along)."""
    cycles: int
    """Objects in reference cycles the runs left behind: what a final gc.collect() finds."""
    residue: int
    """Traced bytes still allocated after the runs and that collection (which also empties
    CPython's free lists of tuples and the like, so that they do not count)."""
    peak: int


RUNS: Final = 5


def _measure(work: Callable[[], None]) -> Usage:
    """What RUNS runs of `work` leave behind, with the garbage collector disabled."""
    gc.collect()
    gc.disable()
    try:
        objects_before = live_graph_objects()
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            for _ in range(RUNS):
                work()
            leftover = live_graph_objects() - objects_before
            cycles = gc.collect()
            current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        gc.enable()
    return Usage(leftover, cycles, current - base, peak - base)


def test_memory_returns_to_baseline_after_a_graph_is_dropped() -> None:
    _workload()  # first calls decorate functions with the runtime checker and fill caches
    usage = _measure(_workload)
    assert usage.leftover == collections.Counter()
    assert usage.cycles == 0
    assert usage.peak > 1_000_000  # the runs allocated megabytes...
    assert usage.residue < 16 * 1024  # ...and gave them back (NumPy's small internal caches aside)
    COUNTS["memory_residue_bytes"] = usage.residue


def test_the_memory_check_sees_a_leak_and_a_cycle() -> None:
    kept: list[Variable] = []

    def leaky() -> None:
        _workload()
        x = Variable(np.ones(1000))
        kept.append(F.sum(F.exp(x)))  # a graph that stays reachable
        cycle: list[object] = []
        cycle.append(cycle)

    _workload()
    usage = _measure(leaky)
    assert usage.leftover == collections.Counter(Variable=3 * RUNS, Function=2 * RUNS)
    assert usage.cycles == RUNS
    assert usage.residue > RUNS * 8000


def _saliency_steps(steps: int, *, remedy: bool) -> None:
    """Training steps that also read the gradient w.r.t. the input, kept differentiable
    (create_graph=True), as for a saliency map or a later penalty; a fresh input Variable each step."""
    rng = np.random.default_rng(1)
    model = L.Linear(3, in_size=4, rng=rng)
    for _ in range(steps):
        x = Variable(rng.standard_normal((8, 4)))
        loss = F.sum(F.tanh(model(x)))
        model.cleargrads()
        loss.backward(create_graph=True)
        gx = x.grad
        assert gx is not None
        assert gx.creator is not None
        if remedy:
            x.cleargrad()
            model.cleargrads()


def test_create_graph_loops_leave_nothing_behind_with_the_documented_remedy() -> None:
    _saliency_steps(2, remedy=True)
    usage = _measure(lambda: _saliency_steps(100, remedy=True))
    assert usage.leftover == collections.Counter()
    assert usage.cycles == 0


def test_without_the_remedy_the_inherent_cycle_is_there() -> None:
    # docs/guides/higher-order.md: x holds its create_graph gradient, whose graph holds x. This
    # pins that the remedy test above would see the cycle if the remedy were missing.
    _saliency_steps(2, remedy=False)
    usage = _measure(lambda: _saliency_steps(20, remedy=False))
    assert usage.leftover["Variable"] > 0
    assert usage.cycles > 0
