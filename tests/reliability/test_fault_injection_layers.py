"""Faults injected at every step of a model's first (lazy) call, of batch normalisation in training
and of dropout (see inject.py).

A lazy model's first call that fails creates no parameter or state anywhere in the model and leaves
every random generator involved in its prior state, so the next good call gives the weights of a
model that never failed. BatchNorm (the layer) and ``F.batch_norm`` in training leave their running
statistics unchanged when they fail; ``F.dropout`` leaves its generator's state unchanged. Always:
exactly the exception raised reaches the caller, and a retry gives the result of one clean call
(outputs, weights, statistics and generators, bit for bit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, Variable
from typed_dezero._typing import is_f64_array
from typed_dezero.config import flags
from typed_dezero.layers import Layer
from typed_dezero.models import MLP, Sequential

from .inject import Scenario, explore

SEED = 20261205

Generators = dict[str, np.random.Generator]


def data(*shape: int, seed: int = 0) -> Arr:
    return np.random.default_rng(SEED + seed).standard_normal(shape)


def generators() -> Generators:
    return {f"generator {i}": np.random.default_rng(SEED + i) for i in (1, 2)}


@dataclass
class Call:
    """One call of `call` on `x`, with what it may touch; the last successful call's result is
    `result`."""

    call: Callable[[Variable], Variable]
    x: Variable
    touched: dict[str, object]
    model: Layer[..., Variable] | None = None
    lazy: list[str] = field(default_factory=list[str])
    """The model's lazy names not created yet, before the call."""
    result: Variable | None = None


def run(c: Call) -> None:
    c.result = c.call(c.x)  # an assignment: no event of the scenario's own after the call


def watched(c: Call) -> dict[str, object]:
    return {**c.touched, "x": c.x, "flags": repr(flags())}


def outcome(c: Call) -> object:
    return (c.touched, c.result)


def nothing_created(c: Call) -> list[str]:
    """After a failed first call, in words (the snapshot comparison reports it too)."""
    if c.model is None:
        return []
    made = sorted(set(c.lazy) - set(c.model.uninitialized()))
    return [f"the failed first call created {made}"] if made else []


def first_call(
    name: str, make: Callable[[Generators], Layer[..., Variable]], x: Callable[[], Variable]
) -> Scenario[Call]:
    def build() -> Call:
        gens = generators()
        model = make(gens)
        return Call(model, x(), {"model": model, **gens}, model, model.uninitialized())

    return Scenario(name, build, run, watched, outcome, check=nothing_created, weight=0.5)


def mlp(gens: Generators) -> Layer[..., Variable]:
    return MLP((5, 3), rng=gens["generator 1"])


def convolutions(gens: Generators) -> Layer[..., Variable]:
    return Sequential(
        L.Conv2d(2, 3, 1, 1, rng=gens["generator 1"]),
        L.BatchNorm(),
        L.Conv2d(1, 3, 1, 1, rng=gens["generator 2"]),
    )


def linears(gens: Generators) -> Layer[..., Variable]:
    return Sequential(
        L.Linear(4, rng=gens["generator 1"]),
        L.BatchNorm(),
        L.Linear(2, rng=gens["generator 2"]),
    )


# -- batch normalisation and dropout --------------------------------------------------------------


def batch_norm_layer() -> Call:
    bn = L.BatchNorm(momentum=0.8)
    bn(data(4, 3, seed=3))  # statistics that are not the initial zeros and ones
    return Call(bn, Variable(data(4, 3, seed=4)), {"layer": bn})


def batch_norm_function() -> Call:
    mean, var = data(3, seed=5), np.abs(data(3, seed=6)) + 0.5
    gamma, beta = Variable(data(3, seed=7), name="gamma"), Variable(data(3, seed=8), name="beta")

    def call(x: Variable) -> Variable:
        return F.batch_norm(x, gamma, beta, mean, var, 0.8)

    touched: dict[str, object] = {"mean": mean, "var": var, "gamma": gamma, "beta": beta}
    return Call(call, Variable(data(2, 3, 2, 2, seed=9)), touched)


def dropout() -> Call:
    gen = np.random.default_rng(SEED + 10)

    def call(x: Variable) -> Variable:
        return F.dropout(x, 0.4, rng=gen)

    return Call(call, Variable(data(5, 4, seed=11)), {"generator": gen})


SCENARIOS = [
    first_call("MLP((5, 3)), first call", mlp, lambda: Variable(data(4, 2))),
    first_call(
        "lazy Conv2d, BatchNorm, Conv2d, first call", convolutions, lambda: Variable(data(2, 1, 4, 4))
    ),
    first_call("lazy Linear, BatchNorm, Linear, first call", linears, lambda: Variable(data(4, 3))),
    Scenario("BatchNorm layer, training", batch_norm_layer, run, watched, outcome, weight=0.5),
    # The public functions' runtime check of their result runs after their work: all or nothing.
    Scenario(
        "F.batch_norm, training", batch_norm_function, run, watched, outcome, weight=0.5, completed=watched
    ),
    Scenario("F.dropout", dropout, run, watched, outcome, completed=watched),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_call_interrupted_at_any_step_changes_nothing(scenario: Scenario[Call]) -> None:
    report = explore(scenario)
    assert report.faults > 0
    assert not report.problems, str(report)


def test_a_first_call_creates_the_parameters_and_draws_from_the_generators() -> None:
    # What the first-call scenarios break must be real work: parameters created, generators used.
    for make in (mlp, convolutions, linears):
        gens = generators()
        states = [repr(g.bit_generator.state) for g in gens.values()]
        model = make(gens)
        assert model.uninitialized() != []
        model(Variable(data(2, 1, 4, 4) if make is convolutions else data(4, 3)))
        assert model.uninitialized() == []
        assert states != [repr(g.bit_generator.state) for g in gens.values()]


def test_batch_norm_in_training_moves_the_statistics() -> None:
    c = batch_norm_function()
    mean, var = c.touched["mean"], c.touched["var"]
    assert is_f64_array(mean)
    assert is_f64_array(var)
    before = mean.copy(), var.copy()
    run(c)
    assert not np.array_equal(mean, before[0])
    assert not np.array_equal(var, before[1])
