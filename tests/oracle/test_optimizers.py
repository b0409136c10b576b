"""typed_dezero's optimizers against torch.optim, several steps on the same gradients.

Hyper-parameter mapping (the update rules are in typed_dezero/optimizers.py):

* SGD(lr)                         = torch SGD(lr)
* MomentumSGD(lr, momentum)       = torch SGD(lr, momentum): DeZero's velocity ``v = m v - lr g``
  is ``-lr`` times torch's buffer ``b = m b + g`` (for a constant lr);
* AdaGrad(lr, eps)                = torch Adagrad(lr, eps=eps) (no lr decay, zero accumulator);
* AdaDelta(rho, eps)              = torch Adadelta(lr=1.0, rho, eps): the same rule, written with
  ``sqrt(a / b)`` where torch has ``sqrt(a) / sqrt(b)``;
* Adam(alpha, beta1, beta2, eps)  differs from torch Adam(lr=alpha, betas, eps) in where eps goes:
  DeZero divides by ``sqrt(v) + eps`` and folds the bias corrections into the step size, torch
  divides by ``sqrt(v) / sqrt(1 - beta2**t) + eps``, i.e. its eps is DeZero's eps scaled by
  ``1 / sqrt(1 - beta2**t)``. Compared (a) with torch Adam where eps is too small to matter
  (1e-300), (b) with a torch-tensor re-implementation of DeZero's documented rule at ordinary and
  large eps, and (c) the difference itself is checked at a large eps, so that this note cannot
  silently go stale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.oracle._torch import Optimizer as TorchOptimizer
from tests.oracle._torch import Tensor, array, tensor, torch
from tests.oracle.harness import RTOL, assert_close
from tests.reliability.harness import COUNTS
from tests.strategies import arrays
from typed_dezero import Arr, Parameter, Variable
from typed_dezero.layers import Layer
from typed_dezero.optimizers import SGD, AdaDelta, AdaGrad, Adam, MomentumSGD, Optimizer

Draw = st.DrawFn


@st.composite
def _problem(draw: Draw) -> tuple[list[Arr], list[list[Arr]]]:
    """Initial values of a few parameters and, for each of several steps, a gradient for each:
    elements 0 (AdaGrad and Adam must handle a zero accumulator) or of magnitude 1e-3 to 3."""
    shapes = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), min_size=1, max_size=3))
    values = [draw(arrays(s)) for s in shapes]
    steps = draw(st.integers(1, 5))
    elements = st.one_of(st.just(0.0), st.floats(1e-3, 3.0), st.floats(-3.0, -1e-3))
    grads = [[draw(hnp.arrays(np.float64, s, elements=elements)) for s in shapes] for _ in range(steps)]
    return values, grads


def _run(
    what: str,
    problem: tuple[list[Arr], list[list[Arr]]],
    dz_opt: Optimizer,
    torch_opt: Callable[[list[Tensor]], TorchOptimizer] | None = None,
    reference: Callable[[list[Tensor], list[Tensor], int], None] | None = None,
) -> list[list[Arr]]:
    """The same gradients fed to both optimizers, step by step; the parameters compared after
    each step. `reference` is a hand-written torch update (params, grads, step number) used instead
    of a torch.optim optimizer. Returns typed_dezero's parameters after each step."""
    values, grads = problem
    layer = Layer()
    params = [Parameter(v.copy()) for v in values]
    for i, p in enumerate(params):
        setattr(layer, f"p{i}", p)
    dz_opt.setup(layer)
    ts = [tensor(v, requires_grad=True) for v in values]
    opt = None if torch_opt is None else torch_opt(ts)
    history: list[list[Arr]] = []
    for step, gs in enumerate(grads, start=1):
        for p, g in zip(params, gs, strict=True):
            p.grad = Variable(g.copy())
        dz_opt.update()
        if opt is not None:
            for t, g in zip(ts, gs, strict=True):
                t.grad = tensor(g)
            opt.step()
        else:
            assert reference is not None
            with torch.no_grad():
                reference(ts, [tensor(g) for g in gs], step)
        for i, (p, t) in enumerate(zip(params, ts, strict=True)):
            assert_close(f"{what}: parameter {i} after step {step}", p.data, array(t), RTOL)
        COUNTS["oracle_cases"] += 1
        history.append([p.data.copy() for p in params])
    return history


@given(problem=_problem(), lr=st.sampled_from([0.01, 0.1, 1.0]))
def test_sgd(problem: tuple[list[Arr], list[list[Arr]]], lr: float) -> None:
    _run("SGD", problem, SGD(lr), lambda ts: torch.optim.SGD(ts, lr))


@given(problem=_problem(), lr=st.sampled_from([0.01, 0.1]), momentum=st.sampled_from([0.0, 0.5, 0.9]))
def test_momentum_sgd(problem: tuple[list[Arr], list[list[Arr]]], lr: float, momentum: float) -> None:
    _run("MomentumSGD", problem, MomentumSGD(lr, momentum), lambda ts: torch.optim.SGD(ts, lr, momentum))


@given(problem=_problem(), lr=st.sampled_from([0.001, 0.1]), eps=st.sampled_from([1e-8, 1e-3, 0.5]))
def test_adagrad(problem: tuple[list[Arr], list[list[Arr]]], lr: float, eps: float) -> None:
    _run("AdaGrad", problem, AdaGrad(lr, eps), lambda ts: torch.optim.Adagrad(ts, lr, eps=eps))


@given(problem=_problem(), rho=st.sampled_from([0.0, 0.9, 0.95]), eps=st.sampled_from([1e-6, 1e-3, 0.5]))
def test_adadelta(problem: tuple[list[Arr], list[list[Arr]]], rho: float, eps: float) -> None:
    _run("AdaDelta", problem, AdaDelta(rho, eps), lambda ts: torch.optim.Adadelta(ts, 1.0, rho=rho, eps=eps))


Betas = st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.5)])


@given(problem=_problem(), alpha=st.sampled_from([0.001, 0.1]), betas=Betas)
def test_adam_where_eps_does_not_matter(
    problem: tuple[list[Arr], list[list[Arr]]], alpha: float, betas: tuple[float, float]
) -> None:
    # eps = 1e-300: sqrt(v) is 0 (with m = 0) or at least ~3e-5 for these gradients, so eps changes
    # no digit of either rule, wherever it is placed.
    eps = 1e-300
    dz = Adam(alpha, betas[0], betas[1], eps)
    _run("Adam", problem, dz, lambda ts: torch.optim.Adam(ts, alpha, betas=betas, eps=eps))


def _dezero_adam(
    alpha: float, beta1: float, beta2: float, eps: float
) -> Callable[[list[Tensor], list[Tensor], int], None]:
    """DeZero's documented Adam rule, on torch tensors."""
    ms: dict[int, Tensor] = {}
    vs: dict[int, Tensor] = {}

    def step(params: Sequence[Tensor], grads: Sequence[Tensor], t: int) -> None:
        lr = alpha * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m = ms.get(i, g * 0.0)
            v = vs.get(i, g * 0.0)
            m = m + (1.0 - beta1) * (g - m)
            v = v + (1.0 - beta2) * (g * g - v)
            ms[i], vs[i] = m, v
            p.copy_(p - lr * m / (v.sqrt() + eps))

    return step


@given(problem=_problem(), alpha=st.sampled_from([0.001, 0.1]), betas=Betas, eps=st.sampled_from([1e-8, 0.1]))
def test_adam_follows_its_documented_rule(
    problem: tuple[list[Arr], list[list[Arr]]], alpha: float, betas: tuple[float, float], eps: float
) -> None:
    dz = Adam(alpha, betas[0], betas[1], eps)
    _run("Adam (documented rule)", problem, dz, reference=_dezero_adam(alpha, *betas, eps))


def test_adam_eps_placement_differs_from_torch() -> None:
    # The documented difference, at a large eps: torch's result is not DeZero's.
    values, grads = [np.array([1.0, -2.0])], [[np.array([0.5, -0.1])] for _ in range(3)]
    dz = Adam(0.1, 0.9, 0.999, 0.1)
    history = _run(
        "Adam (documented rule)", (values, grads), dz, reference=_dezero_adam(0.1, 0.9, 0.999, 0.1)
    )
    t = tensor(values[0], requires_grad=True)
    opt = torch.optim.Adam([t], 0.1, betas=(0.9, 0.999), eps=0.1)
    for (g,) in grads:
        t.grad = tensor(g)
        opt.step()
    gap = np.max(np.abs(history[-1][0] - array(t)))
    assert gap > 1e-3, "torch's Adam now matches DeZero's eps placement: update the module docstring"


def test_every_optimizer_is_compared() -> None:
    # A new optimizer class needs its own comparison above.
    import typed_dezero.optimizers as module

    classes = {
        name
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, Optimizer) and obj is not Optimizer
    }
    assert classes == {"SGD", "MomentumSGD", "AdaGrad", "AdaDelta", "Adam"}
