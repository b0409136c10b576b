"""Classify DeZero's three-armed spiral with a two-layer MLP (the book's step 48/50).

Run: ``python -m examples.spiral`` (``--epochs`` to shorten).
"""

from __future__ import annotations

import argparse

import numpy as np

import typed_dezero.functions as F
from typed_dezero import DataLoader, no_grad, optimizers
from typed_dezero.datasets import Spiral
from typed_dezero.models import MLP


def main(argv: list[str] | None = None) -> list[float]:
    """Train and return the average loss of every epoch."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train_set = Spiral(train=True)
    loader = DataLoader(train_set, batch_size=30, shuffle=True, rng=args.seed)
    model = MLP((10, 3), rng=np.random.default_rng(args.seed))
    optimizer = optimizers.SGD(lr=1.0).setup(model)
    losses: list[float] = []
    for epoch in range(args.epochs):
        total = 0.0
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total += float(loss.data) * len(t)
        losses.append(total / len(train_set))
        if (epoch + 1) % max(1, args.epochs // 10) == 0:
            print(f"epoch {epoch + 1:4d}  loss {losses[-1]:.4f}")
    with no_grad():
        accuracy = float(F.accuracy(model(train_set.data), train_set.label).data)
    print(f"train accuracy {accuracy:.4f}")
    return losses


if __name__ == "__main__":
    main()
