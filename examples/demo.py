"""The typed_dezero demo: train an MLP on the 8x8 handwritten digits that ship with scikit-learn.

Reports the loss and the train/test accuracy after every epoch (with a tqdm progress bar per epoch),
then writes to the output folder:

- ``training.png``: the loss and accuracy curves (matplotlib);
- ``train_step.dot``: the computational graph of one training step (``utils.get_dot_graph``), and
  ``train_step.png`` rendered from it when Graphviz's ``dot`` is installed (otherwise the demo says
  how to install it).

Run it with ``make demo`` (or ``python -m examples.demo``). Exits with status 1 if the final test
accuracy is below 95 %.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

import typed_dezero.functions as F
from typed_dezero import DataLoader, IntArr, Variable, no_grad, optimizers, utils
from typed_dezero.datasets import Digits
from typed_dezero.models import MLP

TARGET_ACCURACY = 0.95


class _Figure(Protocol):
    # The few Figure methods used here, fully typed (matplotlib's own hints leave **kwargs untyped).
    def suptitle(self, t: str, /) -> object: ...
    def tight_layout(self) -> None: ...
    def savefig(self, fname: Path, /, *, dpi: int) -> None: ...


def _typed_figure(figure: _Figure) -> _Figure:
    return figure


@dataclass
class History:
    """Per-epoch figures of one training run."""

    loss: list[float] = field(default_factory=list[float])
    train_accuracy: list[float] = field(default_factory=list[float])
    test_accuracy: list[float] = field(default_factory=list[float])


def evaluate(model: MLP, x: Variable | np.ndarray, t: IntArr) -> float:
    """Accuracy of `model` on the inputs `x` with labels `t`, without recording a graph."""
    with no_grad():
        return float(F.accuracy(model(x), t).data)


def train(epochs: int, batch_size: int, seed: int, quiet: bool) -> tuple[MLP, History, Variable]:
    """Train the MLP; returns it, its history and the loss Variable of the last training step."""
    train_set, test_set = Digits(train=True), Digits(train=False)
    loader = DataLoader(train_set, batch_size, shuffle=True, rng=seed)
    model = MLP((64, 10), activation=F.relu, rng=np.random.default_rng(seed))
    optimizer = optimizers.Adam(alpha=0.005).setup(model)
    history = History()
    last_loss = Variable(np.zeros(()))
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch:2d}/{epochs}", leave=False, disable=quiet, unit="batch")
        for x, t in bar:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            total += float(loss.data) * len(t)
            count += len(t)
            bar.set_postfix(loss=f"{float(loss.data):.4f}")
            last_loss = loss
        bar.close()
        history.loss.append(total / count)
        history.train_accuracy.append(evaluate(model, train_set.data, train_set.label))
        history.test_accuracy.append(evaluate(model, test_set.data, test_set.label))
        print(
            f"epoch {epoch:2d}  loss {history.loss[-1]:.4f}  "
            f"train accuracy {history.train_accuracy[-1]:.4f}  test accuracy {history.test_accuracy[-1]:.4f}"
        )
    return model, history, last_loss


def plot_history(history: History, path: Path) -> None:
    """Save the loss and accuracy curves as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = range(1, len(history.loss) + 1)
    figure, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    fig = _typed_figure(figure)
    ax_loss.plot(epochs, history.loss, marker="o")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (softmax cross entropy)")
    ax_loss.set_title("Loss")
    ax_acc.plot(epochs, history.train_accuracy, marker="o", label="train")
    ax_acc.plot(epochs, history.test_accuracy, marker="s", label="test")
    ax_acc.axhline(TARGET_ACCURACY, color="grey", linestyle="--", linewidth=1, label="95 % target")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("Accuracy on the 8x8 digits")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("typed_dezero: MLP (64-64-10, ReLU, Adam) on scikit-learn's digits")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(figure)


def write_graph(loss: Variable, folder: Path) -> None:
    """Write the DOT text of one training step's graph, and render it when Graphviz is there."""
    dot_path = folder / "train_step.dot"
    dot_path.write_text(utils.get_dot_graph(loss, verbose=True))
    print(f"graph of one training step: {dot_path}")
    try:
        utils.plot_dot_graph(loss, verbose=True, to_file=folder / "train_step.png")
        print(f"rendered: {folder / 'train_step.png'}")
    except utils.GraphvizNotFoundError as error:
        print(f"not rendered: {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _, history, loss = train(args.epochs, args.batch_size, args.seed, args.quiet)
    seconds = time.perf_counter() - start
    plot_history(history, args.out / "training.png")
    print(f"curves: {args.out / 'training.png'}")
    write_graph(loss, args.out)
    final = history.test_accuracy[-1]
    print(f"final test accuracy {final:.4f} after {args.epochs} epochs in {seconds:.1f} s")
    if final < TARGET_ACCURACY:
        print(f"below the {TARGET_ACCURACY:.0%} target", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
