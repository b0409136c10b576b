"""A Function instance keeps what its forward stored for its first graph's backward.

DeZero-style user Functions store state on ``self`` in ``forward`` (``self.mask = ...``) and read it
in ``backward``; so does the library's SoftmaxCrossEntropy (``self._e``, ``self._s``). Calling the
same instance a second time, refused while recording (GraphError) or allowed under ``no_grad()``,
succeeding or failing at any step (see inject.py), must not change that state: the first graph's
gradient stays right. And one instance called from eight threads at once under ``no_grad()`` gives
each thread the result of a sequential run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from typed_dezero import Arr, Function, GraphError, IntArr, Variable, no_grad
from typed_dezero.config import flags, flags_var
from typed_dezero.functions.loss import SoftmaxCrossEntropy

from .dezero_style import MaskedRelu, Stash
from .harness import FunctionState, snapshot, thread_switch_interval
from .inject import Scenario, explore
from .test_concurrency import run_threads

SEED = 20261206
THREADS = 8


def data(*shape: int, seed: int = 0) -> Arr:
    return np.random.default_rng(SEED + seed).standard_normal(shape)


def relu_grad(x: Arr) -> Arr:
    return (x > 0.0).astype(np.float64)


@dataclass
class Reused:
    """A MaskedRelu recorded once on `x1` (output `y1`), to be called again on `x2`."""

    f: Function[Any, Any]
    x1: Variable
    y1: Variable
    x2: Variable
    state: FunctionState
    result: Variable | None = None


def reused() -> Reused:
    f = MaskedRelu()
    x1 = Variable(data(6), name="x1")
    x2 = Variable(-data(6), name="x2")  # the opposite signs: another mask
    return Reused(f, x1, f(x1), x2, FunctionState(f))


def first_gradient_problems(r: Reused) -> list[str]:
    """The first graph's gradient, computed now (and cleared again)."""
    r.y1.backward()  # seeded with ones: the gradient of sum(y1), whatever the switches in force
    grad = r.x1.grad
    r.x1.cleargrad()
    if grad is None or not np.array_equal(grad.data, relu_grad(r.x1.data)):
        return [f"the first graph's gradient is {None if grad is None else grad.data}"]
    return []


def test_a_second_call_while_recording_is_refused_and_keeps_the_state() -> None:
    r = reused()
    before = snapshot(r.state)
    with pytest.raises(GraphError, match="MaskedRelu instance was already called while recording"):
        r.f(r.x2)
    assert snapshot(r.state) == before
    assert first_gradient_problems(r) == []


def test_a_second_call_under_no_grad_runs_and_keeps_the_state() -> None:
    r = reused()
    before = snapshot(r.state)
    with no_grad():
        y2 = r.f(r.x2)
    assert np.array_equal(y2.data, r.x2.data * (r.x2.data > 0.0))
    assert y2.creator is None
    assert snapshot(r.state) == before
    assert first_gradient_problems(r) == []


def again_under_no_grad() -> Reused:
    r = reused()
    # Set here, not by a with-block in run: the block's exit is not the call's.
    flags_var.set(flags()._replace(enable_backprop=False))
    return r


def call_again(r: Reused) -> None:
    r.result = r.f(r.x2)


def reused_state(r: Reused) -> dict[str, object]:
    return {"the Function's state": r.state, "x1": r.x1, "y1": r.y1, "x2": r.x2, "flags": repr(flags())}


def reused_outcome(r: Reused) -> object:
    return (r.state, r.result)


def call_again_refused(r: Reused) -> None:
    try:
        r.f(r.x2)
    except GraphError:  # what a clean run gives: the fault is any other exception
        return
    msg = "a second call while recording was not refused"
    raise AssertionError(msg)


REUSE = [
    Scenario(
        "MaskedRelu called again under no_grad",
        again_under_no_grad,
        call_again,
        reused_state,
        reused_outcome,
        check=first_gradient_problems,
    ),
    Scenario(
        "MaskedRelu called again while recording (refused)",
        reused,
        call_again_refused,
        reused_state,
        reused_state,
        check=first_gradient_problems,
    ),
]


@pytest.mark.parametrize("scenario", REUSE, ids=[s.name for s in REUSE])
def test_a_second_call_interrupted_at_any_step_keeps_the_state(scenario: Scenario[Reused]) -> None:
    report = explore(scenario)
    assert report.faults > 0
    assert not report.problems, str(report)


# -- threads ----------------------------------------------------------------------------------------


@pytest.fixture
def _very_frequent_switches() -> Iterator[None]:
    with thread_switch_interval(1e-6):
        yield


ROUNDS = 40
LABELS: IntArr = np.array([0, 2, 1, 2, 0])


def inputs(thread: int) -> list[Arr]:
    return [data(5, 3, seed=100 * thread + k) * (thread + 1) for k in range(ROUNDS)]


def results(f: Callable[[Variable], Variable], xs: list[Arr]) -> list[Arr]:
    with no_grad():
        return [f(Variable(x)).data for x in xs]


@pytest.mark.usefixtures("_very_frequent_switches")
@pytest.mark.parametrize(
    "make", [lambda: SoftmaxCrossEntropy(LABELS), Stash], ids=["SoftmaxCrossEntropy", "a user Function"]
)
def test_one_instance_in_eight_threads_under_no_grad_gives_sequential_results(
    make: Callable[[], Function[Any, Any]],
) -> None:
    f = make()
    work = [inputs(t) for t in range(THREADS)]
    expected = [results(make(), xs) for xs in work]  # sequentially, a fresh instance per thread
    got = run_threads([functools.partial(results, f, xs) for xs in work])
    wrong = [
        (t, k) for t in range(THREADS) for k in range(ROUNDS) if not np.array_equal(got[t][k], expected[t][k])
    ]
    assert not wrong, (
        f"{len(wrong)} of {THREADS * ROUNDS} results differ from a sequential run's: {wrong[:10]}"
    )
