"""The differential check: one drawn input through typed_dezero and through PyTorch, forward value
and gradients of order 1, 2 and 3 compared on both backward paths.

For an output y and a fixed random weighting w0 of y's shape, order 1 differentiates
``L1 = sum(y * w0)`` (or ``sum(y * y * w0)`` for a linear function whose higher derivatives would
otherwise all be 0, see ``OracleCase.head``). Order k + 1 differentiates
``L(k+1) = sum_i sum(g_i * w_i)``, the order-k gradients g_i of the inputs reduced with fresh fixed
random weights w_i: identically in both libraries. At every order the last backward runs twice in
typed_dezero: without ``create_graph`` (the array fast path, ``Function.backward_data`` where it is
defined) and with ``create_graph=True`` (the graph path, whose gradients the next order
differentiates). Each (function, input, order, path) comparison counts one oracle case.

Tolerance: float64 throughout; a result passes when every element is within
``rtol * max(1, max|reference|)`` of the reference (rtol = 1e-10 unless a case states otherwise):
relative to the magnitude of the whole array, so that elements that cancel to ~0 are not held to
a relative error they cannot have, and absolute (1e-10) for arrays of magnitude below 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.functions.registry import Drawn
from tests.oracle._torch import Tensor, array, tensor, torch
from tests.reliability.harness import COUNTS
from typed_dezero import Arr, Variable

RTOL: Final = 1e-10

Head = Literal["linear", "square"]


@dataclass(frozen=True)
class OracleCase:
    """A public function (or Variable operator), its inputs and its PyTorch reference.

    `dz` and `ref` take the drawn arrays (as Variables / as float64 tensors that require grad) and
    the drawn keyword arguments (constants, passed to both as NumPy values). `orders` is how many
    orders are compared (0: the forward value only, for a function that is not differentiable).
    """

    name: str
    inputs: st.SearchStrategy[Drawn]
    dz: Callable[..., Variable]
    ref: Callable[..., Tensor]
    label: str = ""
    orders: int = 3
    head: Head = "linear"
    rtol: float = RTOL
    unit_weights: bool = False
    """Weight the output with uniform values in [-1, 1] / y.size instead of standard normal ones, so
    that ``sum(y * w0)`` cannot overflow for outputs near the float64 maximum."""

    @property
    def id(self) -> str:
        return f"{self.name}[{self.label}]" if self.label else self.name


def ref1(f: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """`f` itself: gives a one-input lambda reference its parameter type."""
    return f


def ref2(f: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """`f` itself: gives a two-input lambda reference its parameter types."""
    return f


def assert_close(what: str, got: Arr, want: Arr, rtol: float) -> None:
    """`got` equals `want` within ``rtol * max(1, max|want|)`` elementwise (shapes equal)."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != reference shape {want.shape}"
    assert got.dtype == np.float64, f"{what}: dtype {got.dtype}"
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=0.0, atol=rtol * scale, err_msg=what)


def _dz_grads(inputs: list[Variable], target: Variable, create_graph: bool) -> list[Variable | None]:
    for x in inputs:
        x.cleargrad()
    target.backward(create_graph=create_graph)
    grads = [x.grad for x in inputs]
    for x in inputs:
        x.cleargrad()
    return grads


def _ref_grads(inputs: list[Tensor], target: Tensor | None) -> list[Tensor]:
    if target is None or not target.requires_grad:
        return [_zeros_like(t) for t in inputs]
    return list(
        torch.autograd.grad(target, inputs, create_graph=True, allow_unused=True, materialize_grads=True)
    )


def _zeros_like(t: Tensor) -> Tensor:
    return tensor(np.zeros(t.shape))


def _values(g: Variable | None, shape: tuple[int, ...]) -> Arr:
    return np.zeros(shape) if g is None else g.data


def _dz_reduce(grads: list[Variable | None], weights: list[Arr]) -> Variable | None:
    total: Variable | None = None
    for g, w in zip(grads, weights, strict=True):
        if g is not None:
            term = F.sum(g * w)
            total = term if total is None else total + term
    return total


def _ref_reduce(grads: list[Tensor], weights: list[Arr]) -> Tensor | None:
    total: Tensor | None = None
    for g, w in zip(grads, weights, strict=True):
        if g.requires_grad:
            term = (g * tensor(w)).sum()
            total = term if total is None else total + term
    return total


def run(
    case: OracleCase, drawn: Drawn, seed: int, *, mutate: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """Compare `case` on one drawn input (forward, then each order on both paths).

    With `mutate`, typed_dezero gets its own copy of the keyword arguments, which `mutate` changes
    in place right after the forward (as a caller reusing an index or label buffer would); torch
    keeps the values as drawn, so every later gradient must not see the change.
    """
    rng = np.random.default_rng(seed)
    kwargs: Mapping[str, Any] = drawn.kwargs
    xs = [Variable(a.copy()) for a in drawn.arrays]
    ts = [tensor(a, requires_grad=True) for a in drawn.arrays]
    if mutate is None:
        y = case.dz(*xs, **kwargs)
    else:
        own = copy.deepcopy(dict(kwargs))
        y = case.dz(*xs, **own)
        mutate(own)
    ty = case.ref(*ts, **kwargs)
    assert_close(f"{case.id}: forward with kwargs {dict(kwargs)}", y.data, array(ty), case.rtol)
    COUNTS["oracle_cases"] += 1
    if case.orders == 0:
        return
    w0 = (
        rng.uniform(-1.0, 1.0, y.shape) / max(1, y.size)
        if case.unit_weights
        else rng.standard_normal(y.shape)
    )
    if case.head == "square":
        dz_target: Variable | None = F.sum(y * y * w0)
        ref_target: Tensor | None = (ty * ty * tensor(w0)).sum()
    else:
        dz_target, ref_target = F.sum(y * w0), (ty * tensor(w0)).sum()
    shapes = [a.shape for a in drawn.arrays]
    for order in range(1, case.orders + 1):
        want = _ref_grads(ts, ref_target)
        graph: list[Variable | None] = [None] * len(xs)
        for path in ("array", "graph"):
            create_graph = path == "graph"
            got: list[Variable | None] = (
                [None] * len(xs) if dz_target is None else _dz_grads(xs, dz_target, create_graph)
            )
            for i, (g, t) in enumerate(zip(got, want, strict=True)):
                what = f"{case.id}: order {order}, {path} path, input {i} (shape {shapes[i]}), {dict(kwargs)}"
                assert_close(what, _values(g, shapes[i]), array(t), case.rtol)
            COUNTS["oracle_cases"] += 1
            if create_graph:
                graph = got
        if order < case.orders:
            weights = [rng.standard_normal(s) for s in shapes]
            dz_target, ref_target = _dz_reduce(graph, weights), _ref_reduce(want, weights)
