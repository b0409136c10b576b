"""Faults injected at every step of ``Optimizer.update()`` (see inject.py).

The promise: after any exception raised inside ``update()`` every parameter's data and gradient (the
arrays, by value, and the objects holding them), the optimizer's state (its per-parameter arrays
and its counters, such as Adam's ``t``), its hooks and the switches are as they were, exactly the
exception raised reaches the caller, and a retry updates exactly as one clean update does. Each
optimizer has already made one update, so that its state exists, and is tried alone and with the
hooks WeightDecay and ClipGrad (which change gradients in place).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Parameter
from typed_dezero.config import flags
from typed_dezero.optimizers import (
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    ClipGrad,
    MomentumSGD,
    Optimizer,
    WeightDecay,
)

from .inject import Scenario, explore

SEED = 20261203
X = np.random.default_rng(SEED).standard_normal((4, 2))

OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {
    "SGD": lambda: SGD(lr=0.1),
    "MomentumSGD": lambda: MomentumSGD(lr=0.1, momentum=0.9),
    "AdaGrad": lambda: AdaGrad(lr=0.1),
    "AdaDelta": lambda: AdaDelta(rho=0.9),
    "Adam": lambda: Adam(alpha=0.1),
}


@dataclass
class Training:
    model: L.Linear
    optimizer: Optimizer
    frozen: Parameter
    """A parameter of the model that never gets a gradient: update() skips it."""


def backward(model: L.Linear) -> None:
    model.cleargrads()
    F.sum(model(X) ** 2).backward()


def training(make: Callable[[], Optimizer], hooks: bool) -> Callable[[], Training]:
    def build() -> Training:
        model = L.Linear(3, in_size=2, rng=np.random.default_rng(SEED))
        model.frozen = frozen = Parameter(np.ones(2), name="frozen")
        optimizer = make().setup(model)
        if hooks:
            optimizer.add_hook(WeightDecay(0.01))
            optimizer.add_hook(ClipGrad(0.5))  # the gradients' norm is larger: they are scaled
        backward(model)
        optimizer.update()  # the state exists from here on
        backward(model)
        return Training(model, optimizer, frozen)

    return build


def watched(t: Training) -> dict[str, object]:
    return {"model": t.model, "optimizer": t.optimizer, "flags": repr(flags())}


def update(t: Training) -> None:
    t.optimizer.update()


SCENARIOS = [
    Scenario(
        f"{name}{' with WeightDecay and ClipGrad' if hooks else ''}",
        training(make, hooks),
        update,
        watched,
        watched,
        weight=0.75,
    )
    for name, make in OPTIMIZERS.items()
    for hooks in (False, True)
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_an_update_interrupted_at_any_step_changes_nothing(scenario: Scenario[Training]) -> None:
    report = explore(scenario)
    assert report.faults > 0
    assert not report.problems, str(report)


def test_the_scenarios_really_update_and_clip() -> None:
    # What the scenarios break must be real work: every slot exists, the clipping scales.
    t = training(OPTIMIZERS["Adam"], hooks=True)()
    state = t.optimizer.state_dict()
    assert sorted(state) == ["m/0", "m/1", "t", "v/0", "v/1"]
    grad = t.model.W.grad
    assert grad is not None
    assert float(np.linalg.norm(grad.data)) > 0.5
    before = t.model.W.data.copy()
    t.optimizer.update()
    assert not np.array_equal(t.model.W.data, before)
    assert t.frozen.grad is None
