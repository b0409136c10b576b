"""Model weights and optimizer state saved together resume training exactly where it stopped."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import typed_dezero.functions as F
from typed_dezero import optimizers
from typed_dezero.datasets import get_spiral
from typed_dezero.models import MLP


def _setup(seed: int) -> tuple[MLP, optimizers.Adam]:
    model = MLP((8, 3), rng=np.random.default_rng(seed))
    return model, optimizers.Adam(alpha=0.01).setup(model)


def _train(model: MLP, optimizer: optimizers.Adam, steps: int, start: int = 0) -> None:
    x, t = get_spiral(train=True)
    for step in range(start, start + steps):
        rows = slice(30 * (step % 10), 30 * (step % 10) + 30)
        loss = F.softmax_cross_entropy(model(x[rows]), t[rows])
        model.cleargrads()
        loss.backward()
        optimizer.update()


def test_saving_model_and_optimizer_resumes_exactly(tmp_path: Path) -> None:
    straight, straight_opt = _setup(0)
    _train(straight, straight_opt, 25)

    first, first_opt = _setup(0)
    _train(first, first_opt, 10)
    first.save_weights(tmp_path / "model.npz")
    first_opt.save(tmp_path / "optimizer.npz")

    resumed, resumed_opt = _setup(1)  # other initial weights: everything must come from the files
    x, _ = get_spiral(train=True)
    resumed(x[:1])  # create the lazy parameters, so that the optimizer sees them
    resumed.load_weights(tmp_path / "model.npz")
    resumed_opt.load(tmp_path / "optimizer.npz")
    _train(resumed, resumed_opt, 15, start=10)

    for (name, a), (_, b) in zip(straight.named_params(), resumed.named_params(), strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
