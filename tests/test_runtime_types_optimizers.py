"""The wrong calls of tests/typecheck/fail/fail_optimizers.py also fail at run time, with TypeError."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable

import numpy as np
import pytest

from typed_dezero import Parameter
from typed_dezero._io import load_npz, save_npz
from typed_dezero.optimizers import SGD, Adam, ClipGrad, FreezeParam, MomentumSGD, WeightDecay

p = Parameter(np.ones(2))
arr = np.ones(2)


def _set_lr(value: object) -> Callable[[], object]:
    return lambda: setattr(SGD(), "lr", value)


def _ready() -> SGD:
    return SGD().setup(Parameterised())


class Parameterised:
    def params(self) -> list[Parameter]:
        return [p]


OPTIMIZER_CALLS: list[tuple[str, Callable[[], object]]] = [
    ("SGD(lr='0.1')", lambda: SGD(lr="0.1")),  # type: ignore[arg-type]
    ("MomentumSGD(momentum=None)", lambda: MomentumSGD(momentum=None)),  # type: ignore[arg-type]
    ("Adam(alpha=[0.1])", lambda: Adam(alpha=[0.1])),  # type: ignore[arg-type]
    ("WeightDecay('0.1')", lambda: WeightDecay("0.1")),  # type: ignore[arg-type]
    ("ClipGrad(None)", lambda: ClipGrad(None)),  # type: ignore[arg-type]
    ("opt.lr = '0.1'", _set_lr("0.1")),
    ("setup(list)", lambda: SGD().setup([p])),  # type: ignore[arg-type]
    ("setup(Parameter)", lambda: SGD().setup(p)),  # type: ignore[arg-type]
    ("add_hook(3)", lambda: SGD().add_hook(3)),  # type: ignore[arg-type]
    ("update_one(ndarray)", lambda: SGD().update_one(arr)),  # type: ignore[arg-type]
    ("load_state_dict({'t': 1})", lambda: _ready().load_state_dict({"t": 1})),  # type: ignore[dict-item]
    ("save(3)", lambda: _ready().save(3)),  # type: ignore[arg-type]
    ("FreezeParam(3)", lambda: FreezeParam(3)),  # type: ignore[arg-type]
    ("FreezeParam('W')", lambda: FreezeParam("W")),  # type: ignore[arg-type]
    ("WeightDecay(0.1)(p)", lambda: WeightDecay(0.1)(p)),  # type: ignore[arg-type]
    ("load_npz(3)", lambda: load_npz(3)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), OPTIMIZER_CALLS, ids=[c[0] for c in OPTIMIZER_CALLS])
def test_wrong_optimizer_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()


def test_wrong_save_npz_calls_raise_type_error_and_write_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError):
        save_npz("w.npz", [arr])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        save_npz(b"w.npz", {"a": arr})  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []
