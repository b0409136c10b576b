"""Workload 6, higher-order derivatives: the 4th derivative of tanh at x = 1 (0-d).

typed_dezero differentiates its own gradient graph by repeated ``backward(create_graph=True)``
(DeZero step 35); PyTorch by repeated ``torch.autograd.grad(..., create_graph=True)``; the floor
evaluates the closed form ``8 t (1 - t^2)(2 - 3 t^2)`` with ``t = tanh(x)``. Microseconds per derivative.
"""

from __future__ import annotations

from collections.abc import Callable

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

NAME = "higher_order"
TITLE = "higher order: 4th derivative of tanh at a 0-d x, by repeated differentiation of the gradient"
CASE = "d4 tanh(x)"
ORDER = 4
X0 = 1.0


def _floor() -> Callable[[], float]:
    x = np.array(X0)

    def d4() -> float:
        t = np.tanh(x)
        return float(8 * t * (1 - t * t) * (2 - 3 * t * t))

    return d4


def _torch_side(torch: _torch.Torch) -> Callable[[], float]:
    x = _torch.tensor(torch, np.array(X0), requires_grad=True)

    def d4() -> float:
        g = torch.tanh(x)
        for _ in range(ORDER):
            (g,) = torch.autograd.grad(g, x, create_graph=True)
        return g.item()

    return d4


def _typed() -> Callable[[], float]:
    import typed_dezero.functions as F
    from typed_dezero import Variable

    x = Variable(np.array(X0))

    def d4() -> float:
        x.cleargrad()
        g = F.tanh(x)
        for _ in range(ORDER):
            g.backward(create_graph=True)
            gx = x.grad
            if gx is None:
                return float("nan")
            x.cleargrad()
            g = gx
        return float(g.data)

    return d4


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """typed_dezero's 4th derivative (for ``--profile``)."""
    del case, settings
    return _typed()


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Microseconds per 4th derivative, and its value."""
    del case
    torch = settings.torch
    if kind == "floor":
        fn: Callable[[], float] | None = _floor()
    elif kind == "torch":
        fn = None if torch is None else _torch_side(torch)
    else:
        fn = _typed()
    if fn is None:
        return {}
    out = time_cases({CASE: fn}, settings, scale=1e6)
    out["value"] = [fn()]
    return out


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings)
    got = gather(NAME, measure, cs, CASE, settings)
    result = WorkloadResult(6, NAME, TITLE)
    torch = got.get("PyTorch")
    for c in cs:
        if c.kind == "typed":
            result.rows.append(
                Row(
                    CASE,
                    c.label,
                    "us",
                    got[c.label][CASE],
                    got["NumPy floor"][CASE],
                    None if torch is None else torch[CASE],
                    Target(1.0, "torch"),
                )
            )
    values = {label: median(s["value"]) for label, s in got.items() if s.get("value")}
    spread = max(values.values()) - min(values.values())
    floor_value = values["NumPy floor"]
    result.notes.append(
        f"the 4th derivative agrees across contenders to {spread:.1e} (value {floor_value:.12f})"
    )
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
