"""The typed_dezero demo: train an MLP on the 8x8 handwritten digits that ship with scikit-learn.

Reports the loss and the train/test accuracy after every epoch (with a tqdm progress bar per epoch),
then writes to the output folder:

- ``training.png``: the loss and accuracy curves (matplotlib);
- ``train_step.dot``: the computational graph of one training step (``utils.get_dot_graph``), and
  ``train_step.png`` rendered from it when Graphviz's ``dot`` is installed (otherwise the demo says
  how to install it);
- ``mlp.onnx``: the trained MLP followed by a softmax, exported by ``typed_dezero.onnx`` (float64,
  dynamic batch), then run by ONNX Runtime on the test set: the demo prints both test accuracies and
  the largest difference between the two sets of class probabilities;
- ``mlp.safetensors``: the MLP's weights (``l0/W``, ``l0/b``, ``l1/W``, ``l1/b``), which
  ``torch.nn.Linear`` layers can load (docs/guides/leaving-typed-dezero.md).

The last two need the ``onnx``, ``onnxruntime`` and ``safetensors`` packages (``make demo``
installs them); without them the demo says how to install them and skips those files.

Run it with ``make demo`` (or ``python -m examples.demo``). Exits with status 1 if the final test
accuracy is below 95 %, or if ONNX Runtime's test accuracy differs from typed_dezero's (or its
probabilities by more than 1e-12).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import Arr, DataLoader, IntArr, Model, Variable, no_grad, optimizers, test_mode, utils
from typed_dezero.datasets import Digits
from typed_dezero.models import MLP

TARGET_ACCURACY = 0.95
ONNX_TOLERANCE = 1e-12
"""Largest difference accepted between ONNX Runtime's probabilities and typed_dezero's (float64)."""


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


class Probabilities(Model[[Variable | Arr], Variable]):
    """The trained classifier followed by a softmax: what a served model returns."""

    def __init__(self, classifier: MLP) -> None:
        super().__init__()
        self.classifier = classifier

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return F.softmax(self.classifier(x))


@dataclass(frozen=True)
class OnnxComparison:
    """typed_dezero and ONNX Runtime on the same test set."""

    dezero_accuracy: float
    runtime_accuracy: float
    max_abs_difference: float
    """Largest absolute difference between the two runs' class probabilities."""

    @property
    def agrees(self) -> bool:
        """Same accuracy, and probabilities within ``ONNX_TOLERANCE``."""
        return self.dezero_accuracy == self.runtime_accuracy and self.max_abs_difference <= ONNX_TOLERANCE


def _install_hint(error: ImportError, extra: str) -> str:
    return (
        f"needs the {error.name or extra} package, which is not installed: pip install "
        f"'typed-dezero[{extra}]' (in a checkout: pip install -e '.[demo]', or run make demo)"
    )


def run_onnx_runtime(path: Path, x: Arr) -> Arr:
    """The output of the ONNX model at `path` on `x`, computed by ONNX Runtime's CPU provider."""
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"input": x})
    return np.asarray(y, dtype=np.float64)


def _accuracy(probabilities: Arr, t: IntArr) -> float:
    return float(np.mean(np.equal(probabilities.argmax(axis=1), t)))


def compare_with_onnx_runtime(model: MLP, x: Arr, t: IntArr, folder: Path) -> OnnxComparison | None:
    """Export `model` (with a softmax) to ``folder/mlp.onnx``, run it in ONNX Runtime on `x` and
    compare with typed_dezero; None (after saying what to install) when onnx or onnxruntime is missing."""
    try:
        from typed_dezero import onnx as tdo

        importlib.import_module("onnxruntime")  # a missing runtime is reported before exporting
    except ImportError as error:
        print(f"ONNX export skipped: it {_install_hint(error, 'onnx')}")
        return None
    served = Probabilities(model)
    path = folder / "mlp.onnx"
    tdo.export(served, x[:1], path)  # dimension 0 is exported as a dynamic "batch" dimension
    print(f"ONNX model: {path}")
    with no_grad(), test_mode():
        expected = served(x).data
    got = run_onnx_runtime(path, x)
    return OnnxComparison(
        dezero_accuracy=_accuracy(expected, t),
        runtime_accuracy=_accuracy(got, t),
        max_abs_difference=float(np.max(np.abs(got - expected))),
    )


def save_safetensors(model: MLP, folder: Path) -> None:
    """Save the weights as ``folder/mlp.safetensors`` (or say what to install)."""
    path = folder / "mlp.safetensors"
    try:
        model.save_weights(path)
    except ImportError as error:
        print(f"safetensors weights skipped: writing them {_install_hint(error, 'safetensors')}")
        return
    print(f"weights (safetensors): {path}")


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
    model, history, loss = train(args.epochs, args.batch_size, args.seed, args.quiet)
    seconds = time.perf_counter() - start
    plot_history(history, args.out / "training.png")
    print(f"curves: {args.out / 'training.png'}")
    write_graph(loss, args.out)
    save_safetensors(model, args.out)
    final = history.test_accuracy[-1]
    print(f"final test accuracy {final:.4f} after {args.epochs} epochs in {seconds:.1f} s")
    status = 0
    if final < TARGET_ACCURACY:
        print(f"below the {TARGET_ACCURACY:.0%} target", file=sys.stderr)
        status = 1
    test_set = Digits(train=False)
    comparison = compare_with_onnx_runtime(model, test_set.data, test_set.label, args.out)
    if comparison is not None:
        print(
            f"test accuracy: typed_dezero {comparison.dezero_accuracy:.4f}, "
            f"ONNX Runtime {comparison.runtime_accuracy:.4f}; "
            f"max abs difference of the probabilities {comparison.max_abs_difference:.3g}"
        )
        if not comparison.agrees:
            print(
                "ONNX Runtime does not reproduce typed_dezero: the accuracies must be equal and the "
                f"probabilities within {ONNX_TOLERANCE:g}",
                file=sys.stderr,
            )
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
