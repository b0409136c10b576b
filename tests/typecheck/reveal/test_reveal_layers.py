"""Pinned static types of layers and models (checked by mypy and pyright, executed by pytest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import assert_type

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, Parameter, Variable, test_mode
from typed_dezero.layers import Layer
from typed_dezero.models import (
    MLP,
    VGG16,
    BottleneckA,
    BottleneckB,
    BuildingBlock,
    Model,
    ResNet,
    ResNet50,
    ResNet101,
    ResNet152,
    Sequential,
)


class Double(Layer[[Variable], Variable]):
    @override
    def forward(self, x: Variable) -> Variable:
        return x * 2.0


class Pair(Model[[Variable, Arr], tuple[Variable, Variable]]):
    @override
    def forward(self, x: Variable, y: Arr) -> tuple[Variable, Variable]:
        return x, x + y


def test_layer_call_types() -> None:
    a = np.ones((2, 3), dtype=np.float64)
    x = Variable(a)
    images = np.ones((2, 3, 4, 4), dtype=np.float64)
    ids = np.array([0, 2], dtype=np.int64)

    lin = L.Linear(4)
    assert_type(lin(x), Variable)
    assert_type(lin(a), Variable)
    assert_type(lin.W, Parameter)
    assert_type(lin.b, Parameter | None)
    assert_type(lin.in_size, int | None)
    assert_type(L.Conv2d(2, 3, pad=1)(images), Variable)
    assert_type(L.Conv2d(2, (3, 3), stride=(1, 1), in_channels=3)(Variable(images)), Variable)
    assert_type(L.Deconv2d(2, 3)(images), Variable)
    assert_type(L.EmbedID(3, 2)(ids), Variable)
    assert_type(L.EmbedID(3, 2).W, Parameter)
    bn = L.BatchNorm(channels=3)
    assert_type(bn(a), Variable)
    assert_type(bn.gamma, Parameter)
    assert_type(bn.state("avg_mean"), Arr)
    rnn = L.RNN(5)
    assert_type(rnn(a), Variable)
    assert_type(rnn.h, Variable | None)
    lstm = L.LSTM(5, in_size=3)
    assert_type(lstm(x), Variable)
    assert_type(lstm.c, Variable | None)
    assert_type(Double()(x), Variable)
    assert_type(Pair()(x, a), tuple[Variable, Variable])


def test_layer_method_types(tmp_path: Path) -> None:
    lin = L.Linear(2, in_size=3)
    assert_type(lin.params(), Iterator[Parameter])
    assert_type(next(lin.params()), Parameter)
    assert_type(lin.named_params(), Iterator[tuple[str, Parameter]])
    assert_type(lin.cleargrads(), None)
    assert_type(lin.state_dict(), dict[str, Arr])
    assert_type(lin.load_state_dict(lin.state_dict()), None)
    assert_type(lin.uninitialized(), list[str])
    assert_type(lin.is_initialized("W"), bool)
    assert_type(lin.save_weights(tmp_path / "w.npz"), None)
    assert_type(lin.load_weights(str(tmp_path / "w.npz")), None)
    assert_type(lin.set_lazy_parameter("W", np.ones((3, 2), dtype=np.float64)), Parameter)
    assert_type(lin.forward(np.ones((1, 3), dtype=np.float64)), Variable)
    assert_type(lin.__call__, Callable[[Variable | Arr], Variable])


def test_model_types() -> None:
    a = np.ones((2, 3), dtype=np.float64)
    x = Variable(a)
    mlp = MLP((4, 2), activation=F.relu)
    assert_type(mlp(x), Variable)
    assert_type(mlp.layers, list[L.Linear])
    seq = Sequential(L.Linear(3), Double(), mlp)
    assert_type(seq(a), Variable)
    generic: Model[[Variable | Arr], Variable] = mlp
    assert_type(generic(x), Variable)
    images = np.ones((2, 3, 8, 8), dtype=np.float64)
    block = BuildingBlock(2, 3, 2, 4, 2)
    assert_type(block(images), Variable)
    assert_type(block.a, BottleneckA)
    assert_type(block.bs, list[BottleneckB])
    model = ResNet50()
    resnets: list[ResNet] = [model]
    with test_mode():
        assert_type(model(images), Variable)
        assert_type(resnets[0](images[:1]), Variable)
    assert_type(model.res2, BuildingBlock)
    vgg = VGG16()
    assert_type(vgg.__call__, Callable[[Variable | Arr], Variable])
    assert_type(vgg.fc8, L.Linear)
    assert_type(vgg.conv5_3, L.Conv2d)
    networks: list[Model[[Variable | Arr], Variable]] = [mlp, seq, vgg, model]
    assert len(networks) == 4


def checked_statically_only(deep: ResNet101, deeper: ResNet152, images: Arr) -> None:
    # Never called: building these takes seconds (tests/test_models.py builds them).
    assert_type(deep(images), Variable)
    assert_type(deeper(Variable(images)), Variable)
    assert_type(deeper.res4.bs[22], BottleneckB)
