"""The demo's ONNX and safetensors files are usable outside typed_dezero, a disagreement between
ONNX Runtime and typed_dezero fails the demo, and missing packages are named with their install line."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import typed_dezero
import typed_dezero.functions as F
from examples import demo
from typed_dezero import Arr, no_grad
from typed_dezero.datasets import Digits
from typed_dezero.models import MLP


@pytest.fixture
def untrained() -> MLP:
    model = MLP((64, 10), activation=F.relu, rng=np.random.default_rng(0))
    model(np.zeros((1, 64)))  # the input size is taken from the first call
    return model


def test_the_files_run_in_onnx_runtime_and_load_back_with_the_same_probabilities(tmp_path: Path) -> None:
    assert demo.main(["--epochs", "2", "--quiet", "--out", str(tmp_path)]) in {0, 1}  # 2 epochs: maybe < 95 %
    session = ort.InferenceSession(tmp_path / "mlp.onnx", providers=["CPUExecutionProvider"])
    (batch, features) = session.get_inputs()[0].shape
    assert (batch, features) == ("batch", 64)
    x = Digits(train=False).data
    (probabilities,) = session.run(None, {"input": x[:7]})  # a batch size other than the exported one
    assert probabilities.shape == (7, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # The safetensors weights rebuild the trained MLP: its softmax is ONNX Runtime's output.
    rebuilt = MLP((64, 10), activation=F.relu)
    rebuilt.load_weights(tmp_path / "mlp.safetensors")
    with no_grad():
        expected = F.softmax(rebuilt(x[:7])).data
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=demo.ONNX_TOLERANCE)


def test_the_demo_fails_when_onnx_runtime_disagrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = demo.run_onnx_runtime

    def shifted(path: Path, x: Arr) -> Arr:
        return np.roll(run(path, x), 1, axis=1)  # every prediction moves one class on

    monkeypatch.setattr(demo, "run_onnx_runtime", shifted)
    monkeypatch.setattr(demo, "TARGET_ACCURACY", 0.0)  # only the comparison can fail
    assert demo.main(["--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 1
    assert "ONNX Runtime does not reproduce typed_dezero" in capsys.readouterr().err


def test_the_comparison_agrees_only_on_equal_accuracies_and_close_probabilities() -> None:
    assert demo.OnnxComparison(0.9, 0.9, 1e-16).agrees
    assert not demo.OnnxComparison(0.9, 0.9 - 1 / 360, 1e-16).agrees
    assert not demo.OnnxComparison(0.9, 0.9, 1e-9).agrees


def test_the_comparison_reports_the_largest_probability_difference(untrained: MLP, tmp_path: Path) -> None:
    data = Digits(train=False)
    comparison = demo.compare_with_onnx_runtime(untrained, data.data, data.label, tmp_path)
    assert comparison is not None
    assert comparison.dezero_accuracy == comparison.runtime_accuracy
    assert 0.0 <= comparison.max_abs_difference <= demo.ONNX_TOLERANCE


def test_without_onnxruntime_the_demo_says_what_to_install(
    untrained: MLP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    data = Digits(train=False)
    assert demo.compare_with_onnx_runtime(untrained, data.data, data.label, tmp_path) is None
    out = capsys.readouterr().out
    assert "ONNX export skipped: it needs the onnxruntime package" in out
    assert "pip install 'typed-dezero[onnx]'" in out
    assert not (tmp_path / "mlp.onnx").exists()


def test_without_onnx_the_demo_says_what_to_install(
    untrained: MLP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    # Forget the imported typed_dezero.onnx, so that importing it runs (and fails) again.
    monkeypatch.delitem(sys.modules, "typed_dezero.onnx")
    monkeypatch.delattr(typed_dezero, "onnx")
    data = Digits(train=False)
    assert demo.compare_with_onnx_runtime(untrained, data.data, data.label, tmp_path) is None
    out = capsys.readouterr().out
    assert "ONNX export skipped: it needs the onnx package" in out
    assert "pip install 'typed-dezero[onnx]'" in out


def test_without_safetensors_the_demo_says_what_to_install(
    untrained: MLP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    demo.save_safetensors(untrained, tmp_path)
    out = capsys.readouterr().out
    assert "safetensors weights skipped: writing them needs the safetensors package" in out
    assert "pip install 'typed-dezero[safetensors]'" in out
    assert not (tmp_path / "mlp.safetensors").exists()
