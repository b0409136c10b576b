"""Concurrency: the switches (enable_backprop, train, detect_anomaly) live in one ContextVar, so a
thread or an asyncio task never sees another's. Training in one thread while another evaluates,
eight threads backpropagating their own graphs under different switches, and asyncio tasks under
different switches all give exactly the results of sequential runs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Config, Layer, Variable, detect_anomaly, no_grad, test_mode
from typed_dezero.config import Flags, flags
from typed_dezero.datasets import get_spiral
from typed_dezero.optimizers import SGD

from .harness import COUNTS, thread_switch_interval

R = TypeVar("R")

TIMEOUT: Final = 120.0
"""Seconds a thread may take before the test fails (a hang is a failure, not a wait)."""


@pytest.fixture(autouse=True)
def _frequent_switches() -> Iterator[None]:
    with thread_switch_interval(1e-5):
        yield


def run_threads(targets: Sequence[Callable[[], R]]) -> list[R]:
    """Run each target in its own thread, all released at once; their results, in order. Any
    exception in a thread is raised here; a thread still running after TIMEOUT fails the test."""
    barrier = threading.Barrier(len(targets))
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = targets[i]()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), name=f"reliability-{i}") for i in range(len(targets))]
    COUNTS["threads"] += len(threads)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(targets))]


class Net(Layer[[Variable], Variable]):
    """Linear -> BatchNorm -> ReLU -> dropout -> Linear: every layer that reads the switches."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.l1 = L.Linear(16, in_size=2, rng=rng)
        self.bn = L.BatchNorm(channels=16)
        self.l2 = L.Linear(3, in_size=16, rng=rng)
        self.masks = np.random.default_rng(seed + 1000)

    @override
    def forward(self, x: Variable) -> Variable:
        h = F.dropout(F.relu(self.bn(self.l1(x))), 0.2, rng=self.masks)
        return self.l2(h)


X, T = get_spiral()
STEPS: Final = 40


@dataclass
class Training:
    losses: list[float] = field(default_factory=list[float])
    weights: dict[str, Any] = field(default_factory=dict[str, Any])
    seen: set[Flags] = field(default_factory=set[Flags])


def train() -> Training:
    model = Net(0)
    opt = SGD(lr=0.1).setup(model)
    out = Training()
    for step in range(STEPS):
        batch = slice((step * 30) % 300, (step * 30) % 300 + 30)
        loss = F.softmax_cross_entropy(model(Variable(X[batch])), T[batch])
        out.seen.add(flags())
        model.cleargrads()
        loss.backward()
        opt.update()
        out.losses.append(float(loss.data))
    out.weights = model.state_dict()
    return out


@dataclass
class Evaluation:
    outputs: list[Any] = field(default_factory=list[Any])
    recorded: bool = False
    seen: set[Flags] = field(default_factory=set[Flags])
    state: dict[str, Any] = field(default_factory=dict[str, Any])


def evaluate() -> Evaluation:
    model = Net(1)
    model(Variable(X[:30]))  # one training-mode call: running statistics that differ from the start
    out = Evaluation()
    with no_grad(), test_mode():
        for _ in range(STEPS):
            y = model(Variable(X[:50]))
            out.seen.add(flags())
            out.recorded |= y.creator is not None
            out.outputs.append(y.data)
    out.state = model.state_dict()
    return out


def test_training_in_one_thread_while_another_evaluates() -> None:
    alone_training, alone_evaluation = train(), evaluate()
    training, evaluation = run_threads([train, evaluate])
    assert isinstance(training, Training)
    assert isinstance(evaluation, Evaluation)
    assert training.seen == {Flags(enable_backprop=True, train=True)}
    assert evaluation.seen == {Flags(enable_backprop=False, train=False)}
    assert training.losses == alone_training.losses
    for key, value in alone_training.weights.items():
        assert np.array_equal(training.weights[key], value), key
    assert not evaluation.recorded
    assert all(
        np.array_equal(a, b) for a, b in zip(evaluation.outputs, alone_evaluation.outputs, strict=True)
    )
    assert all(
        np.array_equal(out, evaluation.outputs[0]) for out in evaluation.outputs
    )  # no dropout, no update
    for key, value in alone_evaluation.state.items():
        assert np.array_equal(evaluation.state[key], value), key


def _graph_work(seed: int, mode: str) -> tuple[Flags, list[float], bool]:
    """A second-order graph on this seed's data, run 10 times under the switches of `mode`."""
    rng = np.random.default_rng(seed)
    x = Variable(rng.standard_normal((6, 4)))
    W = Variable(rng.standard_normal((4, 3)))
    t = rng.integers(0, 3, 6)
    values: list[float] = []
    recorded = False
    with switches(mode):
        seen = flags()
        for _ in range(10):
            x.cleargrad()
            W.cleargrad()
            h = F.dropout(F.tanh(F.matmul(x, W)), 0.5, rng=np.random.default_rng(seed))
            loss = F.softmax_cross_entropy(h, t) + F.sum(F.exp(x) * x) * 0.01
            values.append(float(loss.data))
            recorded |= loss.creator is not None
            assert flags() == seen
            if loss.creator is not None:
                loss.backward(create_graph=True)
                gW = W.grad
                assert gW is not None
                W.cleargrad()
                F.sum(gW * gW).backward()
                values.extend(np.ravel(W.grad.data if W.grad is not None else np.nan).tolist())
                values.extend(np.ravel(x.grad.data if x.grad is not None else np.nan).tolist())
    return seen, values, recorded


SWITCHES: Final[dict[str, Callable[[], contextlib.AbstractContextManager[None]]]] = {
    "record": contextlib.nullcontext,
    "no_grad": no_grad,
    "test_mode": test_mode,
    "detect_anomaly": detect_anomaly,
}
MODES: Final = list(SWITCHES)


@contextlib.contextmanager
def switches(mode: str) -> Generator[None, None, None]:
    """The switches of `mode`; "config_setter" uses DeZero's ``Config.train = False``, which changes
    the current thread's or task's context only."""
    if mode != "config_setter":
        with SWITCHES[mode]():
            yield
        return
    before = Config.train
    Config.train = False
    try:
        yield
    finally:
        Config.train = before


def test_eight_threads_backpropagate_their_own_graphs_under_their_own_switches() -> None:
    jobs = [(seed, MODES[seed % len(MODES)]) for seed in range(8)]
    alone = [_graph_work(seed, mode) for seed, mode in jobs]
    together = run_threads([functools.partial(_graph_work, seed, mode) for seed, mode in jobs])
    assert together == alone
    by_mode = {mode: result for (_, mode), result in zip(jobs, together, strict=True)}
    assert by_mode["record"][0] == Flags()
    assert by_mode["no_grad"][0] == Flags(enable_backprop=False)
    assert by_mode["test_mode"][0] == Flags(train=False)
    assert by_mode["detect_anomaly"][0] == Flags(detect_anomaly=True)
    assert [result[2] for result in together] == [mode != "no_grad" for _, mode in jobs]
    assert flags() == Flags()  # the main thread's switches never moved


ASYNC_MODES: Final = [*MODES, "config_setter"]


def test_asyncio_tasks_keep_their_own_switches_across_awaits() -> None:
    async def task(mode: str, seed: int) -> tuple[Flags, list[float], bool]:
        rng = np.random.default_rng(seed)
        x = Variable(rng.standard_normal((5, 3)))
        values: list[float] = []
        recorded = False
        with switches(mode):
            seen = flags()
            for _ in range(20):
                await asyncio.sleep(0)  # let every other task run, with its own switches
                assert flags() == seen
                bn = F.batch_norm(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))
                y = F.sum(F.dropout(bn, 0.5, rng=np.random.default_rng(seed)) ** 2)
                recorded |= y.creator is not None
                values.append(float(y.data))
        return seen, values, recorded

    async def main() -> list[tuple[Flags, list[float], bool]]:
        return list(await asyncio.gather(*(task(mode, seed) for seed, mode in enumerate(ASYNC_MODES))))

    alone = [asyncio.run(task(mode, seed)) for seed, mode in enumerate(ASYNC_MODES)]
    together = asyncio.run(main())
    assert together == alone
    assert [result[0] for result in together] == [
        Flags(),
        Flags(enable_backprop=False),
        Flags(train=False),
        Flags(detect_anomaly=True),
        Flags(train=False),
    ]
    assert flags() == Flags()
