"""Every example runs (in a short mode) and does what its docstring says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from examples import demo, digits_cnn, newton, sin_lstm, spiral


def test_newton_converges_to_the_minimum(capsys: pytest.CaptureFixture[str]) -> None:
    path = newton.main(["--iters", "7"])
    assert path[0] == 2.0
    assert abs(path[-1] - 1.0) < 1e-10
    assert capsys.readouterr().out.splitlines()[0] == "0 2.0"


def test_spiral_mlp_learns() -> None:
    losses = spiral.main(["--epochs", "40"])
    assert losses[-1] < 0.8 * losses[0]


def test_sin_lstm_learns_and_predicts() -> None:
    losses, error = sin_lstm.main(["--epochs", "3"])
    assert losses[-1] < losses[0]
    assert error < 0.1  # the cosine's variance is 0.5: prediction beats a constant


def test_digits_cnn_learns() -> None:
    assert digits_cnn.main(["--epochs", "2"]) > 0.85


def test_demo_reaches_the_target_and_writes_its_pictures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = demo.main(["--epochs", "8", "--quiet", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert (tmp_path / "training.png").read_bytes().startswith(b"\x89PNG")
    dot = (tmp_path / "train_step.dot").read_text()
    assert dot.startswith("digraph")
    assert "SoftmaxCrossEntropy" in dot
    assert "test accuracy" in out
    # Without Graphviz the demo says how to install it; with it, the PNG exists.
    assert "install Graphviz" in out or (tmp_path / "train_step.png").exists()
    # The exported model, run by ONNX Runtime, has typed_dezero's test accuracy (the final one).
    final = re.search(r"final test accuracy (\S+) after", out)
    both = re.search(
        r"typed_dezero (\S+), ONNX Runtime (\S+); max abs difference of the probabilities (\S+)", out
    )
    assert final is not None, out
    assert both is not None, out
    assert both[1] == both[2] == final[1]
    assert float(both[3]) <= demo.ONNX_TOLERANCE
    assert (tmp_path / "mlp.onnx").is_file()
    assert (tmp_path / "mlp.safetensors").is_file()
