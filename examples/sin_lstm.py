"""Predict the next point of a noisy sine curve with an LSTM trained by truncated backpropagation
through time (the book's steps 59-60).

Run: ``python -m examples.sin_lstm`` (``--epochs`` to shorten).
"""

from __future__ import annotations

import argparse

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, Model, SeqDataLoader, Variable, no_grad, optimizers
from typed_dezero.datasets import SinCurve


class BetterRNN(Model[[Variable | Arr], Variable]):
    """An LSTM followed by a linear read-out."""

    def __init__(self, hidden_size: int, out_size: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.rnn = L.LSTM(hidden_size, rng=rng)
        self.fc = L.Linear(out_size, rng=rng)

    def reset_state(self) -> None:
        self.rnn.reset_state()

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return self.fc(self.rnn(x))


def main(argv: list[str] | None = None) -> tuple[list[float], float]:
    """Train; return the loss of every epoch and the mean squared error of predicting the cosine."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--bptt", type=int, default=30, help="steps between truncations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train_set = SinCurve(train=True)
    loader = SeqDataLoader(train_set, batch_size=30)
    model = BetterRNN(100, 1, np.random.default_rng(args.seed))
    optimizer = optimizers.Adam().setup(model)
    losses: list[float] = []
    for epoch in range(args.epochs):
        model.reset_state()
        loss, count, total = Variable(np.zeros(())), 0, 0.0
        for x, t in loader:
            loss = loss + F.mean_squared_error(model(x), t)
            count += 1
            if count % args.bptt == 0 or count == len(loader):
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()  # truncate: later steps do not backpropagate further
                optimizer.update()
                total += float(loss.data)
                loss = Variable(np.zeros(()))
        losses.append(total / count)
        if (epoch + 1) % max(1, args.epochs // 10) == 0:
            print(f"epoch {epoch + 1:4d}  loss {losses[-1]:.6f}")
    # Predict the (noise-free) cosine curve one step ahead.
    test = SinCurve(train=False)
    model.reset_state()
    with no_grad():
        predictions = np.array([float(model(x.reshape(1, 1)).data[0, 0]) for x in test.data])
    error = float(np.mean((predictions - test.label[:, 0]) ** 2))
    print(f"one-step prediction error on the cosine: {error:.6f}")
    return losses, error


if __name__ == "__main__":
    main()
