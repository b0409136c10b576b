"""Optimizers and hooks against their update rules written out in NumPy, gradient ownership, state
save/restore and validation."""

from __future__ import annotations

import gc
import inspect
import math
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from tests.strategies import arrays, shapes
from typed_dezero import (
    Arr,
    DezeroTypeError,
    DezeroValueError,
    GraphError,
    Parameter,
    ShapeError,
    Variable,
)
from typed_dezero._io import WeightsFileError, load_npz, save_npz
from typed_dezero.optimizers import (
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    ClipGrad,
    FreezeParam,
    HasParams,
    MomentumSGD,
    Optimizer,
    WeightDecay,
)


class Model:
    """The stand-in for a Layer: anything whose params() yields Parameters."""

    def __init__(self, *params: Parameter) -> None:
        self.items = list(params)

    def params(self) -> Iterator[Parameter]:
        yield from self.items


def f64(*values: float) -> Arr:
    return np.array(values, dtype=np.float64)


def param(*values: float) -> Parameter:
    return Parameter(f64(*values))


def grad_of(p: Parameter) -> Arr:
    grad = p.grad
    assert grad is not None
    return grad.data


def with_grad(p: Parameter, *values: float) -> Parameter:
    p.grad = Variable(f64(*values))
    return p


# -- the update rules, written out for one parameter ---------------------------------------------------

State = dict[str, Arr]
Rule = Callable[[Arr, Arr, State, int], Arr]
"""(data, grad, state of this parameter, t = number of the update from 1) -> new data."""


def sgd_rule(lr: float = 0.01) -> Rule:
    def step(w: Arr, g: Arr, s: State, t: int) -> Arr:
        return w - lr * g

    return step


def momentum_rule(lr: float = 0.01, momentum: float = 0.9) -> Rule:
    def step(w: Arr, g: Arr, s: State, t: int) -> Arr:
        v = momentum * s.get("v", np.zeros_like(w)) - lr * g
        s["v"] = v
        return w + v

    return step


def adagrad_rule(lr: float = 0.001, eps: float = 1e-8) -> Rule:
    def step(w: Arr, g: Arr, s: State, t: int) -> Arr:
        h = s.get("h", np.zeros_like(w)) + g * g
        s["h"] = h
        return w - lr * g / (np.sqrt(h) + eps)

    return step


def adadelta_rule(rho: float = 0.95, eps: float = 1e-6) -> Rule:
    def step(w: Arr, g: Arr, s: State, t: int) -> Arr:
        msg = rho * s.get("msg", np.zeros_like(w)) + (1 - rho) * g * g
        dx = np.sqrt((s.get("msdx", np.zeros_like(w)) + eps) / (msg + eps)) * g
        s["msg"] = msg
        s["msdx"] = rho * s.get("msdx", np.zeros_like(w)) + (1 - rho) * dx * dx
        return w - dx

    return step


def adam_rule(alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Rule:
    def step(w: Arr, g: Arr, s: State, t: int) -> Arr:
        m = s.get("m", np.zeros_like(w))
        v = s.get("v", np.zeros_like(w))
        m = m + (1 - beta1) * (g - m)
        v = v + (1 - beta2) * (g * g - v)
        s["m"], s["v"] = m, v
        lr = alpha * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        return w - lr * m / (np.sqrt(v) + eps)

    return step


CASES: list[tuple[str, Callable[[], Optimizer], Rule]] = [
    ("SGD()", lambda: SGD(), sgd_rule()),
    ("SGD(0.3)", lambda: SGD(lr=0.3), sgd_rule(0.3)),
    ("MomentumSGD()", lambda: MomentumSGD(), momentum_rule()),
    ("MomentumSGD(0.1, 0.5)", lambda: MomentumSGD(lr=0.1, momentum=0.5), momentum_rule(0.1, 0.5)),
    ("AdaGrad()", lambda: AdaGrad(), adagrad_rule()),
    ("AdaGrad(0.5, 0.1)", lambda: AdaGrad(lr=0.5, eps=0.1), adagrad_rule(0.5, 0.1)),
    ("AdaDelta()", lambda: AdaDelta(), adadelta_rule()),
    ("AdaDelta(0.5, 0.01)", lambda: AdaDelta(rho=0.5, eps=0.01), adadelta_rule(0.5, 0.01)),
    ("Adam()", lambda: Adam(), adam_rule()),
    ("Adam(0.1, 0.5, 0.7, 0.01)", lambda: Adam(0.1, 0.5, 0.7, 0.01), adam_rule(0.1, 0.5, 0.7, 0.01)),
]
IDS = [c[0] for c in CASES]

SHAPES = [(2, 3), (4,), ()]


def gradient(w: Arr, k: int) -> Arr:
    """A gradient that depends on the data (so a wrong update changes every later one)."""
    # np.asarray: NumPy returns scalars from operations on 0-d arrays
    return np.asarray(2.0 * (w - 0.5 * k) + np.cos(np.arange(w.size, dtype=np.float64).reshape(w.shape) + k))


@pytest.mark.parametrize(("label", "make", "rule"), CASES, ids=IDS)
def test_one_and_several_steps_follow_the_rule(label: str, make: Callable[[], Optimizer], rule: Rule) -> None:
    rng = np.random.default_rng(3)
    params = [Parameter(rng.standard_normal(s)) for s in SHAPES]
    expected = [p.data.copy() for p in params]
    states: list[State] = [{} for _ in params]
    opt = make().setup(Model(*params))
    for t in range(1, 6):
        for i, p in enumerate(params):
            g = gradient(p.data, t)
            p.grad = Variable(g.copy())
            expected[i] = rule(expected[i], g, states[i], t)
        opt.update()
        for p, e in zip(params, expected, strict=True):
            assert p.data.shape == e.shape
            assert_allclose(p.data, e, rtol=1e-12, atol=1e-15)


def test_first_steps_by_hand() -> None:
    w, g = f64(1.0, -2.0, 0.5), f64(0.5, -1.0, 0.0)
    p = with_grad(Parameter(w.copy()), 0.5, -1.0, 0.0)
    SGD(lr=0.1).setup(Model(p)).update()
    assert_allclose(p.data, f64(0.95, -1.9, 0.5))
    # Momentum: v = -lr * g on the first step, then v = 0.9 v - lr g.
    p = with_grad(Parameter(w.copy()), 0.5, -1.0, 0.0)
    opt = MomentumSGD(lr=0.1).setup(Model(p))
    opt.update()
    assert_allclose(p.data, w - 0.1 * g)
    opt.update()
    assert_allclose(p.data, w - 0.1 * g + (0.9 * -0.1 * g - 0.1 * g))
    # AdaGrad and Adam: the first step is about lr * sign(g) for |g| >> eps.
    p = with_grad(Parameter(w.copy()), 0.5, -1.0, 0.0)
    AdaGrad(lr=0.1).setup(Model(p)).update()
    assert_allclose(p.data, w - 0.1 * np.sign(g), rtol=1e-7)
    p = with_grad(Parameter(w.copy()), 0.5, -1.0, 0.0)
    Adam(alpha=0.1).setup(Model(p)).update()
    assert_allclose(p.data, w - 0.1 * np.sign(g), rtol=1e-6)
    # AdaDelta: msg = 0.05 g^2, dx = sqrt(eps / (msg + eps)) g.
    p = with_grad(Parameter(w.copy()), 0.5, -1.0, 0.0)
    AdaDelta().setup(Model(p)).update()
    assert_allclose(p.data, w - np.sqrt(1e-6 / (0.05 * g * g + 1e-6)) * g)


def test_training_through_backward_converges() -> None:
    w = Parameter(np.zeros(3), name="w")
    target = f64(1.0, -2.0, 3.0)
    opt = SGD(lr=0.1).setup(Model(w))
    expected = np.zeros(3)
    for _ in range(50):
        w.cleargrad()
        ((w - target) ** 2).sum().backward()
        opt.update()
        expected = expected - 0.1 * 2.0 * (expected - target)
    assert_allclose(w.data, expected, rtol=1e-12)
    assert_allclose(w.data, target, atol=1e-4)


def test_updates_replace_the_data_array_and_leave_the_old_one_alone() -> None:
    # What lets a failed update put the old array back (see test_fault_injection).
    p = with_grad(param(1.0, 2.0), 1.0, 1.0)
    for opt in (SGD(), MomentumSGD(), AdaGrad(), AdaDelta(), Adam()):
        data = p.data
        kept = data.copy()
        opt.setup(Model(p)).update()
        assert p.data is not data
        assert np.array_equal(data, kept)
        assert p.data.dtype == np.float64


def test_read_only_data_is_replaced_by_an_updated_copy() -> None:
    source = f64(1.0, 2.0)
    source.flags.writeable = False
    p = with_grad(Parameter(source), 1.0, 1.0)
    SGD(lr=0.5).setup(Model(p)).update()
    assert_allclose(p.data, f64(0.5, 1.5))
    assert_allclose(source, f64(1.0, 2.0))


def test_update_runs_without_recording_a_graph() -> None:
    seen: list[bool] = []

    def hook(params: list[Parameter]) -> None:
        seen.append((params[0] * 2.0).creator is None)

    opt = SGD().setup(Model(with_grad(param(1.0), 1.0)))
    opt.add_hook(hook)
    opt.update()
    assert seen == [True]


# -- which parameters are updated ----------------------------------------------------------------------


@pytest.mark.parametrize(("label", "make", "rule"), CASES, ids=IDS)
def test_parameters_without_gradient_are_skipped(
    label: str, make: Callable[[], Optimizer], rule: Rule
) -> None:
    a, b = with_grad(param(1.0, 2.0), 0.5, 0.5), param(3.0, 4.0)
    opt = make().setup(Model(a, b))
    opt.update()
    assert_allclose(b.data, f64(3.0, 4.0))
    assert_allclose(a.data, rule(f64(1.0, 2.0), f64(0.5, 0.5), {}, 1))
    assert not [k for k in opt.state_dict() if k.endswith("/1")]


def test_parameter_listed_twice_is_updated_once() -> None:
    p = with_grad(param(1.0), 1.0)
    SGD(lr=0.1).setup(Model(p, p)).update()
    assert_allclose(p.data, f64(0.9))


def test_params_is_read_at_every_update() -> None:
    model = Model(with_grad(param(1.0), 1.0))
    opt = SGD(lr=0.5).setup(model)
    opt.update()
    late = with_grad(param(5.0), 2.0)
    model.items.append(late)  # a layer that creates its parameters at the first call
    opt.update()
    assert_allclose(late.data, f64(4.0))


def test_state_belongs_to_the_parameter_object_not_to_its_id() -> None:
    model = Model(with_grad(param(1.0, 1.0), 1.0, 1.0))
    opt = MomentumSGD(lr=0.1, momentum=0.9).setup(model)
    opt.update()
    old_id = id(model.items[0])
    model.items.clear()
    gc.collect()
    # CPython usually hands the freed object's memory (and so its id) to the next Parameter.
    fresh = [with_grad(param(1.0, 1.0), 1.0, 1.0) for _ in range(20)]
    reused = next((p for p in fresh if id(p) == old_id), fresh[0])
    model.items.append(reused)
    opt.update()
    # A fresh velocity: v = -lr * g, not 0.9 * (-0.1) - 0.1.
    assert_allclose(reused.data, f64(0.9, 0.9))


# -- gradient ownership --------------------------------------------------------------------------------


def test_shared_gradient_object_is_split_before_hooks() -> None:
    a, b = param(1.0, 2.0), param(10.0, 20.0)
    shared = Variable(f64(1.0, 1.0))
    a.grad = shared
    b.grad = shared
    opt = SGD(lr=0.1).setup(Model(a, b))
    opt.add_hook(WeightDecay(0.5))
    opt.update()
    assert grad_of(a) is not grad_of(b)
    assert_allclose(grad_of(a), f64(1.0, 1.0) + 0.5 * f64(1.0, 2.0))
    assert_allclose(grad_of(b), f64(1.0, 1.0) + 0.5 * f64(10.0, 20.0))
    assert_allclose(a.data, f64(1.0, 2.0) - 0.1 * (1.0 + 0.5 * f64(1.0, 2.0)))
    assert_allclose(b.data, f64(10.0, 20.0) - 0.1 * (1.0 + 0.5 * f64(10.0, 20.0)))


def test_shared_gradient_array_from_backward_is_split() -> None:
    a, b = param(1.0, 2.0, 3.0), param(-1.0, 0.0, 4.0)
    (a + b).backward()
    assert grad_of(a) is grad_of(b)  # what backward hands out: one array for both
    opt = SGD(lr=0.1).setup(Model(a, b))
    opt.add_hook(WeightDecay(1.0))
    opt.update()
    assert_allclose(a.data, f64(1.0, 2.0, 3.0) - 0.1 * (1.0 + f64(1.0, 2.0, 3.0)))
    assert_allclose(b.data, f64(-1.0, 0.0, 4.0) - 0.1 * (1.0 + f64(-1.0, 0.0, 4.0)))


def test_distinct_variables_sharing_one_array_are_split() -> None:
    a, b = param(1.0), param(2.0)
    array = f64(3.0)
    a.grad, b.grad = Variable(array), Variable(array)
    ClipGrad(1.0)([a, b])
    assert_allclose([grad_of(a)[0], grad_of(b)[0]], [3.0 / (math.sqrt(18.0) + 1e-6)] * 2)


def test_gradient_that_is_a_parameters_data_is_copied() -> None:
    p = param(2.0, 4.0)
    p.grad = Variable(p.data)
    opt = SGD(lr=0.1).setup(Model(p))
    opt.add_hook(WeightDecay(1.0))
    opt.update()
    # grad = data + 1.0 * data = 2 data; without the copy the hook would double the data itself.
    assert_allclose(p.data, f64(2.0, 4.0) - 0.1 * 2.0 * f64(2.0, 4.0))


def test_gradient_view_of_another_gradient_is_copied() -> None:
    a, b = with_grad(param(1.0, 1.0), 3.0, 4.0), param(0.0, 0.0)
    b.grad = Variable(grad_of(a)[...])
    WeightDecay(1.0)([a, b])
    assert_allclose(grad_of(a), f64(4.0, 5.0))
    assert_allclose(grad_of(b), f64(3.0, 4.0))


def test_broadcast_gradient_can_be_changed_in_place() -> None:
    row = f64(1.0, 2.0, 3.0)
    p = Parameter(np.ones((2, 3)))
    p.grad = Variable(np.broadcast_to(row, (2, 3)))  # a read-only view
    opt = SGD(lr=0.1).setup(Model(p))
    opt.add_hook(WeightDecay(0.5))
    opt.add_hook(ClipGrad(1.0))
    opt.update()
    g = np.broadcast_to(row, (2, 3)) + 0.5 * np.ones((2, 3))
    g = g * (1.0 / (np.sqrt(np.sum(g**2)) + 1e-6))
    assert_allclose(p.data, np.ones((2, 3)) - 0.1 * g, rtol=1e-13)
    assert_allclose(row, f64(1.0, 2.0, 3.0))
    assert grad_of(p).flags.writeable


def test_data_of_a_new_shape_drops_the_gradient_so_the_update_skips_it() -> None:
    p = with_grad(param(1.0, 2.0), 1.0, 1.0)
    p.data = np.ones(3)  # the gradient of shape (2,) no longer means anything
    assert p.grad is None
    adam = Adam().setup(Model(p))
    adam.update()
    assert_allclose(p.data, np.ones(3))
    assert adam.state_dict() == {"t": np.array(1)}


def test_state_of_a_parameter_whose_shape_changed_is_a_shape_error() -> None:
    p = with_grad(param(1.0, 2.0), 1.0, 1.0)
    opt = MomentumSGD().setup(Model(p))
    opt.update()
    p.data = np.ones(3)
    p.grad = Variable(np.ones(3))
    with pytest.raises(ShapeError, match=r"shape changed since its state was created; got data.shape=\(3,\)"):
        opt.update()


def test_update_one_without_gradient_is_a_value_error() -> None:
    for opt in (SGD(), MomentumSGD(), AdaGrad(), AdaDelta(), Adam()):
        with pytest.raises(DezeroValueError, match=r"update_one: the parameter has no gradient"):
            opt.update_one(param(1.0))


# -- hooks ---------------------------------------------------------------------------------------------


def test_hooks_run_in_order_on_parameters_with_gradients() -> None:
    a, b = with_grad(param(1.0), 1.0), param(2.0)
    calls: list[tuple[str, list[Parameter]]] = []
    opt = SGD().setup(Model(a, b))
    opt.add_hook(lambda ps: calls.append(("first", list(ps))))
    opt.add_hook(lambda ps: calls.append(("second", list(ps))))
    assert len(opt.hooks) == 2
    opt.update()
    assert [name for name, _ in calls] == ["first", "second"]
    assert all(ps == [a] for _, ps in calls)


def test_weight_decay_adds_rate_times_data() -> None:
    p = with_grad(param(1.0, -2.0), 0.5, 0.5)
    opt = SGD(lr=0.1).setup(Model(p))
    opt.add_hook(WeightDecay(rate=0.01))
    opt.update()
    assert_allclose(p.data, f64(1.0, -2.0) - 0.1 * (f64(0.5, 0.5) + 0.01 * f64(1.0, -2.0)))
    WeightDecay(0.0)([p])  # rate 0 is allowed
    # Called directly, a hook passes over parameters without a gradient.
    bare = param(1.0)
    WeightDecay(0.5)([bare, p])
    assert bare.grad is None
    assert_allclose(grad_of(p), f64(0.5, 0.5) + 0.01 * f64(1.0, -2.0) + 0.5 * p.data)


@given(
    grads=st.lists(arrays(shapes(max_dims=2), lo=-3.0, hi=3.0), min_size=1, max_size=4),
    max_norm=st.floats(0.01, 10.0),
)
def test_clip_grad_scales_by_the_global_norm(grads: list[Arr], max_norm: float) -> None:
    params = [Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = Variable(g.copy())
    ClipGrad(max_norm)(params)
    total = np.sqrt(sum(float(np.sum(g**2)) for g in grads))
    rate = max_norm / (total + 1e-6)
    for p, g in zip(params, grads, strict=True):
        expected = g * rate if rate < 1 else g
        assert_allclose(grad_of(p), expected, rtol=1e-12, atol=0)


def test_clip_grad_norm_does_not_overflow() -> None:
    huge = f64(3e300, -4e300)
    p = Parameter(np.zeros(2))
    p.grad = Variable(huge.copy())
    ClipGrad(1.0)([p])
    # norm 5e300, computed as s * sqrt(sum((g / s)^2)) to stay finite
    assert_allclose(grad_of(p), f64(0.6, -0.8), rtol=1e-12)


def test_clip_grad_leaves_small_and_zero_gradients_alone() -> None:
    small, zero, empty = (
        with_grad(param(0.0, 0.0), 0.3, 0.4),
        with_grad(param(0.0), 0.0),
        Parameter(np.zeros(0)),
    )
    empty.grad = Variable(np.zeros(0))
    ClipGrad(1.0)([small, zero, empty])
    assert np.array_equal(grad_of(small), f64(0.3, 0.4))
    ClipGrad(1.0)([])


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_clip_grad_rejects_non_finite_gradients(bad: float) -> None:
    p = with_grad(param(0.0, 0.0), 1.0, bad)
    with pytest.raises(DezeroValueError, match="ClipGrad: the gradients' global"):
        ClipGrad(1.0)([p])


def test_freeze_param_keeps_parameters_and_layers_unchanged() -> None:
    a, b, c = with_grad(param(1.0), 1.0), with_grad(param(2.0), 1.0), with_grad(param(3.0), 1.0)
    layer = Model(b)
    opt = SGD(lr=0.5).setup(Model(a, b, c))
    freeze = FreezeParam(a, layer)
    opt.add_hook(freeze)
    opt.update()
    assert (a.data[0], b.data[0], c.data[0]) == (1.0, 2.0, 2.5)
    assert a.grad is None
    assert b.grad is None
    assert c.grad is not None
    assert freeze.frozen() == [a, b]
    # a parameter the layer creates later is frozen as well
    d = with_grad(param(4.0), 1.0)
    layer.items.append(d)
    opt.setup(Model(a, b, c, d)).update()
    assert d.data[0] == 4.0


def test_freeze_param_before_clip_grad_takes_frozen_gradients_out_of_the_norm() -> None:
    frozen, live = with_grad(param(0.0), 100.0), with_grad(param(0.0), 0.5)
    opt = SGD(lr=1.0).setup(Model(frozen, live))
    opt.add_hook(FreezeParam(frozen))
    opt.add_hook(ClipGrad(1.0))
    opt.update()
    assert frozen.data[0] == 0.0
    assert live.data[0] == -0.5  # the norm 0.5 is below max_norm: no clipping


def test_freeze_param_validates_its_arguments() -> None:
    with pytest.raises(DezeroValueError, match="FreezeParam: give at least one"):
        FreezeParam()
    with pytest.raises(TypeError):
        FreezeParam(3)  # type: ignore[arg-type]


class FakeParams:
    params = 3  # not callable


def test_freeze_param_rejects_objects_whose_params_is_not_callable() -> None:
    with pytest.raises(
        DezeroTypeError, match=r"FreezeParam: argument 1 must be a Parameter or have a params"
    ):
        FreezeParam(param(1.0), FakeParams())  # type: ignore[arg-type]


# -- setup and validation ------------------------------------------------------------------------------


def test_setup_returns_the_optimizer_and_sets_the_target() -> None:
    model = Model()
    assert Adam().target is None
    opt = Adam()
    assert opt.setup(model) is opt
    assert opt.target is model
    assert isinstance(model, HasParams)


@pytest.mark.parametrize("method", ["update", "state_dict"])
def test_using_an_optimizer_before_setup_is_a_graph_error(method: str) -> None:
    opt = MomentumSGD()
    with pytest.raises(GraphError, match=rf"MomentumSGD.{method}: no target; call setup\(model\) first"):
        getattr(opt, method)()
    with pytest.raises(GraphError, match=r"MomentumSGD.load_state_dict: no target"):
        opt.load_state_dict({})


def test_setup_rejects_objects_without_params() -> None:
    with pytest.raises(DezeroTypeError, match=r"SGD.setup: target must have a params\(\) method .* got list"):
        SGD().setup([param(1.0)])  # type: ignore[arg-type]


def test_params_must_yield_parameters() -> None:
    class Bad:
        def params(self) -> Iterator[Any]:
            yield param(1.0)
            yield Variable(f64(1.0))

    with pytest.raises(
        DezeroTypeError, match=r"SGD.update: target.params\(\) must yield Parameters; item 1 is"
    ):
        SGD().setup(Bad()).update()


BAD_HYPER: list[tuple[str, Callable[[], object], str]] = [
    ("lr=0", lambda: SGD(lr=0), r"SGD: lr must be > 0, got 0"),
    ("lr<0", lambda: MomentumSGD(lr=-0.1), r"MomentumSGD: lr must be > 0, got -0.1"),
    ("lr=nan", lambda: AdaGrad(lr=math.nan), r"AdaGrad: lr must be > 0, got nan"),
    ("lr=inf", lambda: SGD(lr=math.inf), r"SGD: lr must be > 0, got inf"),
    ("momentum=1", lambda: MomentumSGD(momentum=1.0), r"MomentumSGD: momentum must be in \[0, 1\), got 1.0"),
    ("momentum<0", lambda: MomentumSGD(momentum=-0.5), r"momentum must be in \[0, 1\), got -0.5"),
    ("eps=0", lambda: AdaGrad(eps=0.0), r"AdaGrad: eps must be > 0, got 0.0"),
    ("rho=1", lambda: AdaDelta(rho=1.0), r"AdaDelta: rho must be in \[0, 1\)"),
    ("AdaDelta eps", lambda: AdaDelta(eps=-1e-6), r"AdaDelta: eps must be > 0"),
    ("alpha=0", lambda: Adam(alpha=0.0), r"Adam: alpha must be > 0"),
    ("beta1=1", lambda: Adam(beta1=1.0), r"Adam: beta1 must be in \[0, 1\)"),
    ("beta2<0", lambda: Adam(beta2=-0.1), r"Adam: beta2 must be in \[0, 1\)"),
    ("Adam eps", lambda: Adam(eps=0.0), r"Adam: eps must be > 0"),
    ("rate<0", lambda: WeightDecay(-1e-4), r"WeightDecay: rate must be >= 0, got -0.0001"),
    ("max_norm=0", lambda: ClipGrad(0.0), r"ClipGrad: max_norm must be > 0, got 0.0"),
]


@pytest.mark.parametrize(("label", "make", "match"), BAD_HYPER, ids=[b[0] for b in BAD_HYPER])
def test_hyper_parameters_are_validated(label: str, make: Callable[[], object], match: str) -> None:
    with pytest.raises(DezeroValueError, match=match):
        make()


def test_hyper_parameters_are_validated_when_changed_too() -> None:
    opt = SGD(lr=0.1)
    opt.lr = 0.05  # a learning-rate schedule
    assert opt.lr == 0.05
    with pytest.raises(DezeroValueError, match="SGD: lr must be > 0, got -1"):
        opt.lr = -1
    assert opt.lr == 0.05
    with pytest.raises(DezeroTypeError, match=r"SGD: lr must be a real number, got bool \(True\)"):
        opt.lr = True
    with pytest.raises(DezeroTypeError, match=r"SGD: lr must be a real number, got str"):
        opt.lr = "0.1"  # type: ignore[assignment]
    opt.lr = 1
    assert type(opt.lr) is float


def test_defaults_and_repr() -> None:
    assert repr(SGD()) == "SGD(lr=0.01)"
    assert repr(MomentumSGD()) == "MomentumSGD(lr=0.01, momentum=0.9)"
    assert repr(AdaGrad()) == "AdaGrad(lr=0.001, eps=1e-08)"
    assert repr(AdaDelta()) == "AdaDelta(rho=0.95, eps=1e-06)"
    assert repr(Adam()) == "Adam(alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-08)"
    assert repr(WeightDecay(0.1)) == "WeightDecay(rate=0.1)"
    assert repr(ClipGrad(2)) == "ClipGrad(max_norm=2.0)"
    assert repr(FreezeParam(param(1.0), Model())) == "FreezeParam(2 targets)"
    assert type(SGD.lr).__name__ == "_Hyper"  # the validating descriptor, read on the class


def test_adam_counts_updates_and_folds_bias_correction_into_lr() -> None:
    opt = Adam(alpha=0.1, beta1=0.5, beta2=0.75).setup(Model(param(1.0)))
    assert opt.t == 0
    assert opt.lr == pytest.approx(0.1 * math.sqrt(1 - 0.75) / (1 - 0.5))  # what the first update uses
    for _ in range(3):
        opt.update()  # t counts update() calls, with or without gradients
    assert opt.t == 3
    assert opt.lr == pytest.approx(0.1 * math.sqrt(1 - 0.75**3) / (1 - 0.5**3))


# -- state save and restore ----------------------------------------------------------------------------

RESUME: list[tuple[str, Callable[[], Optimizer]]] = [(c[0], c[1]) for c in CASES]


def run(opt: Optimizer, params: list[Parameter], steps: range) -> None:
    for k in steps:
        for p in params:
            p.grad = Variable(gradient(p.data, k))
        opt.update()


@pytest.mark.parametrize(("label", "make"), RESUME, ids=[r[0] for r in RESUME])
def test_resuming_from_a_saved_state_gives_exactly_the_same_updates(
    tmp_path: pathlib.Path, label: str, make: Callable[[], Optimizer]
) -> None:
    rng = np.random.default_rng(7)
    params = [Parameter(rng.standard_normal(s)) for s in SHAPES]
    opt = make().setup(Model(*params))
    opt.add_hook(WeightDecay(0.01))
    run(opt, params, range(3))
    path = tmp_path / "optimizer.state"
    opt.save(path)
    checkpoint = [p.data.copy() for p in params]
    run(opt, params, range(3, 6))

    resumed = [Parameter(w.copy()) for w in checkpoint]
    opt2 = make().setup(Model(*resumed))
    opt2.add_hook(WeightDecay(0.01))
    opt2.load(path)
    run(opt2, resumed, range(3, 6))
    for p, q in zip(params, resumed, strict=True):
        assert np.array_equal(p.data, q.data)

    # Without the state the updates differ (the test can fail).
    fresh = [Parameter(w.copy()) for w in checkpoint]
    run(make().setup(Model(*fresh)), fresh, range(3, 6))
    if opt.state_dict():
        assert not all(np.array_equal(p.data, q.data) for p, q in zip(params, fresh, strict=True))


def test_state_dict_keys_values_and_copies() -> None:
    a, b, c = with_grad(param(1.0, 2.0), 1.0, 1.0), param(3.0), with_grad(param(4.0), 2.0)
    opt = Adam().setup(Model(a, b, a, c))
    opt.update()
    state = opt.state_dict()
    assert sorted(state) == ["m/0", "m/2", "t", "v/0", "v/2"]  # positions among distinct parameters
    assert state["t"].dtype == np.int64
    assert state["t"].shape == ()
    assert int(state["t"]) == 1
    assert_allclose(state["m/2"], f64(0.1 * 2.0))
    assert_allclose(state["v/2"], f64(0.001 * 4.0))
    state["m/0"][...] = 99.0
    assert_allclose(opt.state_dict()["m/0"], f64(0.1, 0.1))
    assert SGD().setup(Model(a)).state_dict() == {}


def test_state_dict_round_trips_through_load_state_dict() -> None:
    p = with_grad(param(1.0, 2.0), 1.0, -1.0)
    opt = AdaDelta().setup(Model(p))
    opt.update()
    state = opt.state_dict()
    other = AdaDelta().setup(Model(p))
    other.load_state_dict(state)
    assert sorted(other.state_dict()) == ["msdx/0", "msg/0"]
    for key, value in state.items():
        assert np.array_equal(other.state_dict()[key], value)
    state["msg/0"][...] = 5.0  # the optimizer holds its own copies
    assert not np.array_equal(other.state_dict()["msg/0"], state["msg/0"])


def test_parameters_without_entries_start_fresh_after_loading() -> None:
    a, b = with_grad(param(1.0), 1.0), with_grad(param(2.0), 1.0)
    opt = MomentumSGD().setup(Model(a, b))
    opt.update()
    opt.load_state_dict({"v/0": f64(0.5)})
    assert sorted(opt.state_dict()) == ["v/0"]
    assert_allclose(opt.state_dict()["v/0"], f64(0.5))


BAD_STATES: list[tuple[str, dict[str, npt.NDArray[Any]], str]] = [
    ("missing t", {"m/0": np.zeros(2), "v/0": np.zeros(2)}, r"missing keys \['t'\]"),
    ("half a parameter", {"t": np.array(1), "m/1": np.zeros(3)}, r"missing keys \['v/1'\]"),
    (
        "unknown keys",
        {"t": np.array(1), "w/0": np.zeros(2), "m/2": np.zeros(2), "m/01": np.zeros(2), "v/-1": np.zeros(2)},
        r"unexpected keys \['m/01', 'm/2', 'v/-1', 'w/0'\]",
    ),
    ("bare slot", {"t": np.array(1), "m": np.zeros(2)}, r"unexpected keys \['m'\]"),
    ("non-ascii digits", {"t": np.array(1), "m/\u0661": np.zeros(2)}, r"unexpected keys"),
    (
        "shape",
        {"t": np.array(1), "m/0": np.zeros(3), "v/0": np.zeros(2)},
        r"'m/0' has shape \(3,\), parameter 0 has shape \(2,\)",
    ),
    (
        "dtype",
        {"t": np.array(1), "m/0": np.zeros(2, dtype=np.float32), "v/0": np.zeros(2)},
        r"'m/0' must be a float64 array, got numpy.ndarray of dtype float32",
    ),
    ("negative t", {"t": np.array(-1)}, r"'t' must be a 0-d non-negative integer array"),
    (
        "float t",
        {"t": np.array(1.0)},
        r"'t' must be a 0-d non-negative integer array, got numpy.ndarray of dtype float64",
    ),
    ("vector t", {"t": np.array([1, 2])}, r"'t' must be a 0-d"),
]


@pytest.mark.parametrize(("label", "state", "match"), BAD_STATES, ids=[b[0] for b in BAD_STATES])
def test_load_state_dict_rejects_what_does_not_fit_and_changes_nothing(
    label: str, state: dict[str, npt.NDArray[Any]], match: str
) -> None:
    a, b = with_grad(param(1.0, 2.0), 1.0, 1.0), with_grad(param(1.0, 2.0, 3.0), 1.0, 1.0, 1.0)
    opt = Adam().setup(Model(a, b))
    opt.update()
    before = opt.state_dict()
    with pytest.raises(
        DezeroValueError, match=r"Adam.load_state_dict: the state does not fit .*\(2 parameters\)"
    ):
        opt.load_state_dict(state)
    with pytest.raises(DezeroValueError, match=match):
        opt.load_state_dict(state)
    after = opt.state_dict()
    assert sorted(after) == sorted(before)
    assert all(np.array_equal(after[k], before[k]) for k in before)
    assert opt.t == 1


def test_load_reports_the_file(tmp_path: pathlib.Path) -> None:
    p = with_grad(param(1.0, 2.0), 1.0, 1.0)
    path = tmp_path / "momentum.npz"
    save_npz(path, {"v/0": np.zeros(5)})
    opt = MomentumSGD().setup(Model(p))
    with pytest.raises(
        WeightsFileError, match=r"MomentumSGD.load: '.*momentum.npz' does not fit: .*'v/0' has shape"
    ):
        opt.load(path)
    with pytest.raises(FileNotFoundError):
        opt.load(tmp_path / "absent.npz")
    with pytest.raises(GraphError, match=r"MomentumSGD\.load: no target"):
        MomentumSGD().load(path)
    # Every array fits on its own, but a parameter has only one of its two moments.
    save_npz(path, {"t": np.array(1), "m/0": np.zeros(2)})
    adam = Adam().setup(Model(p))
    with pytest.raises(
        WeightsFileError, match=r"Adam.load: '.*momentum.npz' does not fit: .*missing keys \['v/0'\]"
    ):
        adam.load(path)
    assert adam.state_dict() == {"t": np.array(0)}


def test_save_writes_an_npz_of_the_state_dict(tmp_path: pathlib.Path) -> None:
    p = with_grad(param(1.0, 2.0), 1.0, 1.0)
    opt = Adam().setup(Model(p))
    opt.update()
    opt.save(tmp_path / "adam.bin")
    loaded = load_npz(tmp_path / "adam.bin")
    state = opt.state_dict()
    assert sorted(loaded) == sorted(state)
    assert all(np.array_equal(loaded[k], state[k]) for k in state)


def test_add_hook_rejects_non_callables() -> None:
    with pytest.raises(TypeError):
        SGD().add_hook(3)  # type: ignore[arg-type]


def _unchecked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` without the runtime type checker, as with TYPED_DEZERO_TYPECHECK=0: the hand-written
    checks behind it must still reject wrong inputs."""
    raw: Callable[..., Any] = inspect.unwrap(fn)
    return raw


def test_hand_written_checks_work_without_the_runtime_checker() -> None:
    opt = SGD().setup(Model(param(1.0)))
    with pytest.raises(DezeroTypeError, match=r"SGD.add_hook: f must be callable as f\(params\), got int"):
        _unchecked(SGD.add_hook)(opt, 3)
    with pytest.raises(DezeroTypeError, match=r"SGD.load_state_dict: state must be a mapping .* got list"):
        _unchecked(SGD.load_state_dict)(opt, [np.zeros(1)])
    with pytest.raises(
        DezeroTypeError, match=r"FreezeParam: argument 0 must be a Parameter or have a params"
    ):
        _unchecked(FreezeParam.__init__)(FreezeParam(param(1.0)), 3)
    with pytest.raises(DezeroTypeError, match="SGD: lr must be a real number, got str"):
        _unchecked(SGD.__init__)(SGD(), "0.1")
    assert opt.hooks == ()
