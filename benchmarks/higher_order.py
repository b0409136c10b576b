"""Workload 6, higher-order derivatives: the derivatives of order 1 to 4 of tanh at x = 1 (0-d).

typed_dezero differentiates its own gradient graph by repeated ``backward(create_graph=True)``
(DeZero step 35); PyTorch by repeated ``torch.autograd.grad(..., create_graph=True)``; the floor
evaluates the closed forms (with ``t = tanh(x)``, ``s = 1 - t^2``: ``s``, ``-2 t s``,
``s (6 t^2 - 2)``, ``8 t s (2 - 3 t^2)``). Microseconds per derivative of each order, from x (the
4th is the target), and the size of the graphs: the Function nodes typed_dezero builds (forward and
every backward pass up to that order) and, for both libraries, the nodes in the graph of the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

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
    time_cases,
)

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero import Function, Variable
    from typed_dezero._typing import Arr

NAME = "higher_order"
TITLE = "higher order: derivatives 1-4 of tanh at a 0-d x, by repeated differentiation of the gradient"
ORDERS = (1, 2, 3, 4)
ORDER = ORDERS[-1]
CASE = f"d{ORDER} tanh(x)"
X0 = 1.0


def case_name(order: int) -> str:
    return f"d{order} tanh(x)"


_CLOSED_FORMS: dict[int, Callable[[Arr], Arr]] = {
    1: lambda t: 1 - t * t,
    2: lambda t: -2 * t * (1 - t * t),
    3: lambda t: (1 - t * t) * (6 * t * t - 2),
    4: lambda t: 8 * t * (1 - t * t) * (2 - 3 * t * t),
}


def _floor(order: int) -> Callable[[], float]:
    x, form = np.array(X0), _CLOSED_FORMS[order]

    def d() -> float:
        return float(form(np.tanh(x)))

    return d


class _Node(Protocol):
    """A node of PyTorch's graph (``tensor.grad_fn``): only its links are read."""

    @property
    def next_functions(self) -> tuple[tuple[_Node | None, int], ...]: ...


def _torch_graph_nodes(g: _torch.Tensor) -> int:
    """The nodes of the graph that computes `g` (AccumulateGrad, the leaf's sink, not counted)."""
    stack = [cast("_Node | None", getattr(g, "grad_fn", None))]
    seen: set[int] = set()
    count = 0
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        count += type(node).__name__ != "AccumulateGrad"
        stack.extend(n for n, _ in node.next_functions)
    return count


def _torch_side(torch: _torch.Torch, order: int) -> Callable[[], _torch.Tensor]:
    x = _torch.tensor(torch, np.array(X0), requires_grad=True)

    def d() -> _torch.Tensor:
        g = torch.tanh(x)
        for _ in range(order):
            (g,) = torch.autograd.grad(g, x, create_graph=True)
        return g

    return d


def _typed(order: int) -> Callable[[], float]:
    import typed_dezero.functions as F
    from typed_dezero import Variable

    x = Variable(np.array(X0))

    def d() -> float:
        x.cleargrad()
        g = F.tanh(x)
        for _ in range(order):
            g.backward(create_graph=True)
            gx = x.grad
            if gx is None:
                return float("nan")
            x.cleargrad()
            g = gx
        return float(g.data)

    return d


def _creators(g: Variable) -> set[Function[Any, Any]]:
    """The Functions a backward from `g` runs: those reachable through inputs that need a gradient."""
    stack = [g.creator]
    seen: set[Function[Any, Any]] = set()
    while stack:
        f = stack.pop()
        if f is not None and f not in seen:
            seen.add(f)
            stack.extend(v.creator for v in f.inputs if v.requires_grad)
    return seen


def _typed_graph_sizes(order: int) -> tuple[int, int, int]:
    """(Function nodes built, backward steps run, Function nodes in the result's graph) for the
    derivative of `order`, counted on one untimed run by wrapping Function.__call__."""
    import typed_dezero.functions as F
    from typed_dezero import Function, Variable

    built = steps = 0
    call = Function.__call__

    def counting_call(fn: Function[Any, Any], *inputs: Variable) -> object:
        nonlocal built
        out = call(fn, *inputs)
        built += bool(fn.outputs)  # recorded as a node (not under no_grad)
        return out

    probe = "__call__"  # patched for one untimed run, then restored
    setattr(Function, probe, counting_call)
    try:
        x = Variable(np.array(X0))
        g = F.tanh(x)
        for _ in range(order):
            steps += len(_creators(g))
            g.backward(create_graph=True)
            gx = x.grad
            if gx is None:
                break
            x.cleargrad()
            g = gx
    finally:
        setattr(Function, probe, call)
    return built, steps, len(_creators(g))


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """typed_dezero's 4th derivative (for ``--profile``)."""
    del case, settings
    return _typed(ORDER)


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Microseconds per derivative of each order (interleaved), their values and graph sizes."""
    del case
    torch = settings.torch
    out: Samples
    if kind == "floor":
        fns: dict[str, Callable[[], object]] = {case_name(k): _floor(k) for k in ORDERS}
        out = time_cases(fns, settings, scale=1e6)
        for k in ORDERS:
            out[f"value {k}"] = [_floor(k)()]
    elif kind == "torch":
        if torch is None:
            return {}
        sides = {k: _torch_side(torch, k) for k in ORDERS}
        out = time_cases({case_name(k): fn for k, fn in sides.items()}, settings, scale=1e6)
        for k, side in sides.items():
            g = side()
            out[f"value {k}"] = [g.item()]
            out[f"graph nodes {k}"] = [float(_torch_graph_nodes(g))]
    else:
        typed = {k: _typed(k) for k in ORDERS}
        out = time_cases({case_name(k): fn for k, fn in typed.items()}, settings, scale=1e6)
        for k, d in typed.items():
            out[f"value {k}"] = [d()]
            built, steps, graph = _typed_graph_sizes(k)
            out[f"nodes built {k}"] = [float(built)]
            out[f"backward steps {k}"] = [float(steps)]
            out[f"graph nodes {k}"] = [float(graph)]
    return out


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings)
    got = gather(NAME, cs, CASE, settings)
    result = WorkloadResult(6, NAME, TITLE)
    torch = got.get("PyTorch")
    floor = got["NumPy floor"]
    for c in cs:
        if c.kind != "typed":
            continue
        mine = got[c.label]
        for k in ORDERS:
            name = case_name(k)
            target = Target(1.0, "torch") if k == ORDER else None
            torch_times = None if torch is None else torch[name]
            result.rows.append(Row(name, c.label, "us", mine[name], floor[name], torch_times, target))
        for k in ORDERS:
            result.rows.append(
                Row(f"d{k} Function nodes built", c.label, "nodes", mine[f"nodes built {k}"], ratios=False)
            )
    typed_on = next(got[c.label] for c in cs if c.kind == "typed")
    sizes = "; ".join(
        f"d{k}: {typed_on[f'graph nodes {k}'][0]:.0f}"
        + ("" if torch is None else f" vs {torch[f'graph nodes {k}'][0]:.0f}")
        + f" ({typed_on[f'backward steps {k}'][0]:.0f} backward steps)"
        for k in ORDERS
    )
    result.notes.append(f"nodes in the result's graph, typed_dezero vs PyTorch: {sizes}")
    for k in ORDERS:
        values = [median(s[f"value {k}"]) for s in got.values() if s.get(f"value {k}")]
        spread = max(values) - min(values)
        if k == ORDER:
            value = median(floor[f"value {k}"])
            result.notes.append(
                f"the 4th derivative agrees across contenders to {spread:.1e} (value {value:.12f})"
            )
        elif spread > 1e-9:
            result.notes.append(f"the derivative of order {k} differs across contenders by {spread:.1e}")
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
