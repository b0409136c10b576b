"""lstm_step and lstm_step_simple: what takes no part gets no gradient, the errors, and the layer
built on the fused step (values and derivatives: cases_recurrent.py rows in test_gradients.py,
tests/oracle, test_simple.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Arr, DezeroTypeError, ShapeError, Variable

STEPS = [F.lstm_step, F.lstm_step_simple]
IDS = ["fused", "simple"]
N, IN, H = 2, 3, 4


def _weights(
    rng: np.random.Generator,
) -> tuple[tuple[Variable, ...], tuple[Variable, ...], tuple[Variable, ...]]:
    W_x = tuple(Variable(rng.standard_normal((IN, H))) for _ in range(4))
    b = tuple(Variable(rng.standard_normal(H)) for _ in range(4))
    W_h = tuple(Variable(rng.standard_normal((H, H))) for _ in range(4))
    return W_x, b, W_h


def _four(vs: tuple[Variable, ...]) -> tuple[Variable, Variable, Variable, Variable]:
    return vs[0], vs[1], vs[2], vs[3]


@pytest.mark.parametrize("step", STEPS, ids=IDS)
@pytest.mark.parametrize(("has_h", "has_c"), [(False, False), (True, False), (False, True), (True, True)])
def test_what_takes_no_part_gets_no_gradient(step: object, has_h: bool, has_c: bool) -> None:
    rng = np.random.default_rng(1)
    W_x, b, W_h = _weights(rng)
    x = Variable(rng.standard_normal((N, IN)))
    h = Variable(rng.standard_normal((N, H))) if has_h else None
    c = Variable(rng.standard_normal((N, H))) if has_c else None
    fn = F.lstm_step if step is F.lstm_step else F.lstm_step_simple
    h_new, c_new = fn(x, h, c, _four(W_x), _four(b), _four(W_h))
    F.sum(h_new + c_new).backward()
    # Without a cell the forget gate multiplies nothing; without h the hidden weights take no part.
    for k in range(4):
        forget_unused = k == 0 and not has_c
        assert (W_x[k].grad is None) == forget_unused
        assert (b[k].grad is None) == forget_unused
        assert (W_h[k].grad is None) == (forget_unused or not has_h)
    assert x.grad is not None
    for state in (h, c):
        assert state is None or state.grad is not None


def test_the_step_matches_the_formulas_on_arrays() -> None:
    rng = np.random.default_rng(2)
    W_x, b, W_h = _weights(rng)
    x, h, c = rng.standard_normal((N, IN)), rng.standard_normal((N, H)), rng.standard_normal((N, H))

    def gate(k: int) -> Arr:
        return x @ W_x[k].data + b[k].data + h @ W_h[k].data

    def sig(a: Arr) -> Arr:
        return 1.0 / (1.0 + np.exp(-a))

    f, i, o, u = sig(gate(0)), sig(gate(1)), sig(gate(2)), np.tanh(gate(3))
    want_c = f * c + i * u
    h_new, c_new = F.lstm_step(x, h, c, _four(W_x), _four(b), _four(W_h))
    np.testing.assert_allclose(c_new.data, want_c, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_new.data, o * np.tanh(want_c), rtol=1e-13, atol=1e-15)
    assert h_new.data.flags.c_contiguous
    assert c_new.data.flags.c_contiguous


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_errors_name_the_argument(step: object) -> None:
    rng = np.random.default_rng(3)
    W_x, b, W_h = _weights(rng)
    fn = F.lstm_step if step is F.lstm_step else F.lstm_step_simple
    name = "lstm_step" if step is F.lstm_step else "lstm_step_simple"
    x, h = rng.standard_normal((N, IN)), rng.standard_normal((N, H))
    with pytest.raises(DezeroTypeError, match=rf"^{name}: W_x must be a tuple of 4 \(one per gate"):
        fn(x, h, None, W_x[:3], _four(b), _four(W_h))  # type: ignore[arg-type]  # the wrong call on purpose
    singles: Any = np.ones(H, dtype=np.float32)  # the wrong call on purpose
    with pytest.raises(DezeroTypeError, match=rf"^{name}: b\[2\] must be a Variable or a float64 ndarray"):
        fn(x, h, None, _four(W_x), (b[0], b[1], singles, b[3]), _four(W_h))
    with pytest.raises(DezeroTypeError, match=rf"^{name}: W_h must be a tuple of 4 .* got float"):
        fn(x, h, None, _four(W_x), _four(b), 1.0)  # type: ignore[arg-type]
    with pytest.raises(DezeroTypeError, match=rf"^{name}: h must be a Variable or a float64 ndarray"):
        fn(x, [[0.0] * H] * N, None, _four(W_x), _four(b), _four(W_h))  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match=rf"^{name}: x must be 2-D \(N, in_size\), got shape \(3,\)"):
        fn(np.ones(IN), None, None, _four(W_x), _four(b), _four(W_h))
    with pytest.raises(ShapeError, match=rf"^{name}: W_x\[0\] must have shape \(in_size, H\) with in_size"):
        fn(np.ones((N, IN + 1)), None, None, _four(W_x), _four(b), _four(W_h))
    bad_b = (b[0], Variable(np.ones(H + 1)), b[2], b[3])
    with pytest.raises(ShapeError, match=rf"^{name}: b\[1\] must have shape \(H,\) = \(4,\), got \(5,\)"):
        fn(x, None, None, _four(W_x), bad_b, _four(W_h))
    with pytest.raises(ShapeError, match=rf"^{name}: c must have shape \(N, H\) = \(2, 4\), got \(3, 4\)"):
        fn(x, h, np.ones((N + 1, H)), _four(W_x), _four(b), _four(W_h))
    with pytest.raises(ShapeError, match=rf"^{name}: W_h\[3\] must have shape \(H, H\)"):
        fn(x, h, None, _four(W_x), _four(b), (W_h[0], W_h[1], W_h[2], Variable(np.ones((H, 1)))))


def test_the_layer_steps_with_one_node_and_keeps_a_bias_free_gate_working() -> None:
    rng = np.random.default_rng(4)
    lstm = L.LSTM(H, rng=rng)
    x = rng.standard_normal((N, IN))
    y = lstm(x)
    assert y.creator is not None
    assert type(y.creator).__name__ == "LSTMStep"
    assert lstm.c is not None
    assert lstm.c.creator is y.creator
    # A gate Linear whose bias was removed adds nothing (and gets no bias gradient).
    lstm.x2i.b = None
    h, c = lstm.h, lstm.c
    y2 = lstm(x)
    W_x = (lstm.x2f.W, lstm.x2i.W, lstm.x2o.W, lstm.x2u.W)
    W_h = (lstm.h2f.W, lstm.h2i.W, lstm.h2o.W, lstm.h2u.W)
    assert lstm.x2f.b is not None
    assert lstm.x2o.b is not None
    assert lstm.x2u.b is not None
    b = (lstm.x2f.b, Variable(np.zeros(H)), lstm.x2o.b, lstm.x2u.b)
    want, _ = F.lstm_step_simple(x, h, c, W_x, b, W_h)
    np.testing.assert_allclose(y2.data, want.data, rtol=1e-12, atol=1e-14)
    with pytest.raises(ShapeError, match=r"^lstm_step: x must be 2-D"):
        lstm(np.ones((N, 2, IN)))


@pytest.mark.parametrize("step", STEPS, ids=IDS)
def test_constant_states_and_lists_of_weights(step: object) -> None:
    # x and h raw arrays (constants): only the weights get gradients; lists work as the tuples do.
    rng = np.random.default_rng(5)
    W_x, b, W_h = _weights(rng)
    x, h, c = rng.standard_normal((N, IN)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    fn = F.lstm_step if step is F.lstm_step else F.lstm_step_simple
    lists: Any = (list(W_x), list(b), list(W_h))
    h_new, c_new = fn(x, h, c, *lists)
    F.sum(h_new * c_new).backward()
    want, _ = F.lstm_step_simple(x, h, c, _four(W_x), _four(b), _four(W_h))
    np.testing.assert_allclose(h_new.data, want.data, rtol=1e-12, atol=1e-14)
    assert all(w.grad is not None for w in (*W_x, *b, *W_h))
