"""The training workloads (8. cnn_train, 9. lstm_train) keep working and keep agreeing with PyTorch.

The baselines rebuild typed_dezero's data (the Digits split, DataLoader's shuffles, SinCurve,
SeqDataLoader's streams) with NumPy, since they never import typed_dezero: those rebuilds are
checked here against the real thing, and one epoch of each contender against PyTorch's when torch
is installed. Nothing here looks at the timings.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import pytest

from benchmarks import cnn_train, lstm_train, run
from benchmarks._common import Kind, Samples, Settings
from typed_dezero import DataLoader, SeqDataLoader
from typed_dezero.datasets import Digits, SinCurve

pytest.importorskip("sklearn")

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
TINY = Settings.for_mode("tiny")


def test_cnn_baseline_data_is_typed_dezeros() -> None:
    x, t = cnn_train.train_split(TINY)
    digits = Digits(train=True)
    assert np.array_equal(x, digits.data)
    assert np.array_equal(t, digits.label)
    loader = DataLoader(digits, cnn_train.BATCH, shuffle=True, rng=cnn_train.SHUFFLE_SEED)
    orders = cnn_train.batch_orders(len(x))
    for _ in range(2):  # two epochs: the shuffles go on alike
        batches = list(loader)
        order = next(orders)
        assert len(batches) == len(order) == 23
        for (bx, bt), idx in zip(batches, order, strict=True):
            assert np.array_equal(bx, x[idx])
            assert np.array_equal(bt, t[idx])


def test_lstm_baseline_data_is_typed_dezeros() -> None:
    data, label = lstm_train.sin_curve()
    curve = SinCurve(train=True)
    assert np.array_equal(data, curve.data)
    assert np.array_equal(label, curve.label)
    idx = lstm_train.seq_indices(len(data))
    batches = list(SeqDataLoader(curve, batch_size=lstm_train.BATCH))
    assert len(batches) == len(idx) == 34
    for (bx, bt), rows in zip(batches, idx, strict=True):
        assert np.array_equal(bx, data[rows])
        assert np.array_equal(bt, label[rows])
    assert lstm_train.windows(34) == [(0, 30), (30, 34)]


def test_lstm_weights_map_to_torchs_gate_order() -> None:
    p = lstm_train.initial_params()
    w = lstm_train.torch_weights(p)
    h = lstm_train.HIDDEN
    assert w["weight_ih_l0"].shape == (4 * h, 1)
    assert w["weight_hh_l0"].shape == (4 * h, h)
    # torch's rows (i, f, g, o); g is typed_dezero's u
    for k, gate in enumerate(("i", "f", "u", "o")):
        assert np.array_equal(w["weight_hh_l0"][k * h : (k + 1) * h], p[f"h2{gate}.W"].T)
    assert not w["bias_hh_l0"].any()


@needs_torch
@pytest.mark.parametrize("measure", [cnn_train.measure, lstm_train.measure], ids=["cnn", "lstm"])
def test_losses_agree_with_torch(measure: Callable[[Kind, str, Settings], Samples]) -> None:
    torch = measure("torch", "epoch", TINY)
    typed = measure("typed", "epoch", TINY)
    for key in ("first loss", "last loss"):
        (a,), (b,) = torch[key], typed[key]
        assert abs(a - b) <= 1e-10, (key, a, b)
    assert torch["last loss"] != torch["first loss"]  # it trains
    assert len(typed["epoch"]) == TINY.repeats


def test_tiny_run_of_the_training_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--tiny", "cnn_train", "9", *([] if HAS_TORCH else ["--no-torch"])]
    assert run.main(args) == 0
    out = capsys.readouterr().out
    assert "== 8. CNN training" in out
    assert "== 9. LSTM training" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]
    epochs = [r for r in rows if "| epoch |" in r]
    assert len(epochs) == 2
    agreement = [r for r in rows if "difference from PyTorch" in r]
    if HAS_TORCH:
        assert len(agreement) == 2
        assert all(r.endswith("| PASS |") for r in agreement), agreement
    else:
        assert not agreement
