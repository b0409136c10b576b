"""Pinned static types of the optimizers and the weights-file helpers (checked by mypy and pyright,
executed by pytest)."""

from __future__ import annotations

import pathlib
from collections.abc import Generator, Iterator
from typing import Any, assert_type, final

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from typed_dezero import Parameter, Variable
from typed_dezero._io import WeightsFileError, load_npz, save_npz
from typed_dezero.optimizers import (
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    ClipGrad,
    FreezeParam,
    HasParams,
    Hook,
    MomentumSGD,
    Optimizer,
    WeightDecay,
)


class IteratorModel:
    def __init__(self, *params: Parameter) -> None:
        self.items = list(params)

    def params(self) -> Iterator[Parameter]:
        yield from self.items


class GeneratorModel:
    """params() spelled as a Layer may spell it, and a list: both fit HasParams."""

    def __init__(self, p: Parameter) -> None:
        self.p = p

    def params(self) -> Generator[Parameter, None, None]:
        yield self.p


class ListModel:
    def params(self) -> list[Parameter]:
        return []


@final
class SignSGD(Optimizer):
    """A user-defined optimizer: only update_one is needed."""

    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.lr = lr

    @override
    def update_one(self, param: Parameter) -> None:
        grad = param.grad
        if grad is not None:
            data = param.data
            data -= self.lr * np.sign(grad.data)


def clip_by_value(params: list[Parameter]) -> None:
    for p in params:
        if p.grad is not None:
            p.grad = Variable(np.clip(p.grad.data, -1.0, 1.0))


def test_optimizer_types(tmp_path: pathlib.Path) -> None:
    p = Parameter(np.ones(2, dtype=np.float64))
    model = IteratorModel(p)
    assert_type(SGD().setup(model), SGD)
    assert_type(MomentumSGD().setup(GeneratorModel(p)), MomentumSGD)
    assert_type(AdaGrad().setup(ListModel()), AdaGrad)
    assert_type(AdaDelta().setup(model), AdaDelta)
    assert_type(SignSGD().setup(model), SignSGD)
    adam = Adam().setup(model)
    assert_type(adam, Adam)
    assert_type(adam.t, int)
    assert_type(adam.lr, float)
    assert_type(adam.alpha, float)
    assert_type(adam.beta1, float)
    opt = MomentumSGD(lr=0.1, momentum=0.5)
    assert_type(opt.lr, float)
    assert_type(opt.momentum, float)
    assert_type(opt.target, HasParams | None)
    assert_type(opt.setup(model).target, HasParams | None)
    assert_type(opt.add_hook(WeightDecay(0.1)), None)
    assert_type(opt.add_hook(clip_by_value), None)
    assert_type(opt.hooks, tuple[Hook, ...])
    p.grad = Variable(np.ones(2, dtype=np.float64))
    assert_type(opt.update(), None)
    p.grad = Variable(np.ones(2, dtype=np.float64))
    assert_type(opt.update_one(p), None)
    state = opt.state_dict()
    assert_type(state, dict[str, npt.NDArray[Any]])
    assert_type(opt.load_state_dict(state), None)
    assert_type(opt.save(tmp_path / "opt.npz"), None)
    assert_type(opt.load(str(tmp_path / "opt.npz")), None)


def test_hook_types() -> None:
    p = Parameter(np.ones(2, dtype=np.float64))
    hooks: list[Hook] = [WeightDecay(0.1), ClipGrad(1.0), FreezeParam(p, IteratorModel(p)), clip_by_value]
    assert len(hooks) == 4
    assert_type(WeightDecay(0.1).rate, float)
    assert_type(ClipGrad(1.0).max_norm, float)
    assert_type(FreezeParam(p).frozen(), list[Parameter])
    assert_type(ClipGrad(1.0)([p]), None)


def test_io_types(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.npz"
    assert_type(save_npz(path, {"a": np.ones(2, dtype=np.float64), "i": np.arange(3)}), None)
    assert_type(save_npz(str(path), {"a": np.ones(2)}, compress=False), None)
    loaded = load_npz(path)
    assert_type(loaded, dict[str, npt.NDArray[Any]])
    assert issubclass(WeightsFileError, ValueError)
