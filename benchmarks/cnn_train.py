"""Workload 8, CNN training: conv-relu-pool-conv-relu-pool-linear, softmax cross entropy, plain SGD.

One epoch over the train split of the 8x8 digits (``typed_dezero.datasets.Digits``: 1437 images,
used as they are, (N, 1, 8, 8)), batches of 64 (23 steps) from a shuffling ``DataLoader``; conv
3x3 pad 1 (16 maps), relu, 2x2 max pooling stride 2, conv 3x3 pad 1 (32 maps), relu, pooling,
linear 128 -> 10. typed_dezero trains a ``Model`` of ``L.Conv2d``/``L.Linear`` layers with
``optimizers.SGD``, as the book does; PyTorch the same ``nn.Sequential`` of float64 modules with
``torch.optim.SGD``. Both start from the same weights (conv weights are (OC, C, KH, KW) in both;
typed_dezero's Linear W is (in, out), torch's weight its transpose) and see the same batches (the
torch side rebuilds Digits' split and DataLoader's shuffles with NumPy), so their losses agree to
rounding: the agreement row is the larger difference from PyTorch's final loss (the last step's)
after the first epoch and after the last. Reported in seconds per epoch.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, TypeAlias, cast

import numpy as np

from benchmarks import _torch
from benchmarks._common import (
    Kind,
    Row,
    Samples,
    Settings,
    Target,
    WorkloadResult,
    contenders,
    digits,
    gather,
    median,
)

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero._typing import Arr, IntArr

NAME = "cnn_train"
NUMBER = 8
CASE = "epoch"
TITLE = (
    "CNN training: conv-relu-pool-conv-relu-pool-linear, softmax cross entropy, SGD, batch 64, "
    "8x8 digits (Digits train split, DataLoader)"
)
SIDE = 8
"""Images are SIDE x SIDE (the digits as they are)."""
CHANNELS = (1, 16, 32)
KERNEL = 3
PAD = 1
POOL = 2
CLASSES = 10
FLAT = CHANNELS[-1] * (SIDE // POOL // POOL) ** 2
BATCH = 64
LR = 0.1
SPLIT_SEED = 0
"""typed_dezero.datasets.Digits' split: ``default_rng(0).permutation(1797)``, the first 80 % train."""
SHUFFLE_SEED = 1
"""The DataLoader's rng: every contender draws the same shuffles."""
AGREEMENT = 1e-10
"""The most the final loss of an epoch may differ from PyTorch's."""

Epoch: TypeAlias = "Callable[[], list[float]]"
"""Trains one epoch and returns the loss of every step."""


def initial_params() -> dict[str, Arr]:
    """Conv weights (OC, C, KH, KW), Linear W (in, out): normal, scaled by 1/sqrt(fan-in), seed 0;
    zero biases (DeZero's initialisation)."""
    rng = np.random.default_rng(0)
    params: dict[str, Arr] = {}
    for k, (c, oc) in enumerate(itertools.pairwise(CHANNELS), start=1):
        fan_in = c * KERNEL * KERNEL
        params[f"conv{k}.W"] = rng.standard_normal((oc, c, KERNEL, KERNEL)) / np.sqrt(fan_in)
        params[f"conv{k}.b"] = np.zeros(oc)
    params["fc.W"] = rng.standard_normal((FLAT, CLASSES)) / np.sqrt(FLAT)
    params["fc.b"] = np.zeros(CLASSES)
    return params


def images(x: Arr) -> Arr:
    """(N, 64) pixel rows as (N, 1, 8, 8) images."""
    return x.reshape(-1, 1, SIDE, SIDE)


def train_split(settings: Settings) -> tuple[Arr, IntArr]:
    """The train split of typed_dezero.datasets.Digits, rebuilt from the cached digits with NumPy."""
    x, t = digits(settings)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))[: len(x) * 4 // 5]
    return x[order], t[order]


def batch_orders(n: int) -> Iterator[list[IntArr]]:
    """The index batches of each epoch, as ``DataLoader(..., BATCH, shuffle=True, rng=SHUFFLE_SEED)``."""
    rng = np.random.default_rng(SHUFFLE_SEED)
    while True:
        order = rng.permutation(n)
        yield [order[s : s + BATCH] for s in range(0, n, BATCH)]


# -- PyTorch ---------------------------------------------------------------------------------


class _DType(Protocol): ...


class _Module(Protocol):
    def __call__(self, x: _torch.Tensor, /) -> _torch.Tensor: ...
    def parameters(self) -> Iterator[_torch.Tensor]: ...
    def load_state_dict(self, state: Mapping[str, _torch.Tensor]) -> object: ...


class _Optimizer(Protocol):
    def zero_grad(self) -> None: ...
    def step(self) -> object: ...


class _NN(Protocol):
    def Sequential(self, *modules: _Module) -> _Module: ...
    def Conv2d(
        self, in_channels: int, out_channels: int, kernel_size: int, *, padding: int, dtype: _DType
    ) -> _Module: ...
    def ReLU(self) -> _Module: ...
    def MaxPool2d(self, kernel_size: int, stride: int) -> _Module: ...
    def Flatten(self) -> _Module: ...
    def Linear(self, in_features: int, out_features: int, *, dtype: _DType) -> _Module: ...
    @property
    def functional(self) -> _Functional: ...


class _Functional(Protocol):
    def cross_entropy(self, x: _torch.Tensor, t: _torch.Tensor, /) -> _torch.Tensor: ...


class _Optim(Protocol):
    def SGD(self, params: Iterator[_torch.Tensor], lr: float) -> _Optimizer: ...


class _TorchTrain(Protocol):
    """The part of ``torch`` this workload uses beyond :class:`benchmarks._torch.Torch`."""

    @property
    def float64(self) -> _DType: ...
    @property
    def nn(self) -> _NN: ...
    @property
    def optim(self) -> _Optim: ...
    def from_numpy(self, a: Arr | IntArr, /) -> _torch.Tensor: ...
    def no_grad(self) -> AbstractContextManager[None]: ...


def torch_epoch(torch_module: _torch.Torch, settings: Settings) -> Epoch:
    """PyTorch's training: nn.Sequential of float64 modules, torch.optim.SGD, the same batches."""
    torch = cast(_TorchTrain, torch_module)
    nn = torch.nn
    f64 = torch.float64
    c0, c1, c2 = CHANNELS
    model = nn.Sequential(
        nn.Conv2d(c0, c1, KERNEL, padding=PAD, dtype=f64),
        nn.ReLU(),
        nn.MaxPool2d(POOL, stride=POOL),
        nn.Conv2d(c1, c2, KERNEL, padding=PAD, dtype=f64),
        nn.ReLU(),
        nn.MaxPool2d(POOL, stride=POOL),
        nn.Flatten(),
        nn.Linear(FLAT, CLASSES, dtype=f64),
    )
    p = initial_params()
    weights = {
        "0.weight": p["conv1.W"],
        "0.bias": p["conv1.b"],
        "3.weight": p["conv2.W"],
        "3.bias": p["conv2.b"],
        "7.weight": p["fc.W"].T,  # torch's Linear weight is (out, in)
        "7.bias": p["fc.b"],
    }
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(w)) for k, w in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    cross_entropy = nn.functional.cross_entropy
    x, t = train_split(settings)
    orders = batch_orders(len(x))

    def epoch() -> list[float]:
        losses: list[float] = []
        for idx in next(orders):
            loss = cross_entropy(model(torch.from_numpy(images(x[idx]))), torch.from_numpy(t[idx]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        return losses

    return epoch


# -- typed_dezero ----------------------------------------------------------------------------


def typed_epoch() -> Epoch:
    """typed_dezero's training, the book's way: Digits, DataLoader, a Model of layers, SGD."""
    from typing_extensions import override

    import typed_dezero.functions as F
    import typed_dezero.layers as L
    from typed_dezero import Arr, DataLoader, Model, Variable, optimizers
    from typed_dezero.datasets import Digits

    c0, c1, c2 = CHANNELS

    class CNN(Model[[Variable | Arr], Variable]):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = L.Conv2d(c1, KERNEL, pad=PAD, in_channels=c0)
            self.conv2 = L.Conv2d(c2, KERNEL, pad=PAD, in_channels=c1)
            self.fc = L.Linear(CLASSES, in_size=FLAT)

        @override
        def forward(self, x: Variable | Arr) -> Variable:
            # DeZero's pooling defaults to stride 1; torch's MaxPool2d to the kernel size.
            h = F.pooling(F.relu(self.conv1(x)), POOL, stride=POOL)
            h = F.pooling(F.relu(self.conv2(h)), POOL, stride=POOL)
            return self.fc(F.flatten(h))

    model = CNN()
    p = initial_params()
    for layer, name in ((model.conv1, "conv1"), (model.conv2, "conv2"), (model.fc, "fc")):
        layer.W.data = p[f"{name}.W"].copy()
        if layer.b is not None:
            layer.b.data = p[f"{name}.b"].copy()
    optimizer = optimizers.SGD(lr=LR).setup(model)
    loader = DataLoader(Digits(train=True), BATCH, shuffle=True, rng=SHUFFLE_SEED)

    def epoch() -> list[float]:
        losses: list[float] = []
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(images(x)), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            losses.append(float(loss.data))
        return losses

    return epoch


def make_epoch(kind: Kind, settings: Settings) -> Epoch | None:
    """A contender's epoch, or None (torch not installed; there is no NumPy floor here)."""
    if kind == "typed":
        return typed_epoch()
    torch = settings.torch
    return None if kind == "floor" or torch is None else torch_epoch(torch, settings)


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """One epoch of typed_dezero's training (for ``--profile``)."""
    del case, settings
    return typed_epoch()


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Seconds per epoch over ``settings.repeats`` epochs after one warm-up epoch; the final loss of
    the first epoch and of the last (each after training on it)."""
    del case
    epoch = make_epoch(kind, settings)
    if epoch is None:
        return {}
    seconds: list[float] = []
    finals: list[float] = []
    for k in range(1 + settings.repeats):
        t0 = time.perf_counter()
        losses = epoch()
        if k:
            seconds.append(time.perf_counter() - t0)
        finals.append(losses[-1])
    return {CASE: seconds, "first loss": [finals[0]], "last loss": [finals[-1]]}


def agreement_rows(got: Mapping[str, Samples], labels: list[str], epochs: int) -> tuple[list[Row], str]:
    """Rows of |final loss - PyTorch's| per typed_dezero contender, and a note with the losses."""
    torch = got.get("PyTorch")
    if not torch or not torch.get("last loss"):
        return [], ""
    rows: list[Row] = []
    for label in labels:
        mine = got[label]
        if not mine.get("last loss"):
            continue
        diff = max(abs(median(mine[key]) - median(torch[key])) for key in ("first loss", "last loss"))
        rows.append(
            Row(
                "final loss, difference from PyTorch",
                label,
                "abs",
                [diff],
                target=Target(AGREEMENT, "value"),
                ratios=False,
            )
        )
    note = (
        f"final loss after epoch 1: {median(torch['first loss']):.12f}, after epoch {epochs}: "
        f"{median(torch['last loss']):.12f} (PyTorch); the agreement row is the larger difference"
    )
    return rows, note


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings, floor=False)
    got = gather(NAME, cs, CASE, settings)
    result = WorkloadResult(NUMBER, NAME, TITLE)
    torch = got.get("PyTorch")
    typed = [c.label for c in cs if c.kind == "typed"]
    for label in typed:
        result.rows.append(
            Row(
                CASE,
                label,
                "s/epoch",
                got[label][CASE],
                None,
                None if torch is None else torch[CASE],
                Target(1.0, "torch"),
            )
        )
    rows, note = agreement_rows(got, typed, 1 + settings.repeats)
    result.rows.extend(rows)
    if note:
        result.notes.append(note)
    result.notes.append(f"{len(train_split(settings)[0])} images, batch {BATCH}, lr {LR}, no NumPy floor")
    if torch is None:
        result.notes.append("PyTorch not installed or skipped: no torch columns, no agreement check")
    return result
