"""Workload 2, MLP training: 64-100-10 sigmoid MLP, softmax cross entropy, plain SGD, on the digits.

Batches of 100 over the 1797 8x8 digits (18 steps per epoch), the same initial weights and the same
shuffles for every contender; reported in seconds per epoch. typed_dezero is used through
``typed_dezero.functions`` only (linear, sigmoid, softmax_cross_entropy) with a hand-written SGD
loop over Variables; the final losses of all contenders are compared as a sanity check.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeAlias

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

NAME = "mlp"
TITLE = "MLP training: 64-100-10 sigmoid, softmax cross entropy, SGD, batch 100, 8x8 digits"
SIZES = (64, 100, 10)
BATCH = 100
LR = 0.5

Step: TypeAlias = "Callable[[Arr, IntArr], float]"
"""One SGD step on a batch (inputs, labels), returning the batch loss."""


def initial_params() -> list[Arr]:
    """W1, b1, W2, b2: normal weights scaled by 1/sqrt(fan-in) (seed 0), zero biases."""
    rng = np.random.default_rng(0)
    params: list[Arr] = []
    for i, o in itertools.pairwise(SIZES):
        params += [rng.normal(0.0, 1.0 / np.sqrt(i), size=(i, o)), np.zeros(o)]
    return params


def batches(x: Arr, t: IntArr) -> Iterator[tuple[Arr, IntArr]]:
    """Shuffled mini-batches, epoch after epoch (seed 1: the same order for every contender)."""
    rng = np.random.default_rng(1)
    while True:
        order = rng.permutation(len(x))
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            yield x[idx], t[idx]


def floor_step() -> Step:
    """Forward, hand-derived backward and SGD update in plain NumPy."""
    W1, b1, W2, b2 = initial_params()

    def step(x: Arr, t: IntArr) -> float:
        n = len(x)
        rows = np.arange(n)
        h = 1.0 / (1.0 + np.exp(-(x @ W1 + b1)))
        y = h @ W2 + b2
        shifted = y - y.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        log_p: Arr = shifted[rows, t] - np.log(s[:, 0])
        loss = -float(np.mean(log_p))
        gy = e / s
        gy[rows, t] -= 1.0
        gy /= n
        gh = gy @ W2.T
        ga = gh * h * (1.0 - h)
        W2[...] -= LR * (h.T @ gy)
        b2[...] -= LR * gy.sum(axis=0)
        W1[...] -= LR * (x.T @ ga)
        b1[...] -= LR * ga.sum(axis=0)
        return loss

    return step


def torch_step(torch: _torch.Torch) -> Step:
    """The same in PyTorch (float64 tensors, autograd, manual SGD under no_grad)."""
    params = [_torch.tensor(torch, p, requires_grad=True) for p in initial_params()]
    W1, b1, W2, b2 = params
    cross_entropy = torch.nn.functional.cross_entropy

    def step(x: Arr, t: IntArr) -> float:
        h = torch.sigmoid(torch.from_numpy(x) @ W1 + b1)
        loss = cross_entropy(h @ W2 + b2, torch.from_numpy(t))
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                g = p.grad
                if g is not None:
                    p.sub_(LR * g)
        return loss.item()

    return step


def typed_step() -> Step:
    """The same with typed_dezero.functions and Variables."""
    import typed_dezero.functions as F
    from typed_dezero import Variable
    from typed_dezero.functions.activation import sigmoid
    from typed_dezero.functions.loss import softmax_cross_entropy

    params = [Variable(p) for p in initial_params()]
    W1, b1, W2, b2 = params

    def step(x: Arr, t: IntArr) -> float:
        h = sigmoid(F.linear(x, W1, b1))
        loss = softmax_cross_entropy(F.linear(h, W2, b2), t)
        for p in params:
            p.cleargrad()
        loss.backward()
        for p in params:
            g = p.grad
            if g is not None:
                p.data -= LR * g.data
        return float(loss.data)

    return step


def make_step(kind: Kind, settings: Settings) -> Step | None:
    """The training step of a contender, or None for torch when it is not installed."""
    if kind == "floor":
        return floor_step()
    if kind == "typed":
        return typed_step()
    torch = settings.torch
    return None if torch is None else torch_step(torch)


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """One epoch of typed_dezero's training (for ``--profile``)."""
    del case
    step = typed_step()
    x, t = digits(settings)
    data = batches(x, t)
    steps = -(-len(x) // BATCH)
    return lambda: [step(*next(data)) for _ in range(steps)]


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Seconds per epoch over ``settings.repeats`` epochs after one warm-up epoch, and the last loss."""
    del case
    step = make_step(kind, settings)
    if step is None:
        return {}
    x, t = digits(settings)
    data = batches(x, t)
    steps = -(-len(x) // BATCH)
    seconds: list[float] = []
    losses: list[float] = []
    for epoch in range(1 + settings.repeats):
        t0 = time.perf_counter()
        losses = [step(*next(data)) for _ in range(steps)]
        if epoch:
            seconds.append(time.perf_counter() - t0)
    return {"epoch": seconds, "loss": [float(np.mean(losses))]}


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings, checks_off=True)
    got = gather(NAME, cs, "epoch", settings)
    result = WorkloadResult(2, NAME, TITLE)
    floor = got["NumPy floor"]
    torch = got.get("PyTorch")
    for c in cs:
        if c.kind == "typed":
            target = Target(1.5, "floor") if c.checks else None
            torch_epoch = None if torch is None else torch["epoch"]
            result.rows.append(
                Row("epoch", c.label, "s/epoch", got[c.label]["epoch"], floor["epoch"], torch_epoch, target)
            )
    losses = {label: median(s["loss"]) for label, s in got.items() if s.get("loss")}
    spread = max(losses.values()) - min(losses.values())
    result.notes.append(
        f"mean loss of the last epoch agrees across contenders to {spread:.1e} "
        f"(floor {losses['NumPy floor']:.6f}); lr {LR}"
    )
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
