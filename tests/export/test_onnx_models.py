"""Exported models run in ONNX Runtime (CPU) on a batch of another size and reproduce typed_dezero."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from examples.digits_cnn import SmallCNN
from typed_dezero import Arr, Model, Variable, no_grad, test_mode
from typed_dezero import onnx as tdo
from typed_dezero.layers import Layer
from typed_dezero.models import MLP, BuildingBlock, Sequential

# onnx's hint for check_model's path parameter is a bare os.PathLike (partly unknown to pyright).
check_model: Callable[..., None] = getattr(onnx.checker, "check_model")  # noqa: B009

FLOAT64_TOL = 1e-12
"""Largest absolute difference accepted between ONNX Runtime (double) and typed_dezero."""
FLOAT32_TOL = 1e-5
"""Largest difference accepted, relative to max(1, |typed_dezero's value|), for a float32 export."""


def run_onnx(path: Path, x: Arr, dtype: str = "float64") -> Arr:
    """The output of the ONNX model at `path` on `x`, computed by ONNX Runtime's CPU provider."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = x if dtype == "float64" else x.astype(np.float32)
    (y,) = session.run(None, {"input": feed})
    return np.asarray(y, dtype=np.float64)


def reference(model: Layer[..., Any], x: Arr) -> Arr:
    with no_grad(), test_mode():
        y = model(x)
    assert isinstance(y, Variable)
    return y.data


def check(model: Layer[..., Any], example: Arr, fresh: Arr, tmp_path: Path, dtype: tdo.ExportDType) -> float:
    """Export `model`, check the file, compare ONNX Runtime on `fresh` with typed_dezero; the error."""
    path = tmp_path / "model.onnx"
    tdo.export(model, example, path, dtype=dtype)
    check_model(onnx.load_model_from_string(path.read_bytes()), full_check=True)
    got, want = run_onnx(path, fresh, dtype), reference(model, fresh)
    assert got.shape == want.shape
    if dtype == "float64":
        error = float(np.max(np.abs(got - want)))
        assert error <= FLOAT64_TOL
    else:
        error = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
        assert error <= FLOAT32_TOL
    return error


class VGGBlock(Model[[Variable | Arr], Variable]):
    """Two 3x3 convolutions with batch norm and ReLU, max pooling, then a classifier with dropout."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.conv1 = L.Conv2d(8, kernel_size=3, pad=1, rng=rng)
        self.bn1 = L.BatchNorm()
        self.conv2 = L.Conv2d(8, kernel_size=3, pad=1, rng=rng)
        self.bn2 = L.BatchNorm()
        self.fc = L.Linear(5, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = F.pooling(h, 2, 2)
        return F.softmax(self.fc(F.dropout(F.flatten(h), 0.5)))


class Unrolled(Model[[Variable | Arr], Variable]):
    """examples/sin_lstm.py's BetterRNN run over the T steps of an (N, T, 1) input: the prediction
    after the last step (export starts the LSTM from a fresh state)."""

    def __init__(self, hidden: int, rng: np.random.Generator, cell: str = "lstm") -> None:
        super().__init__()
        self.rnn = L.LSTM(hidden, rng=rng) if cell == "lstm" else L.RNN(hidden, rng=rng)
        self.fc = L.Linear(1, rng=rng)

    def reset_state(self) -> None:
        self.rnn.reset_state()

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = x if isinstance(x, Variable) else Variable(x)
        h = x
        for t in range(x.shape[1]):
            h = self.fc(self.rnn(x[:, t, :]))
        return h


class SmallResNet(Model[[Variable | Arr], Variable]):
    """ResNet's forward at a small size: convolution, batch norm, ReLU, max pooling, a stage of
    bottlenecks, global average pooling (a mean over H and W) and the classifier."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.conv1 = L.Conv2d(8, 3, 1, 1, in_channels=3, rng=rng)
        self.bn1 = L.BatchNorm(channels=8)
        self.res2 = BuildingBlock(2, 8, 4, 16, 2, rng=rng)
        self.fc = L.Linear(5, in_size=16, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = F.pooling(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.fc(F.mean(self.res2(h), axis=(2, 3)))


def _trained_stats(model: Layer[..., Any], x: Arr) -> None:
    """One forward in training mode: batch norm's running statistics move away from 0 and 1."""
    with no_grad():
        model(x)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp(rng: np.random.Generator, tmp_path: Path, dtype: tdo.ExportDType) -> None:
    model = MLP((32, 16, 10), activation=F.sigmoid, rng=rng)
    check(model, rng.standard_normal((3, 64)), rng.standard_normal((7, 64)), tmp_path, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_relu_and_leaky_relu(rng: np.random.Generator, tmp_path: Path, dtype: tdo.ExportDType) -> None:
    model = Sequential(L.Linear(16, rng=rng), MLP((8, 4), activation=F.leaky_relu, rng=rng))
    check(model, rng.standard_normal((3, 10)), rng.standard_normal((6, 10)), tmp_path, dtype)


def test_digits_cnn(rng: np.random.Generator, tmp_path: Path) -> None:
    # ONNX Runtime's CPU Conv has no double kernel: the CNN is checked as a float32 export.
    model = SmallCNN(rng)  # the network of examples/digits_cnn.py
    check(model, rng.standard_normal((3, 1, 8, 8)), rng.standard_normal((6, 1, 8, 8)), tmp_path, "float32")


def test_vgg_block_with_batch_norm(rng: np.random.Generator, tmp_path: Path) -> None:
    model = VGGBlock(rng)
    _trained_stats(model, rng.standard_normal((4, 3, 8, 8)) * 2 + 1)
    check(model, rng.standard_normal((3, 3, 8, 8)), rng.standard_normal((5, 3, 8, 8)), tmp_path, "float32")


def test_resnet_building_block(rng: np.random.Generator, tmp_path: Path) -> None:
    model = BuildingBlock(2, 4, 2, 8, 2, rng=rng)
    _trained_stats(model, rng.standard_normal((4, 4, 8, 8)) + 0.5)
    check(model, rng.standard_normal((3, 4, 8, 8)), rng.standard_normal((2, 4, 8, 8)), tmp_path, "float32")


def test_small_resnet(rng: np.random.Generator, tmp_path: Path) -> None:
    model = SmallResNet(rng)
    _trained_stats(model, rng.standard_normal((4, 3, 8, 8)) + 0.5)
    check(model, rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((5, 3, 8, 8)), tmp_path, "float32")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_recurrent_unrolled(
    rng: np.random.Generator, tmp_path: Path, dtype: tdo.ExportDType, cell: str
) -> None:
    model = Unrolled(6, rng, cell)
    check(model, rng.standard_normal((3, 5, 1)), rng.standard_normal((4, 5, 1)), tmp_path, dtype)
