"""RNN and LSTM: many steps against a NumPy loop, gradients, lazy input sizes and truncated BPTT."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import typed_dezero.layers as L
from typed_dezero import Arr, DezeroValueError, Variable
from typed_dezero.layers import UninitializedParameterError
from typed_dezero.utils import gradient_check

from .helpers import check_param_grads

N, IN, H, STEPS = 2, 3, 4, 20


def _sigmoid(a: Arr) -> Arr:
    return 1.0 / (1.0 + np.exp(-a))


def _w(layer: L.Linear) -> Arr:
    return layer.W.data


def _b(layer: L.Linear) -> Arr:
    assert layer.b is not None
    return layer.b.data


def _numpy_rnn(rnn: L.RNN, xs: list[Arr]) -> list[Arr]:
    h: Arr | None = None
    out: list[Arr] = []
    for x in xs:
        pre = x @ _w(rnn.x2h) + _b(rnn.x2h)
        h = np.tanh(pre if h is None else pre + h @ _w(rnn.h2h))
        out.append(h)
    return out


def _gate(x: Arr, h: Arr | None, xl: L.Linear, hl: L.Linear) -> Arr:
    a = x @ _w(xl) + _b(xl)
    return a if h is None else a + h @ _w(hl)


def _numpy_lstm(lstm: L.LSTM, xs: list[Arr]) -> list[Arr]:
    h: Arr | None = None
    c: Arr | None = None
    out: list[Arr] = []
    for x in xs:
        f = _sigmoid(_gate(x, h, lstm.x2f, lstm.h2f))
        i = _sigmoid(_gate(x, h, lstm.x2i, lstm.h2i))
        o = _sigmoid(_gate(x, h, lstm.x2o, lstm.h2o))
        u = np.tanh(_gate(x, h, lstm.x2u, lstm.h2u))
        c = i * u if c is None else f * c + i * u
        h = o * np.tanh(c)
        out.append(h)
    return out


def _sequence(rng: np.random.Generator, steps: int = STEPS) -> list[Arr]:
    return [rng.standard_normal((N, IN)) for _ in range(steps)]


Recurrent = L.RNN | L.LSTM
MAKERS: list[tuple[str, Callable[[int | None, np.random.Generator], Recurrent]]] = [
    ("RNN", lambda in_size, rng: L.RNN(H, in_size=in_size, rng=rng)),
    ("LSTM", lambda in_size, rng: L.LSTM(H, in_size=in_size, rng=rng)),
]
IDS = [m[0] for m in MAKERS]


def _reference(layer: Recurrent, xs: list[Arr]) -> list[Arr]:
    return _numpy_rnn(layer, xs) if isinstance(layer, L.RNN) else _numpy_lstm(layer, xs)


@pytest.mark.parametrize(("name", "make"), MAKERS, ids=IDS)
@pytest.mark.parametrize("in_size", [IN, None], ids=["explicit", "lazy"])
def test_many_steps_match_numpy_then_backward(
    name: str, make: Callable[[int | None, np.random.Generator], Recurrent], in_size: int | None
) -> None:
    rng = np.random.default_rng(3)
    layer = make(in_size, rng)
    assert layer.uninitialized() == ([] if in_size else ["x2h/W"] if name == "RNN" else [
        "x2f/W", "x2i/W", "x2o/W", "x2u/W"
    ])  # fmt: skip
    xs = _sequence(rng)
    hs = [layer(x) for x in xs]
    assert layer.uninitialized() == []
    expected = _reference(layer, xs)
    for t, (h, e) in enumerate(zip(hs, expected, strict=True)):
        assert h.shape == (N, H)
        np.testing.assert_allclose(h.data, e, rtol=1e-10, atol=1e-12, err_msg=f"step {t}")
    loss = hs[0].sum()
    for h in hs[1:]:
        loss = loss + h.sum()
    loss.backward()
    for key, p in layer.named_params():
        assert p.dtype == np.float64
        assert p.grad is not None, key
        assert np.all(np.isfinite(p.grad.data)), key


@pytest.mark.parametrize(("name", "make"), MAKERS, ids=IDS)
def test_gradients_over_three_steps_match_central_differences(
    name: str, make: Callable[[int | None, np.random.Generator], Recurrent]
) -> None:
    rng = np.random.default_rng(4)
    layer = make(IN, rng)
    xs = _sequence(rng, 3)
    weights = [rng.uniform(0.5, 1.5, size=(N, H)) for _ in xs]

    def loss() -> Variable:
        layer.reset_state()
        total = (layer(xs[0]) * weights[0]).sum()
        for x, w in zip(xs[1:], weights[1:], strict=True):
            total = total + (layer(x) * w).sum()
        return total

    check_param_grads(layer, loss)

    def run(x0: Variable, x1: Variable) -> Variable:
        layer.reset_state()
        layer(x0)
        return layer(x1)

    assert gradient_check(run, xs[0], xs[1]), name


@pytest.mark.parametrize(("name", "make"), MAKERS, ids=IDS)
def test_unchain_backward_truncates_the_graph(
    name: str, make: Callable[[int | None, np.random.Generator], Recurrent]
) -> None:
    rng = np.random.default_rng(5)
    layer = make(None, rng)
    first = [Variable(x) for x in _sequence(rng, 10)]
    second = [Variable(x) for x in _sequence(rng, 10)]

    loss = sum((layer(x).sum() for x in first[1:]), layer(first[0]).sum())
    loss.backward()
    loss.unchain_backward()
    assert layer.h is not None
    assert layer.h.creator is None  # the state is now a leaf
    if isinstance(layer, L.LSTM):
        assert layer.c is not None
        assert layer.c.creator is None  # the cell too (an output of the step, not an input of h)
    carried_h = layer.h.data.copy()
    carried_c = layer.c.data.copy() if isinstance(layer, L.LSTM) and layer.c is not None else None

    layer.cleargrads()
    for x in first:
        x.cleargrad()
    loss2 = sum((layer(x).sum() for x in second[1:]), layer(second[0]).sum())
    loss2.backward()
    assert all(x.grad is None for x in first)  # nothing flows back past the cut
    assert all(x.grad is not None for x in second)

    # The same weights started from the carried state give the same gradients.
    twin = make(None, np.random.default_rng(0))
    twin(second[0].data)  # creates the lazy weights
    twin.load_state_dict(layer.state_dict())
    twin.reset_state()
    twin.h = Variable(carried_h)
    if isinstance(twin, L.LSTM):
        assert carried_c is not None
        twin.c = Variable(carried_c)
    twin.cleargrads()
    loss3 = sum((twin(Variable(x.data)).sum() for x in second[1:]), twin(Variable(second[0].data)).sum())
    loss3.backward()
    np.testing.assert_allclose(loss3.data, loss2.data, rtol=1e-12)
    for (key, p), (_, q) in zip(layer.named_params(), twin.named_params(), strict=True):
        assert p.grad is not None
        assert q.grad is not None
        np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=1e-10, atol=1e-12, err_msg=f"{name} {key}")


@pytest.mark.parametrize(("name", "make"), MAKERS, ids=IDS)
def test_reset_state_starts_a_new_sequence(
    name: str, make: Callable[[int | None, np.random.Generator], Recurrent]
) -> None:
    rng = np.random.default_rng(6)
    layer = make(IN, rng)
    x = rng.standard_normal((N, IN))
    h1 = layer(x).data
    h2 = layer(x).data
    assert not np.allclose(h1, h2), name  # the state carries over
    layer.reset_state()
    assert layer.h is None
    np.testing.assert_array_equal(layer(x).data, h1)


def test_lazy_rnn_reports_the_missing_weight() -> None:
    rnn = L.RNN(3)
    assert rnn.h2h.W.shape == (3, 3)  # hidden-to-hidden size is known at once
    with pytest.raises(UninitializedParameterError, match=r"Linear\.W is created at the layer's first call"):
        _ = rnn.x2h.W


def test_registration_order() -> None:
    assert [k for k, _ in L.RNN(2, in_size=3).named_params()] == ["x2h/W", "x2h/b", "h2h/W"]
    lstm_names = [k for k, _ in L.LSTM(2, in_size=3).named_params()]
    assert lstm_names == [
        *(f"x2{g}/{p}" for g in "fiou" for p in "Wb"),
        *(f"h2{g}/W" for g in "fiou"),
    ]


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: L.RNN(0), "RNN: hidden_size must be a positive int, got 0"),
        (lambda: L.RNN(2, in_size=-1), "RNN: in_size must be a positive int, got -1"),
        (lambda: L.LSTM(0), "LSTM: hidden_size must be a positive int, got 0"),
        (lambda: L.LSTM(2, in_size=0), "LSTM: in_size must be a positive int, got 0"),
    ],
)
def test_non_positive_sizes_are_rejected(make: Callable[[], object], pattern: str) -> None:
    with pytest.raises(DezeroValueError, match=pattern):
        make()
