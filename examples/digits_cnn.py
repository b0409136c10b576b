"""A small convolutional network on the 8x8 digits: conv - relu - pool - linear (the book's step 57
layers on a dataset that needs no download).

Run: ``python -m examples.digits_cnn`` (``--epochs`` to shorten).
"""

from __future__ import annotations

import argparse

import numpy as np
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, DataLoader, Model, Variable, no_grad, optimizers
from typed_dezero.datasets import Digits


class SmallCNN(Model[[Variable | Arr], Variable]):
    """(N, 1, 8, 8) images -> conv 3x3 (16 maps) -> relu -> 2x2 max pooling -> linear (10 classes)."""

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.conv = L.Conv2d(16, kernel_size=3, pad=1, rng=rng)
        self.fc = L.Linear(10, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = F.pooling(F.relu(self.conv(x)), kernel_size=2, stride=2)
        return self.fc(F.flatten(h))


def images(x: Arr) -> Arr:
    """(N, 64) pixel rows as (N, 1, 8, 8) images."""
    return x.reshape(-1, 1, 8, 8)


def main(argv: list[str] | None = None) -> float:
    """Train and return the test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train_set, test_set = Digits(train=True), Digits(train=False)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, rng=args.seed)
    model = SmallCNN(np.random.default_rng(args.seed))
    optimizer = optimizers.Adam(alpha=0.005).setup(model)
    for epoch in range(args.epochs):
        total = 0.0
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(images(x)), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total += float(loss.data) * len(t)
        print(f"epoch {epoch + 1:3d}  loss {total / len(train_set):.4f}")
    with no_grad():
        accuracy = float(F.accuracy(model(images(test_set.data)), test_set.label).data)
    print(f"test accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
