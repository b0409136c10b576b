"""Wrong uses of layers and models that both checkers must reject (never executed; see ../README.md).

tests/layers/test_runtime_types_layers.py makes the same calls at run time and expects TypeError
where the run time can see the mistake.
"""

from __future__ import annotations

import numpy as np
from typing_extensions import override

import typed_dezero.layers as L
from typed_dezero import Variable
from typed_dezero.layers import Layer
from typed_dezero.models import MLP, VGG16, ResNet, ResNet50, Sequential

a = np.ones((2, 3), dtype=np.float64)
x = Variable(a)
# mypy misses a dtype mismatch when the array expression flows straight into the call, so the wrong
# arrays are named first (pyright catches both spellings).
singles = np.ones(3, dtype=np.float32)
float_ids = np.zeros(3, dtype=np.float64)
lin = L.Linear(3)


class Bad(Layer[[Variable], Variable]):
    @override
    def forward(self, x: Variable, y: Variable) -> Variable:  # type: ignore[override]
        return x + y


class BadResult(Layer[[Variable], Variable]):
    @override
    def forward(self, x: Variable) -> tuple[Variable, Variable]:  # type: ignore[override]
        return x, x


L.Linear("3")  # type: ignore[arg-type]
L.Linear(3, in_size=2.0)  # type: ignore[arg-type]
lin(x, x)  # type: ignore[call-arg]
lin()  # type: ignore[call-arg]
lin(x=x)  # type: ignore[call-arg]
lin("x")  # type: ignore[arg-type]
lin([1.0, 2.0])  # type: ignore[arg-type]
lin(singles)  # type: ignore[arg-type]
lin.save_weights(3)  # type: ignore[arg-type]
lin.load_weights(None)  # type: ignore[arg-type]
lin.load_state_dict([("W", a)])  # type: ignore[arg-type]
lin.set_state("s", singles)  # type: ignore[arg-type]
lin.W = a  # type: ignore[assignment]
L.Conv2d(2, 3, stride="1")  # type: ignore[arg-type]
L.Conv2d(2, (3, 3, 3))  # type: ignore[arg-type]
L.Deconv2d(2.0, 3)  # type: ignore[arg-type]
L.RNN(3.5)  # type: ignore[arg-type]
L.LSTM(4)(x, x)  # type: ignore[call-arg]
L.EmbedID(3, 2)(float_ids)  # type: ignore[arg-type]
L.EmbedID(3, 2)(x)  # type: ignore[arg-type]
L.BatchNorm(channels=2.0)  # type: ignore[arg-type]
L.BatchNorm(decay=0.9)  # type: ignore[call-arg]
MLP(3)  # type: ignore[arg-type]
MLP((3, 2), activation="relu")  # type: ignore[arg-type]
Sequential(3)  # type: ignore[arg-type]
VGG16(pretrained="yes")  # type: ignore[arg-type]
ResNet(n_layers=50.0)  # type: ignore[arg-type]
ResNet50(50)  # type: ignore[arg-type]
ResNet50()(x, x)  # type: ignore[call-arg]
