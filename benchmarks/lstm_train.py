"""Workload 9, LSTM training: SinCurve, truncated backpropagation through time, against nn.LSTM.

The book's step 60: ``typed_dezero.datasets.SinCurve`` (999 samples) through ``SeqDataLoader`` in
batches of 30 parallel streams (34 steps per epoch), an LSTM of 100 hidden units and a linear
read-out, the loss summed over the steps and backpropagated every 30 steps and at the end of the
epoch (``unchain_backward`` truncates), plain SGD. typed_dezero steps ``L.LSTM`` one time step per
call, as the book does; PyTorch runs ``nn.LSTM`` (float64) over each truncation window of 30 (then
4) steps in one call, with the state detached between windows. Reported in seconds per epoch, each
sample the mean of three epochs (one lasts some 40 ms).

The weights are the same: typed_dezero's LSTM has one Linear per gate from x (with a bias) and one
from h (without), W (in, out); torch's ``weight_ih_l0``/``weight_hh_l0`` stack the transposed
gate matrices in the order (i, f, g, o), g being typed_dezero's ``u``. torch has two biases per
gate, ``bias_ih`` and ``bias_hh``, which SGD would both move (twice the step of typed_dezero's one
bias): ``bias_hh_l0`` stays zero and frozen, so the networks are the same function with the same
trainable parameters, and the summed loss of every epoch agrees to rounding (the agreement row).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    gather,
    median,
)

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero._typing import Arr, IntArr

NAME = "lstm_train"
NUMBER = 9
CASE = "epoch"
TITLE = (
    "LSTM training: SinCurve, SeqDataLoader batch 30, hidden 100, truncated BPTT every 30 steps, SGD; "
    "PyTorch nn.LSTM"
)
HIDDEN = 100
BATCH = 30
BPTT = 30
LR = 0.003
GATES = ("i", "f", "u", "o")
"""torch's gate order (i, f, g, o), in typed_dezero's names (its ``u`` is torch's ``g``)."""
SIN_SEED = 0
"""typed_dezero.datasets.SinCurve's noise: ``default_rng(0).uniform(-0.05, 0.05, 1000)``."""
AGREEMENT = 1e-10
"""The most the summed loss of an epoch may differ from PyTorch's."""
EPOCHS_PER_SAMPLE = 3

Epoch: TypeAlias = "Callable[[], float]"
"""Trains one epoch and returns the loss summed over its steps."""


def initial_params() -> dict[str, Arr]:
    """Per gate g: ``x2g.W`` (1, H) and ``h2g.W`` (H, H), normal scaled by 1/sqrt(fan-in), and
    ``x2g.b`` zeros; the read-out ``fc.W`` (H, 1) and ``fc.b``; seed 0."""
    rng = np.random.default_rng(0)
    params: dict[str, Arr] = {}
    for g in GATES:
        params[f"x2{g}.W"] = rng.standard_normal((1, HIDDEN))
        params[f"x2{g}.b"] = np.zeros(HIDDEN)
        params[f"h2{g}.W"] = rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)
    params["fc.W"] = rng.standard_normal((HIDDEN, 1)) / np.sqrt(HIDDEN)
    params["fc.b"] = np.zeros(1)
    return params


def torch_weights(p: Mapping[str, Arr]) -> dict[str, Arr]:
    """`p` in torch's layout: nn.LSTM's stacked (4H, in) matrices and biases, nn.Linear's (out, in)."""
    return {
        "weight_ih_l0": np.concatenate([p[f"x2{g}.W"].T for g in GATES]),
        "weight_hh_l0": np.concatenate([p[f"h2{g}.W"].T for g in GATES]),
        "bias_ih_l0": np.concatenate([p[f"x2{g}.b"] for g in GATES]),
        "bias_hh_l0": np.zeros(4 * HIDDEN),
        "fc.weight": p["fc.W"].T.copy(),
        "fc.bias": p["fc.b"].copy(),
    }


def sin_curve() -> tuple[Arr, Arr]:
    """typed_dezero.datasets.SinCurve(train=True)'s data and labels (999, 1), rebuilt with NumPy."""
    x = np.linspace(0.0, 2.0 * np.pi, 1000)
    y = np.sin(x) + np.random.default_rng(SIN_SEED).uniform(-0.05, 0.05, size=x.shape)
    return y[:-1].reshape(-1, 1), y[1:].reshape(-1, 1)


def seq_indices(n: int) -> IntArr:
    """SeqDataLoader(batch_size=BATCH)'s batches as an index array (steps, BATCH)."""
    jump = n // BATCH
    steps = -(-n // BATCH)
    return (np.arange(BATCH)[np.newaxis, :] * jump + np.arange(steps)[:, np.newaxis]) % n


def windows(steps: int) -> list[tuple[int, int]]:
    """The truncation windows (start, stop) of an epoch of `steps` steps."""
    return [(s, min(s + BPTT, steps)) for s in range(0, steps, BPTT)]


# -- PyTorch ---------------------------------------------------------------------------------


class _DType(Protocol): ...


class _Param(_torch.Tensor, Protocol):
    def requires_grad_(self, requires_grad: bool = True, /) -> _Param: ...
    def detach(self) -> _Param: ...
    def __getitem__(self, index: slice, /) -> _Param: ...


State: TypeAlias = "tuple[_Param, _Param]"


class _LSTMModule(Protocol):
    bias_hh_l0: _Param

    def __call__(self, x: _torch.Tensor, hx: State | None = None, /) -> tuple[_Param, State]: ...
    def parameters(self) -> Iterator[_Param]: ...
    def load_state_dict(self, state: Mapping[str, _torch.Tensor]) -> object: ...


class _Linear(Protocol):
    def __call__(self, x: _torch.Tensor, /) -> _Param: ...
    def parameters(self) -> Iterator[_Param]: ...
    def load_state_dict(self, state: Mapping[str, _torch.Tensor]) -> object: ...


class _Optimizer(Protocol):
    def zero_grad(self) -> None: ...
    def step(self) -> object: ...


class _NN(Protocol):
    def LSTM(self, input_size: int, hidden_size: int, *, dtype: _DType) -> _LSTMModule: ...
    def Linear(self, in_features: int, out_features: int, *, dtype: _DType) -> _Linear: ...


class _Optim(Protocol):
    def SGD(self, params: Sequence[_Param], lr: float) -> _Optimizer: ...


class _TorchTrain(Protocol):
    """The part of ``torch`` this workload uses beyond :class:`benchmarks._torch.Torch`."""

    @property
    def float64(self) -> _DType: ...
    @property
    def nn(self) -> _NN: ...
    @property
    def optim(self) -> _Optim: ...
    def from_numpy(self, a: Arr, /) -> _Param: ...
    def no_grad(self) -> AbstractContextManager[None]: ...


def torch_epoch(torch_module: _torch.Torch) -> Epoch:
    """PyTorch's training: nn.LSTM over each truncation window, nn.Linear, torch.optim.SGD."""
    torch = cast(_TorchTrain, torch_module)
    lstm = torch.nn.LSTM(1, HIDDEN, dtype=torch.float64)
    fc = torch.nn.Linear(HIDDEN, 1, dtype=torch.float64)
    w = {k: torch.from_numpy(v) for k, v in torch_weights(initial_params()).items()}
    lstm.load_state_dict({k: v for k, v in w.items() if not k.startswith("fc.")})
    fc.load_state_dict({"weight": w["fc.weight"], "bias": w["fc.bias"]})
    lstm.bias_hh_l0.requires_grad_(False)  # typed_dezero's h-to-gate Linears have no bias
    params = [p for p in (*lstm.parameters(), *fc.parameters()) if p is not lstm.bias_hh_l0]
    optimizer = torch.optim.SGD(params, lr=LR)
    data, label = sin_curve()
    idx = seq_indices(len(data))
    spans = windows(len(idx))

    def epoch() -> float:
        # (steps, BATCH, 1): time-major, nn.LSTM's default layout
        xs, ts = torch.from_numpy(data[idx]), torch.from_numpy(label[idx])
        state: State | None = None
        total = 0.0
        for start, stop in spans:
            out, (h, c) = lstm(xs[start:stop], state)
            diff = fc(out) - ts[start:stop]
            # typed_dezero's mean_squared_error: the sum over a step's batch / BATCH, summed over steps
            loss = (diff * diff).sum() / BATCH
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = (h.detach(), c.detach())
            total += loss.item()
        return total

    return epoch


# -- typed_dezero ----------------------------------------------------------------------------


def typed_epoch() -> Epoch:
    """typed_dezero's training, the book's way: SinCurve, SeqDataLoader, L.LSTM step by step, SGD."""
    from typing_extensions import override

    import typed_dezero.functions as F
    import typed_dezero.layers as L
    from typed_dezero import Arr, Model, SeqDataLoader, Variable, optimizers
    from typed_dezero.datasets import SinCurve

    class LSTMRegressor(Model[[Variable | Arr], Variable]):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = L.LSTM(HIDDEN, in_size=1)
            self.fc = L.Linear(1, in_size=HIDDEN)

        def reset_state(self) -> None:
            self.rnn.reset_state()

        @override
        def forward(self, x: Variable | Arr) -> Variable:
            return self.fc(self.rnn(x))

    model = LSTMRegressor()
    p = initial_params()
    rnn = model.rnn
    for g in GATES:
        x2g, h2g = getattr(rnn, f"x2{g}"), getattr(rnn, f"h2{g}")
        assert isinstance(x2g, L.Linear)
        assert isinstance(h2g, L.Linear)
        assert x2g.b is not None
        x2g.W.data, x2g.b.data = p[f"x2{g}.W"].copy(), p[f"x2{g}.b"].copy()
        h2g.W.data = p[f"h2{g}.W"].copy()
    assert model.fc.b is not None
    model.fc.W.data, model.fc.b.data = p["fc.W"].copy(), p["fc.b"].copy()
    optimizer = optimizers.SGD(lr=LR).setup(model)
    loader = SeqDataLoader(SinCurve(train=True), batch_size=BATCH)
    steps = len(loader)

    def epoch() -> float:
        model.reset_state()
        loss: Variable | None = None
        total = 0.0
        for count, (x, t) in enumerate(loader, start=1):
            step = F.mean_squared_error(model(x), t)
            loss = step if loss is None else loss + step
            if count % BPTT == 0 or count == steps:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()  # truncate: later steps do not backpropagate further
                optimizer.update()
                total += float(loss.data)
                loss = None
        return total

    return epoch


def make_epoch(kind: Kind, settings: Settings) -> Epoch | None:
    """A contender's epoch, or None (torch not installed; there is no NumPy floor here)."""
    if kind == "typed":
        return typed_epoch()
    torch = settings.torch
    return None if kind == "floor" or torch is None else torch_epoch(torch)


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """One epoch of typed_dezero's training (for ``--profile``)."""
    del case, settings
    return typed_epoch()


def epochs_per_sample(settings: Settings) -> int:
    """Epochs timed together as one sample (an epoch lasts only some 40 ms); 1 in the tiny mode."""
    return 1 if settings.mode == "tiny" else EPOCHS_PER_SAMPLE


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Seconds per epoch, ``settings.repeats`` samples (each the mean of a few epochs) after one
    warm-up epoch; the summed loss of the first epoch and of the last."""
    del case
    epoch = make_epoch(kind, settings)
    if epoch is None:
        return {}
    per_sample = epochs_per_sample(settings)
    totals = [epoch()]
    seconds: list[float] = []
    for _ in range(settings.repeats):
        t0 = time.perf_counter()
        totals.extend(epoch() for _ in range(per_sample))
        seconds.append((time.perf_counter() - t0) / per_sample)
    return {CASE: seconds, "first loss": [totals[0]], "last loss": [totals[-1]]}


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings, floor=False)
    got = gather(NAME, cs, CASE, settings)
    result = WorkloadResult(NUMBER, NAME, TITLE)
    torch = got.get("PyTorch")
    for c in cs:
        if c.kind == "typed":
            result.rows.append(
                Row(
                    CASE,
                    c.label,
                    "s/epoch",
                    got[c.label][CASE],
                    None,
                    None if torch is None else torch[CASE],
                    Target(1.5, "torch"),
                )
            )
    if torch and torch.get("last loss"):
        for c in cs:
            mine = got[c.label]
            if c.kind == "typed" and mine.get("last loss"):
                diff = max(abs(median(mine[k]) - median(torch[k])) for k in ("first loss", "last loss"))
                result.rows.append(
                    Row(
                        "summed epoch loss, difference from PyTorch",
                        c.label,
                        "abs",
                        [diff],
                        target=Target(AGREEMENT, "value"),
                        ratios=False,
                    )
                )
        last = 1 + settings.repeats * epochs_per_sample(settings)
        result.notes.append(
            f"loss summed over epoch 1: {median(torch['first loss']):.12f}, over epoch {last}: "
            f"{median(torch['last loss']):.12f} (PyTorch); the agreement row is the larger difference"
        )
    result.notes.append(f"{len(sin_curve()[0])} samples, {len(seq_indices(999))} steps per epoch, lr {LR}")
    if torch is None:
        result.notes.append("PyTorch not installed or skipped: no torch columns, no agreement check")
    return result
