"""typed_dezero's layers against torch.nn modules holding the same weights (copied from
typed_dezero's parameters, mapped to torch's layouts): outputs, and the gradients of the inputs and
of every parameter on both backward paths (array fast path and graph path).

Layout mappings: Linear's W is (in, out), torch's weight (out, in); Conv2d and Deconv2d
(ConvTranspose2d) and EmbedID (Embedding) share torch's layouts; BatchNorm's gamma/beta are
torch's weight/bias and its momentum is torch's 1 - momentum; RNN's x2h/h2h are torch's ih/hh
weights (transposed), with h2h having no bias (torch's bias_hh is set to 0); LSTM's four gates
(f, i, o, u) are stacked in torch's order (i, f, g = u, o).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import typed_dezero.functions as F
import typed_dezero.layers as L
from tests.functions.cases_loss import INT_DTYPES
from tests.oracle._torch import Module, Tensor, array, tensor, torch
from tests.oracle.harness import RTOL, assert_close
from tests.reliability.harness import COUNTS
from tests.strategies import arrays
from typed_dezero import Arr, Parameter, Variable, test_mode
from typed_dezero.models import MLP

Draw = st.DrawFn
nn = torch.nn
f64 = torch.float64

Grads = list[tuple[str, Variable, Callable[[], Arr]]]
"""(name, a typed_dezero Variable, the matching torch gradient in typed_dezero's layout)."""


def _set(target: Tensor, value: Arr) -> None:
    with torch.no_grad():
        target.copy_(tensor(value))


def _grad(t: Tensor) -> Arr:
    g = t.grad
    assert g is not None, "torch computed no gradient"
    return array(g)


def _compare(
    what: str, ys: list[Variable], tys: list[Tensor], grads: Grads, *, params: Sequence[Variable], seed: int
) -> None:
    """Each y against its torch output, then the gradients of ``sum_t sum(y_t * w_t)`` (w fixed,
    random) on both paths."""
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(y.shape) for y in ys]
    loss: Variable | None = None
    ref: Tensor | None = None
    for i, (y, ty, w) in enumerate(zip(ys, tys, ws, strict=True)):
        assert_close(f"{what}: output {i}", y.data, array(ty), RTOL)
        term, ref_term = F.sum(y * w), (ty * tensor(w)).sum()
        loss = term if loss is None else loss + term
        ref = ref_term if ref is None else ref + ref_term
    assert loss is not None
    assert ref is not None
    ref.backward()
    for create_graph in (False, True):
        for p in params:
            p.cleargrad()
        loss.backward(create_graph=create_graph)
        path = "graph" if create_graph else "array"
        for name, v, want in grads:
            # None: not used (the hidden-to-hidden weights at the first step), torch's gradient is 0
            got = np.zeros(v.shape) if v.grad is None else v.grad.data
            assert_close(f"{what}: gradient of {name}, {path} path", got, want(), RTOL)
        COUNTS["oracle_cases"] += 1


def _grad_of(t: Tensor) -> Callable[[], Arr]:
    return lambda: _grad(t)


def _transposed_grad(t: Tensor) -> Callable[[], Arr]:
    return lambda: _grad(t).T


def _t(a: Arr) -> Tensor:
    return tensor(a, requires_grad=True)


@st.composite
def _linear_case(draw: Draw) -> tuple[Arr, int, bool]:
    lead = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3))
    return draw(arrays(lead)), draw(st.integers(1, 4)), draw(st.booleans())


@given(case=_linear_case(), seed=st.integers(0, 2**16))
def test_linear(case: tuple[Arr, int, bool], seed: int) -> None:
    xd, out, nobias = case
    layer = L.Linear(out, nobias=nobias, in_size=xd.shape[-1], rng=np.random.default_rng(seed))
    module = nn.Linear(xd.shape[-1], out, bias=not nobias, dtype=f64)
    _set(module.weight, layer.W.data.T)
    x, tx = Variable(xd.copy()), _t(xd)
    grads: Grads = [("x", x, lambda: _grad(tx)), ("W", layer.W, lambda: _grad(module.weight).T)]
    if layer.b is not None and module.bias is not None:
        _set(module.bias, layer.b.data)
        bias = module.bias
        grads.append(("b", layer.b, lambda: _grad(bias)))
    _compare("Linear", [layer(x)], [module(tx)], grads, params=[x, *layer.params()], seed=seed)


@st.composite
def _conv_case(draw: Draw, transposed: bool = False) -> tuple[Arr, int, int, int, int, bool]:
    """x, out channels, kernel, stride, pad, nobias: an image size the kernel fits (conv2d), or
    one whose transposed output ``s * (h - 1) + k - 2 * p`` is not empty (deconv2d)."""
    k, s, p = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    if transposed:
        lo = 1 + max(0, -(-(2 * p + 1 - k) // s))  # the smallest h with s * (h - 1) + k - 2 * p >= 1
        h, w = draw(st.integers(lo, lo + 2)), draw(st.integers(lo, lo + 2))
    else:
        h, w = draw(st.integers(max(1, k - 2 * p), k + 2)), draw(st.integers(max(1, k - 2 * p), k + 2))
    return draw(arrays((n, c, h, w))), draw(st.integers(1, 3)), k, s, p, draw(st.booleans())


def _conv_layer_check(transposed: bool, case: tuple[Arr, int, int, int, int, bool], seed: int) -> None:
    xd, oc, k, s, p, nobias = case
    c = xd.shape[1]
    rng = np.random.default_rng(seed)
    layer_type = L.Deconv2d if transposed else L.Conv2d
    layer = layer_type(oc, k, s, p, nobias=nobias, in_channels=c, rng=rng)
    module_type = nn.ConvTranspose2d if transposed else nn.Conv2d
    module = module_type(c, oc, k, s, p, bias=not nobias, dtype=f64)
    _set(module.weight, layer.W.data)  # the same layouts: (OC, C, KH, KW) / (C_in, C_out, KH, KW)
    x, tx = Variable(xd.copy()), _t(xd)
    grads: Grads = [("x", x, lambda: _grad(tx)), ("W", layer.W, lambda: _grad(module.weight))]
    if layer.b is not None and module.bias is not None:
        _set(module.bias, layer.b.data)
        bias = module.bias
        grads.append(("b", layer.b, lambda: _grad(bias)))
    _compare(layer_type.__name__, [layer(x)], [module(tx)], grads, params=[x, *layer.params()], seed=seed)


@given(case=_conv_case(), seed=st.integers(0, 2**16))
def test_conv2d(case: tuple[Arr, int, int, int, int, bool], seed: int) -> None:
    _conv_layer_check(False, case, seed)


@given(case=_conv_case(transposed=True), seed=st.integers(0, 2**16))
def test_deconv2d(case: tuple[Arr, int, int, int, int, bool], seed: int) -> None:
    _conv_layer_check(True, case, seed)


@given(data=st.data(), seed=st.integers(0, 2**16))
def test_embed_id(data: st.DataObject, seed: int) -> None:
    vocab, dim = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    ids = data.draw(
        hnp.arrays(data.draw(st.sampled_from(INT_DTYPES)), shape, elements=st.integers(0, vocab - 1))
    )
    layer = L.EmbedID(vocab, dim, rng=np.random.default_rng(seed))
    module = nn.Embedding(vocab, dim, dtype=f64)
    _set(module.weight, layer.W.data)
    y, ty = layer(ids), module(tensor(ids.astype(np.int64)))
    _compare(
        "EmbedID", [y], [ty], [("W", layer.W, lambda: _grad(module.weight))], params=[layer.W], seed=seed
    )


@st.composite
def _bn_batches(draw: Draw) -> tuple[list[Arr], float, float]:
    """A few training batches of one shape, (N, C) or (N, C, H, W) with N >= 2, each channel
    spread over [-1.5, 1.5] (a batch variance away from 0), and momentum and eps."""
    n, c = draw(st.integers(2, 3)), draw(st.integers(1, 3))
    hw: tuple[int, ...] = draw(st.sampled_from([(), (1, 2), (2, 2)]))
    m = n * int(np.prod(hw))
    gen = np.random.default_rng(draw(st.integers(0, 2**16)))
    batches: list[Arr] = []
    for _ in range(draw(st.integers(1, 3))):
        spread = np.stack([gen.permutation(np.linspace(-1.5, 1.5, m)) for _ in range(c)])
        offset = draw(arrays((1, c, *(1,) * len(hw)), -2.0, 2.0))
        batches.append(
            draw(arrays((n, c, *hw), -0.3, 0.3)) + np.moveaxis(spread.reshape((c, n, *hw)), 0, 1) + offset
        )
    return (
        batches,
        draw(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0])),
        draw(st.sampled_from([2e-5, 1e-3, 0.5])),
    )


@given(case=_bn_batches(), seed=st.integers(0, 2**16))
def test_batchnorm_training_steps_then_test_mode(case: tuple[list[Arr], float, float], seed: int) -> None:
    batches, momentum, eps = case
    channels = batches[0].shape[1]
    layer = L.BatchNorm(momentum, eps, channels=channels)
    rng = np.random.default_rng(seed)
    gamma, beta = rng.standard_normal((channels,)), rng.standard_normal((channels,))
    layer.gamma.data, layer.beta.data = gamma.copy(), beta.copy()
    # DeZero's momentum weighs the old statistics, torch's the batch: torch's momentum is 1 - m.
    module_type = nn.BatchNorm1d if batches[0].ndim == 2 else nn.BatchNorm2d
    module = module_type(channels, eps=eps, momentum=1.0 - momentum, dtype=f64)
    bias = module.bias
    assert bias is not None
    _set(module.weight, gamma)
    _set(bias, beta)
    for step, xd in enumerate([*batches, batches[-1]]):
        testing = step == len(batches)
        module.train(not testing)
        x, tx = Variable(xd.copy()), _t(xd)
        for p in module.parameters():
            p.grad = None
        if testing:
            with test_mode():
                y = layer(x)
        else:
            y = layer(x)
        grads: Grads = [
            ("x", x, _grad_of(tx)),
            ("gamma", layer.gamma, _grad_of(module.weight)),
            ("beta", layer.beta, _grad_of(bias)),
        ]
        what = f"BatchNorm {'test mode' if testing else f'training step {step}'}"
        _compare(what, [y], [module(tx)], grads, params=[x, *layer.params()], seed=seed + step)
        # the running statistics after the step (unchanged by the test-mode call)
        assert_close(f"{what}: running mean", layer.state("avg_mean"), array(module.running_mean), RTOL)
        assert_close(f"{what}: running variance", layer.state("avg_var"), array(module.running_var), RTOL)
        COUNTS["oracle_cases"] += 1


@st.composite
def _sequence(draw: Draw) -> list[Arr]:
    t, n, i = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return [draw(arrays((n, i))) for _ in range(t)]


@given(xs=_sequence(), hidden=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_rnn(xs: list[Arr], hidden: int, seed: int) -> None:
    rnn = L.RNN(hidden, in_size=xs[0].shape[1], rng=np.random.default_rng(seed))
    bx = rnn.x2h.b
    assert bx is not None
    module = nn.RNN(xs[0].shape[1], hidden, nonlinearity="tanh", dtype=f64)
    _set(module.weight_ih_l0, rnn.x2h.W.data.T)
    _set(module.bias_ih_l0, bx.data)
    _set(module.weight_hh_l0, rnn.h2h.W.data.T)
    _set(module.bias_hh_l0, np.zeros(hidden))  # DeZero's h2h has no bias
    vs = [Variable(x.copy()) for x in xs]
    ys = [rnn(v) for v in vs]
    tx = _t(np.stack(xs))
    ty, _ = module(tx, tensor(np.zeros((1, xs[0].shape[0], hidden))))
    grads: Grads = [
        ("Wx", rnn.x2h.W, lambda: _grad(module.weight_ih_l0).T),
        ("bx", bx, lambda: _grad(module.bias_ih_l0)),
        ("Wh", rnn.h2h.W, lambda: _grad(module.weight_hh_l0).T),
        ("x", vs[0], lambda: _grad(tx)[0]),
    ]
    _compare("RNN", ys, [ty[t] for t in range(len(xs))], grads, params=[*vs, *rnn.params()], seed=seed)


def _gates(layers: list[L.Linear]) -> Arr:
    return np.concatenate([layer.W.data.T for layer in layers])


def _bias(layer: L.Linear) -> Parameter:
    assert layer.b is not None
    return layer.b


@given(xs=_sequence(), hidden=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_lstm(xs: list[Arr], hidden: int, seed: int) -> None:
    lstm = L.LSTM(hidden, in_size=xs[0].shape[1], rng=np.random.default_rng(seed))
    # torch stacks the gates as (input, forget, cell, output) = DeZero's (i, f, u, o)
    x_gates = [lstm.x2i, lstm.x2f, lstm.x2u, lstm.x2o]
    h_gates = [lstm.h2i, lstm.h2f, lstm.h2u, lstm.h2o]
    module = nn.LSTM(xs[0].shape[1], hidden, dtype=f64)
    _set(module.weight_ih_l0, _gates(x_gates))
    _set(module.bias_ih_l0, np.concatenate([_bias(g).data for g in x_gates]))
    _set(module.weight_hh_l0, _gates(h_gates))
    _set(module.bias_hh_l0, np.zeros(4 * hidden))
    vs = [Variable(x.copy()) for x in xs]
    ys = [lstm(v) for v in vs]
    tx = _t(np.stack(xs))
    zeros = tensor(np.zeros((1, xs[0].shape[0], hidden)))
    ty, _ = module(tx, (zeros, zeros))

    def chunk(t: Tensor, k: int, transpose: bool) -> Callable[[], Arr]:
        def grad() -> Arr:
            g = _grad(t)[k * hidden : (k + 1) * hidden]
            return g.T if transpose else g

        return grad

    grads: Grads = [("x", vs[0], lambda: _grad(tx)[0])]
    for k, (xg, hg) in enumerate(zip(x_gates, h_gates, strict=True)):
        grads += [
            (f"x gate {k} W", xg.W, chunk(module.weight_ih_l0, k, True)),
            (f"x gate {k} b", _bias(xg), chunk(module.bias_ih_l0, k, False)),
            (f"h gate {k} W", hg.W, chunk(module.weight_hh_l0, k, True)),
        ]
    _compare("LSTM", ys, [ty[t] for t in range(len(xs))], grads, params=[*vs, *lstm.params()], seed=seed)


@given(
    x=st.integers(1, 4).flatmap(lambda n: arrays((n, 3))),
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_mlp(x: Arr, sizes: list[int], seed: int) -> None:
    model = MLP(sizes, activation=F.sigmoid, rng=np.random.default_rng(seed))
    v = Variable(x.copy())
    y = model(v)  # the first call creates the weights
    modules: list[Module] = []
    fan_in = x.shape[1]
    grads: Grads = [("x", v, lambda: _grad(tx))]
    for i, (layer, size) in enumerate(zip(model.layers, sizes, strict=True)):
        linear = nn.Linear(fan_in, size, dtype=f64)
        _set(linear.weight, layer.W.data.T)
        bias = linear.bias
        assert bias is not None
        _set(bias, _bias(layer).data)
        grads += [
            (f"l{i}.W", layer.W, _transposed_grad(linear.weight)),
            (f"l{i}.b", _bias(layer), _grad_of(bias)),
        ]
        modules += [linear, nn.Sigmoid()]
        fan_in = size
    sequential = nn.Sequential(*modules[:-1])  # no activation after the last layer
    tx = _t(x)
    _compare("MLP", [y], [sequential(tx)], grads, params=[v, *model.params()], seed=seed)
