"""A failure changes nothing (docs/reliability.md, "A failed call changes nothing"): a backward that
raises part way, a Function instance called a second time (refused, allowed, or from several
threads), running statistics and random generators of failed calls, a model's failed first call,
data replaced by an array of another shape, and loading into read-only state. The exhaustive
versions, with an exception injected at every step, are in test_fault_injection.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, Function, GraphError, UnaryFunction, Variable, no_grad
from typed_dezero.config import detect_anomaly, flags
from typed_dezero.errors import AnomalyError, DezeroError
from typed_dezero.functions.loss import SoftmaxCrossEntropy
from typed_dezero.models import MLP, Sequential

from .harness import COUNTS, snapshot
from .test_concurrency import run_threads

EXCEPTIONS: tuple[type[BaseException], ...] = (RuntimeError, MemoryError, KeyboardInterrupt)


class FailsOnCall(UnaryFunction):
    """``3 * x``, whose backward raises `error` on the call numbered `fail_at` of a shared counter."""

    def __init__(self, calls: list[int], fail_at: int, error: type[BaseException]) -> None:
        self.calls = calls
        self.fail_at = fail_at
        self.error = error

    @override
    def forward(self, x: Arr, /) -> Arr:
        return 3.0 * x

    @override
    def backward(self, gy: Variable, /) -> Variable:
        self.calls.append(1)
        if len(self.calls) == self.fail_at:
            msg = "injected"
            raise self.error(msg)
        return gy * 3.0


def _network(
    calls: list[int], fail_at: int, error: type[BaseException]
) -> tuple[Variable, Variable, Variable]:
    """Leaves x (already holding a gradient) and w, and a loss that reaches x along three paths,
    two of them through failing Functions: gradients are half accumulated when one fails."""
    x = Variable(np.array([1.0, -2.0]))
    x.grad = Variable(np.array([10.0, 20.0]))
    w = Variable(np.array([0.5, 0.25]))
    h = F.tanh(x * w)
    y = FailsOnCall(calls, fail_at, error)(h) + FailsOnCall(calls, fail_at, error)(x) + F.exp(x)
    return x, w, F.sum(y * y)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("error", EXCEPTIONS)
def test_a_backward_interrupted_at_any_user_backward_changes_no_gradient(
    error: type[BaseException], create_graph: bool
) -> None:
    clean: list[int] = []
    x, w, loss = _network(clean, 0, error)
    loss.backward(create_graph=create_graph)
    assert x.grad is not None
    assert w.grad is not None
    expected = (x.grad.data.copy(), w.grad.data.copy())
    for fail_at in range(1, len(clean) + 1):
        calls: list[int] = []
        x, w, loss = _network(calls, fail_at, error)
        watched = (x, w, loss)
        before = snapshot(watched)
        with pytest.raises(error, match="injected"):
            loss.backward(create_graph=create_graph)
        COUNTS["faults"] += 1
        assert snapshot(watched) == before  # no gradient changed, the seed was taken back
        assert loss.grad is None
        assert flags().enable_backprop is True
        loss.backward(create_graph=create_graph)  # a retry gives the gradient of one clean run
        assert x.grad is not None
        assert w.grad is not None
        assert np.array_equal(x.grad.data, expected[0])
        assert np.array_equal(w.grad.data, expected[1])


class Masked(Function):
    """DeZero's style: forward keeps what backward needs on self."""

    def forward(self, x: Any) -> Any:
        self.mask = x > 0
        return x * self.mask

    def backward(self, gy: Any) -> Any:
        return gy * Variable(self.mask.astype(np.float64))


def test_a_reused_function_is_refused_before_its_forward_runs() -> None:
    f = Masked()
    x = Variable(np.array([1.0, -1.0]))
    y = f(x)
    mask = f.mask
    with pytest.raises(GraphError, match="already called while recording a graph"):
        f(Variable(np.array([-5.0, 5.0])))
    assert f.mask is mask  # the refused call's forward never ran
    y.backward()
    assert x.grad is not None
    assert np.array_equal(x.grad.data, [1.0, 0.0])


def test_a_reused_function_under_no_grad_keeps_the_first_graphs_state() -> None:
    f = Masked()
    x = Variable(np.array([1.0, -1.0]))
    y = f(x)
    with no_grad():
        other = f(Variable(np.array([-5.0, 5.0])))  # allowed, on a private copy
    assert np.array_equal(other.data, [0.0, 5.0])
    assert np.array_equal(f.mask, [True, False])
    assert f.inputs == (x,)
    y.backward()
    assert x.grad is not None
    assert np.array_equal(x.grad.data, [1.0, 0.0])


class KeepsAnIntermediate(UnaryFunction):
    """Stores an intermediate on self and reads it back later in the same forward: two calls at
    once on one instance would mix their values."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        self.scaled = x * 2.0
        total = np.zeros_like(x)
        for _ in range(20):  # many bytecodes between the store and the read: threads interleave
            total = total + self.scaled
        return total

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * 40.0


def test_one_instance_called_from_several_threads_under_no_grad_keeps_each_threads_state() -> None:
    rng = np.random.default_rng(7)
    scores = [rng.standard_normal((6, 4)) for _ in range(8)]
    labels = [rng.integers(0, 4, size=6) for _ in range(8)]
    entropy = SoftmaxCrossEntropy(labels[0])
    keeper = KeepsAnIntermediate()
    expected_keeper = [KeepsAnIntermediate()(s).data for s in scores]  # sequential runs
    expected_entropy = [float(F.softmax_cross_entropy(s, labels[0]).data) for s in scores]

    def work(i: int) -> Callable[[], tuple[Arr, float]]:
        def run() -> tuple[Arr, float]:
            with no_grad():
                a = keeper(scores[i]).data
                b = float(entropy(scores[i]).data)
            return a, b

        return run

    for _ in range(5):
        results = run_threads([work(i) for i in range(8)])
        for (a, b), ea, eb in zip(results, expected_keeper, expected_entropy, strict=True):
            assert np.array_equal(a, ea)
            assert b == eb


def test_a_recording_call_from_another_thread_while_the_instance_is_busy_is_refused() -> None:
    started, release = threading.Event(), threading.Event()

    class Slow(UnaryFunction):
        @override
        def forward(self, x: Arr, /) -> Arr:
            started.set()
            release.wait(10)
            return x.copy()

        @override
        def backward(self, gy: Variable, /) -> Variable:
            return gy

    f = Slow()
    worker = threading.Thread(target=lambda: f(Variable(np.ones(1))))
    worker.start()
    try:
        assert started.wait(10)
        with pytest.raises(GraphError, match="is being called by another call"):
            f(Variable(np.ones(1)))
    finally:
        release.set()
        worker.join(10)
    assert f.outputs  # the first call recorded its node


def test_batch_norm_running_statistics_are_unchanged_by_a_failed_call() -> None:
    mean, var = np.zeros(2), np.ones(2)
    x = np.array([[1e308, 1.0], [1e308, 3.0]])  # finite, but the mean overflows to inf
    with detect_anomaly(), np.errstate(all="ignore"), pytest.raises(AnomalyError):
        F.batch_norm(x, np.ones(2), np.zeros(2), mean, var)
    assert np.array_equal(mean, [0.0, 0.0])
    assert np.array_equal(var, [1.0, 1.0])
    layer = L.BatchNorm()
    layer(np.array([[1.0, 2.0], [3.0, 5.0]]))
    state = {k: v.copy() for k, v in layer.state_dict().items()}
    with detect_anomaly(), np.errstate(all="ignore"), pytest.raises(AnomalyError):
        layer(x)
    for key, value in layer.state_dict().items():
        assert np.array_equal(value, state[key]), key


def test_a_refused_dropout_call_does_not_advance_its_generator() -> None:
    gen = np.random.default_rng(5)
    state = gen.bit_generator.state
    with detect_anomaly(), np.errstate(over="ignore"), pytest.raises(AnomalyError):
        F.dropout(np.array([1e308, 1.0]), 0.5, rng=gen)  # kept values scaled by 2 overflow
    assert gen.bit_generator.state == state


def test_a_models_failed_first_call_creates_nothing_and_draws_nothing() -> None:
    def make() -> MLP:
        return MLP((4, 3), activation=F.exp, rng=np.random.default_rng(11))

    model = make()
    before = snapshot(model)
    # The first layer initialises fine, then the activation between the layers overflows.
    with detect_anomaly(), np.errstate(over="ignore"), pytest.raises(AnomalyError):
        model(np.full((2, 3), 1e5))
    assert snapshot(model) == before
    assert model.uninitialized() == ["l0/W", "l1/W"]
    good = np.ones((2, 3))
    fresh = make()
    assert np.array_equal(model(good).data, fresh(good).data)
    for (name, p), (_, q) in zip(model.named_params(), fresh.named_params(), strict=True):
        assert np.array_equal(p.data, q.data), name


class FailsOnRequest(L.Layer[[Variable], Variable]):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    @override
    def forward(self, x: Variable) -> Variable:
        if self.fail:
            msg = "injected"
            raise KeyboardInterrupt(msg)
        return x


def test_a_failed_call_of_a_sequential_restores_every_running_statistic() -> None:
    last = FailsOnRequest()
    net = Sequential(L.BatchNorm(), L.Linear(2, rng=np.random.default_rng(0)), last)
    net(np.array([[1.0, 2.0], [3.0, 5.0]]))
    before = snapshot(net)
    last.fail = True
    with pytest.raises(KeyboardInterrupt):
        net(np.array([[1.0, 2.0], [3.0, 7.0]]))  # BatchNorm succeeds (and updates), the last layer fails
    last.fail = False
    assert snapshot(net) == before


def _grad_shape(x: Variable) -> tuple[int, ...] | None:
    return None if x.grad is None else x.grad.shape


def test_new_data_of_another_shape_drops_the_stale_gradient() -> None:
    x = Variable(np.ones(3))
    F.sum(x * 2.0).backward()
    x.data = np.ones((2, 2))
    assert _grad_shape(x) is None
    F.sum(x * 2.0).backward()
    assert _grad_shape(x) == (2, 2)
    x.data = np.zeros((2, 2))  # the same shape: the gradient stays
    assert _grad_shape(x) == (2, 2)


def test_loading_into_read_only_state_is_all_or_nothing() -> None:
    source = Sequential(L.Linear(2, in_size=2), L.BatchNorm(channels=2))
    source(np.array([[1.0, 2.0], [3.0, 5.0]]))
    target = Sequential(L.Linear(2, in_size=2), L.BatchNorm(channels=2))
    bn = target.layers[1]
    assert isinstance(bn, L.BatchNorm)
    bn.state("avg_var").flags.writeable = False
    before = snapshot(target)
    try:
        target.load_state_dict(source.state_dict())
    except DezeroError:
        assert snapshot(target) == before  # refused as a whole
    else:
        loaded = target.state_dict()
        for key, value in source.state_dict().items():
            assert np.array_equal(loaded[key], value), key
