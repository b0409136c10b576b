"""The wrong calls of tests/typecheck/fail/fail_layers.py at run time: TypeError where the run time
can see the mistake; the few it cannot see are pinned below with the reason."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.layers as L
from typed_dezero import Variable
from typed_dezero.layers import Layer
from typed_dezero.models import MLP, VGG16, ResNet, ResNet50, Sequential

a = np.ones((2, 3))
x = Variable(a)
singles = np.ones(3, dtype=np.float32)
float_ids = np.zeros(3)


class Bad(Layer[[Variable], Variable]):
    @override
    def forward(self, x: Variable, y: Variable) -> Variable:  # type: ignore[override]
        return x + y


class BadResult(Layer[[Variable], Variable]):
    @override
    def forward(self, x: Variable) -> tuple[Variable, Variable]:  # type: ignore[override]
        return x, x


def _lin() -> L.Linear:
    return L.Linear(3)


def _ready_lin() -> L.Linear:
    return L.Linear(3, in_size=2)


CALLS: list[tuple[str, Callable[[], object]]] = [
    ("Linear('3')", lambda: L.Linear("3")),  # type: ignore[arg-type]
    ("Linear(in_size=2.0)", lambda: L.Linear(3, in_size=2.0)),  # type: ignore[arg-type]
    ("lin(x, x)", lambda: _lin()(x, x)),  # type: ignore[call-arg]
    ("lin()", lambda: _lin()()),  # type: ignore[call-arg]
    ("lin('x')", lambda: _lin()("x")),  # type: ignore[arg-type]
    ("lin(list)", lambda: _lin()([1.0, 2.0])),  # type: ignore[arg-type]
    ("lin(float32)", lambda: _lin()(singles)),  # type: ignore[arg-type]
    ("save_weights(3)", lambda: _lin().save_weights(3)),  # type: ignore[arg-type]
    ("save_weights(3) initialised", lambda: _ready_lin().save_weights(3)),  # type: ignore[arg-type]
    ("load_weights(None)", lambda: _lin().load_weights(None)),  # type: ignore[arg-type]
    ("load_state_dict(list)", lambda: _lin().load_state_dict([("W", a)])),  # type: ignore[arg-type]
    ("set_state(float32)", lambda: _lin().set_state("s", singles)),  # type: ignore[arg-type]
    ("lin.W = array", lambda: setattr(_lin(), "W", a)),
    ("Conv2d(stride='1')", lambda: L.Conv2d(2, 3, stride="1")),  # type: ignore[arg-type]
    ("Conv2d(kernel 3-tuple)", lambda: L.Conv2d(2, (3, 3, 3))),  # type: ignore[arg-type]
    ("Deconv2d(2.0)", lambda: L.Deconv2d(2.0, 3)),  # type: ignore[arg-type]
    ("RNN(3.5)", lambda: L.RNN(3.5)),  # type: ignore[arg-type]
    ("LSTM()(x, x)", lambda: L.LSTM(4)(x, x)),  # type: ignore[call-arg]
    ("EmbedID(float ids)", lambda: L.EmbedID(3, 2)(float_ids)),  # type: ignore[arg-type]
    ("EmbedID(Variable)", lambda: L.EmbedID(3, 2)(x)),  # type: ignore[arg-type]
    ("BatchNorm(channels=2.0)", lambda: L.BatchNorm(channels=2.0)),  # type: ignore[arg-type]
    ("BatchNorm(decay=)", lambda: L.BatchNorm(decay=0.9)),  # type: ignore[call-arg]
    ("MLP(3)", lambda: MLP(3)),  # type: ignore[arg-type]
    ("MLP(activation='relu')", lambda: MLP((3, 2), activation="relu")),  # type: ignore[arg-type]
    ("Sequential(3)", lambda: Sequential(3)),  # type: ignore[arg-type]
    ("VGG16(pretrained='yes')", lambda: VGG16(pretrained="yes")),  # type: ignore[arg-type]
    ("ResNet(50.0)", lambda: ResNet(n_layers=50.0)),  # type: ignore[arg-type]
    ("ResNet50(50)", lambda: ResNet50(50)),  # type: ignore[arg-type]
    # Bad's definition passes at run time (forward's arity is not compared with the ParamSpec), but
    # calling it with the declared single input fails.
    ("Bad()(x)", lambda: Bad()(x)),
]


@pytest.mark.parametrize(("label", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_wrong_layer_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()


def test_resnet_called_with_two_inputs_raises_type_error() -> None:
    model = ResNet50()
    with pytest.raises(TypeError, match="positional argument"):
        model(x, x)  # type: ignore[call-arg]


def test_what_the_run_time_cannot_see() -> None:
    # A keyword argument: the ParamSpec makes forward's parameter positional-only for the checkers,
    # but forward itself is a plain method and accepts it.
    lin = L.Linear(3, in_size=3)
    assert lin(x=x).shape == (2, 3)  # type: ignore[call-arg]
    # A forward whose result breaks the declared type: results are not checked (that would cost a
    # check on every call of every layer); the checkers reject the class instead.
    result: object = BadResult()(x)
    assert result == (x, x)
