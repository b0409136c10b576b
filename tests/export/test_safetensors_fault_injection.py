"""Faults injected at every step of loading and saving safetensors weights files (see
tests/reliability/inject.py), as tests/reliability/test_fault_injection_files.py does for .npz.

Loading (``Layer.load_weights`` of a ".safetensors" file): after any exception the model is as it
was, a lazy model included. Saving over an existing file (``Layer.save_weights``): after any
exception the file holds its previous bytes, no other file appeared in its folder and no file
descriptor is left open. Always: exactly the exception raised reaches the caller, and a retry gives
what one clean run gives, bit for bit."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import typed_dezero.layers as L
from tests.reliability.harness import FileState
from tests.reliability.inject import Scenario, explore
from tests.reliability.test_fault_injection_files import DONOR, SEED, model, model_loading


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inject-safetensors")


def test_loading_a_safetensors_file_interrupted_at_any_step_changes_nothing(folder: Path) -> None:
    weights = folder / "donor.safetensors"
    DONOR.save_weights(weights)
    lazy = model(SEED, called=False)
    lazy.load_weights(weights)  # the scenarios really load this file
    assert lazy.uninitialized() == []
    reports = [explore(model_loading(lazy=flag, from_file=weights)) for flag in (False, True)]
    assert all(r.faults > 0 for r in reports)
    assert not any(r.problems for r in reports), "\n".join(str(r) for r in reports if r.problems)


@dataclass
class Saving:
    path: FileState
    model: L.Linear


def saving(folder: Path, old: bytes) -> Scenario[Saving]:
    def build() -> Saving:
        # A folder holding only the previous file: anything else in it afterwards was left by the save.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        path = folder / "weights.safetensors"
        path.write_bytes(old)
        return Saving(FileState(path), L.Linear(2, in_size=2, rng=np.random.default_rng(SEED)))

    def run(s: Saving) -> None:
        s.model.save_weights(s.path.path)

    def watch(s: Saving) -> dict[str, object]:
        return {"file": s.path, "model": s.model}

    def result(s: Saving) -> object:
        return (s.path.path.read_bytes(), sorted(p.name for p in folder.iterdir()), s.model)

    def in_words(s: Saving) -> list[str]:
        others = [p.name for p in folder.iterdir() if p != s.path.path]
        problems = [f"left {sorted(others)} in the folder"] if others else []
        if not s.path.path.is_file() or s.path.path.read_bytes() != old:
            problems.append("the file no longer holds its previous bytes")
        return problems

    # A fault after the rename (syncing the folder, the runtime check of the result) leaves the new
    # file, complete: all or nothing.
    return Scenario(
        "save_weights over a .safetensors file",
        build,
        run,
        watch,
        result,
        check=in_words,
        every_event=True,
        completed=result,
    )


def test_saving_over_a_safetensors_file_interrupted_at_any_step_keeps_the_file(folder: Path) -> None:
    old = folder / "old.safetensors"
    DONOR.save_weights(old)
    report = explore(saving(folder / "w", old.read_bytes()))
    assert report.faults > 0
    assert not report.problems, str(report)
