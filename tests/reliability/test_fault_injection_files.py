"""Faults injected at every step of loading and saving weights and optimizer state (see inject.py).

Loading (``Layer.load_state_dict``/``load_weights``, ``Optimizer.load_state_dict``/``load``): after
any exception the model or optimizer is as it was, a lazy model that had not run yet included (it
stays without parameters). Saving over an existing file (``Layer.save_weights``,
``Optimizer.save``): after any exception the file holds its previous bytes, no other file appeared
in its folder (no temporary file left behind) and no file descriptor is left open. Always: exactly
the exception raised reaches the caller, and a retry gives what one clean run gives, bit for bit.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr
from typed_dezero.config import flags
from typed_dezero.models import Sequential
from typed_dezero.optimizers import Adam

from .harness import FileState
from .inject import Scenario, explore

SEED = 20261204
X = np.random.default_rng(SEED).standard_normal((4, 2))


def model(seed: int, *, called: bool = True) -> Sequential:
    """Linear, BatchNorm (state arrays) and Linear; lazy until its first call."""
    net = Sequential(
        L.Linear(3, rng=np.random.default_rng(seed)),
        L.BatchNorm(),
        L.Linear(1, rng=np.random.default_rng(seed + 1)),
    )
    if called:
        net(X)
    return net


def trained(seed: int, steps: int) -> tuple[Sequential, Adam]:
    net = model(seed)
    optimizer = Adam(alpha=0.05).setup(net)
    for _ in range(steps):
        net.cleargrads()
        F.sum(net(X) ** 2).backward()
        optimizer.update()
    return net, optimizer


DONOR, DONOR_OPTIMIZER = trained(SEED + 10, steps=2)


def small(seed: int) -> tuple[L.Linear, Adam]:
    """A Linear and its Adam after one update: few arrays (W, b; t, m, v), so few events per save,
    and a fault can be injected at every one of them."""
    net = L.Linear(2, in_size=2, rng=np.random.default_rng(seed))
    optimizer = Adam(alpha=0.05).setup(net)
    F.sum(net(X) ** 2).backward()
    optimizer.update()
    return net, optimizer


"""Where the loaded weights and state come from: another seed, other running statistics."""


@dataclass
class Loading:
    target: object
    """The model or optimizer loaded into."""
    source: Mapping[str, npt.NDArray[Any]] | FileState
    """The state dict (or the file) loaded from."""
    others: dict[str, object] = field(default_factory=dict[str, object])


def watched(s: Loading) -> dict[str, object]:
    return {"target": s.target, "source": s.source, "flags": repr(flags()), **s.others}


def outcome(s: Loading) -> object:
    return s.target


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inject")


# -- loading --------------------------------------------------------------------------------------


def model_loading(*, lazy: bool, from_file: Path | None) -> Scenario[Loading]:
    def build() -> Loading:
        target = model(SEED, called=not lazy)
        source: Mapping[str, npt.NDArray[Any]] | FileState = (
            DONOR.state_dict() if from_file is None else FileState(from_file)
        )
        return Loading(target, source)

    def run(s: Loading) -> None:
        net = s.target
        assert isinstance(net, Sequential)
        if isinstance(s.source, FileState):
            net.load_weights(s.source.path)
        else:
            net.load_state_dict(s.source)

    kind = "a lazy model" if lazy else "a model"
    how = "load_weights" if from_file is not None else "load_state_dict"
    # load_weights' runtime check of its result runs after the load: all or nothing there.
    done = outcome if from_file is not None else None
    return Scenario(f"{how} into {kind}", build, run, watched, outcome, weight=0.5, completed=done)


def optimizer_loading(*, fresh: bool, from_file: Path | None) -> Scenario[Loading]:
    def build() -> Loading:
        net, optimizer = trained(SEED, steps=0 if fresh else 1)
        source: Mapping[str, npt.NDArray[Any]] | FileState = (
            DONOR_OPTIMIZER.state_dict() if from_file is None else FileState(from_file)
        )
        return Loading(optimizer, source, {"model": net})

    def run(s: Loading) -> None:
        optimizer = s.target
        assert isinstance(optimizer, Adam)
        if isinstance(s.source, FileState):
            optimizer.load(s.source.path)
        else:
            optimizer.load_state_dict(s.source)

    kind = "a fresh Adam" if fresh else "an Adam with state"
    how = "Optimizer.load" if from_file is not None else "Optimizer.load_state_dict"
    return Scenario(f"{how} into {kind}", build, run, watched, outcome, weight=0.5, completed=outcome)


def loading_scenarios(folder: Path) -> list[Scenario[Loading]]:
    weights, state = folder / "donor-weights.npz", folder / "donor-adam.npz"
    DONOR.save_weights(weights)
    DONOR_OPTIMIZER.save(state)
    return [
        model_loading(lazy=False, from_file=None),
        model_loading(lazy=True, from_file=None),
        model_loading(lazy=False, from_file=weights),
        model_loading(lazy=True, from_file=weights),
        optimizer_loading(fresh=False, from_file=None),
        optimizer_loading(fresh=True, from_file=None),
        optimizer_loading(fresh=False, from_file=state),
    ]


def test_loading_interrupted_at_any_step_changes_nothing(folder: Path) -> None:
    reports = [explore(s) for s in loading_scenarios(folder)]
    assert all(r.faults > 0 for r in reports)
    assert not any(r.problems for r in reports), "\n".join(str(r) for r in reports if r.problems)


def test_the_lazy_model_loads_its_parameters_from_the_file(folder: Path) -> None:
    weights = folder / "lazy-check.npz"
    DONOR.save_weights(weights)
    lazy = model(SEED, called=False)
    assert lazy.uninitialized() != []
    lazy.load_weights(weights)
    assert lazy.uninitialized() == []
    assert all(
        np.array_equal(a, b)
        for a, b in zip(lazy.state_dict().values(), DONOR.state_dict().values(), strict=True)
    )


# -- saving over an existing file ---------------------------------------------------------------


@dataclass
class Saving:
    path: FileState
    model: L.Linear
    optimizer: Adam


def saving(name: str, folder: Path, save: Callable[[Saving, Path], None], old: bytes) -> Scenario[Saving]:
    def build() -> Saving:
        # A folder holding only the previous file: anything else in it afterwards was left by the save.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        path = folder / "weights.npz"
        path.write_bytes(old)
        net, optimizer = small(SEED)
        return Saving(FileState(path), net, optimizer)

    def run(s: Saving) -> None:
        save(s, s.path.path)

    def watch(s: Saving) -> dict[str, object]:
        return {"file": s.path, "model": s.model, "optimizer": s.optimizer}

    def result(s: Saving) -> object:
        return (s.path.path.read_bytes(), sorted(p.name for p in folder.iterdir()), s.model, s.optimizer)

    def in_words(s: Saving) -> list[str]:
        # What "changed file" means, after a failed save (the snapshot comparison reports it too).
        problems = (
            [f"left {sorted(others)} in the folder"] if (others := _others(folder, s.path.path)) else []
        )
        if not s.path.path.is_file() or s.path.path.read_bytes() != old:
            problems.append("the file no longer holds its previous bytes")
        return problems

    # A fault after the rename (syncing the folder, the runtime check of the result) leaves the new
    # file, complete: all or nothing.
    return Scenario(
        name, build, run, watch, result, check=in_words, weight=0.5, every_event=True, completed=result
    )


def _others(folder: Path, path: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p != path]


def save_weights(s: Saving, path: Path) -> None:
    s.model.save_weights(path)


def save_optimizer(s: Saving, path: Path) -> None:
    s.optimizer.save(path)


def saving_scenarios(folder: Path) -> list[Scenario[Saving]]:
    old_weights, old_state = folder / "old-weights.npz", folder / "old-adam.npz"
    DONOR.save_weights(old_weights)
    DONOR_OPTIMIZER.save(old_state)
    return [
        saving("save_weights over a file", folder / "w", save_weights, old_weights.read_bytes()),
        saving("Optimizer.save over a file", folder / "o", save_optimizer, old_state.read_bytes()),
    ]


def test_saving_over_a_file_interrupted_at_any_step_keeps_the_file(folder: Path) -> None:
    reports = [explore(s) for s in saving_scenarios(folder)]
    assert all(r.faults > 0 for r in reports)
    assert not any(r.problems for r in reports), "\n".join(str(r) for r in reports if r.problems)


def test_a_save_replaces_the_file_with_new_bytes(folder: Path) -> None:
    # What the save scenarios break must be a real replacement: the new bytes differ from the old.
    path = folder / "differs.npz"
    DONOR.save_weights(path)
    old = path.read_bytes()
    net, _ = trained(SEED, steps=1)
    net.save_weights(path)
    assert path.read_bytes() != old
    copy = model(SEED + 99)
    copy.load_weights(path)
    loaded: dict[str, Arr] = copy.state_dict()
    assert all(np.array_equal(loaded[k], v) for k, v in net.state_dict().items())
