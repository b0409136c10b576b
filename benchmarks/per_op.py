"""Workload 1, per-op overhead: ``x*x + sin(x)*2 - x/3 + exp(x) - tanh(x)`` on a 0-d array.

Ten operations on a scalar, so the time is all framework overhead. Reported in microseconds per
operation for the forward pass, the forward pass under no_grad, and forward + backward; typed_dezero
runs with runtime checks on and off (each in its own process: the switch is read at import).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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
    from typed_dezero._typing import Arr

NAME = "per_op"
TITLE = "per-op overhead: x*x + sin(x)*2 - x/3 + exp(x) - tanh(x), 0-d float64"
OPS = 10
X0 = 0.5
CASES = ("forward", "forward no_grad", "fwd+bwd")
US_PER_OP = 1e6 / OPS


def _floor() -> tuple[dict[str, Callable[[], object]], Callable[[], float]]:
    x: Arr = np.array(X0)

    def forward() -> object:
        return x * x + np.sin(x) * 2 - x / 3 + np.exp(x) - np.tanh(x)

    def fwd_bwd() -> float:
        s, e, t = np.sin(x), np.exp(x), np.tanh(x)
        _ = x * x + s * 2 - x / 3 + e - t
        # d/dx: 2x + 2 cos(x) - 1/3 + exp(x) - (1 - tanh(x)^2)
        return float(2 * x + 2 * np.cos(x) - 1 / 3 + e - (1 - t * t))

    return {"forward": forward, "forward no_grad": forward, "fwd+bwd": fwd_bwd}, fwd_bwd


def _torch_side(torch: _torch.Torch) -> tuple[dict[str, Callable[[], object]], Callable[[], float]]:
    x = _torch.tensor(torch, np.array(X0), requires_grad=True)

    def forward() -> _torch.Tensor:
        return x * x + torch.sin(x) * 2 - x / 3 + torch.exp(x) - torch.tanh(x)

    def forward_no_grad() -> object:
        with torch.no_grad():
            return forward()

    def fwd_bwd() -> float:
        x.grad = None
        forward().backward()
        return _torch.grad_sum(x)

    return {"forward": forward, "forward no_grad": forward_no_grad, "fwd+bwd": fwd_bwd}, fwd_bwd


def _typed() -> tuple[dict[str, Callable[[], object]], Callable[[], float]]:
    import typed_dezero.functions as F
    from typed_dezero import Variable, no_grad

    x = Variable(np.array(X0))

    def forward() -> Variable:
        return x * x + F.sin(x) * 2 - x / 3 + F.exp(x) - F.tanh(x)

    def forward_no_grad() -> object:
        with no_grad():
            return forward()

    def fwd_bwd() -> float:
        x.cleargrad()
        forward().backward()
        return float("nan") if x.grad is None else float(x.grad.data)

    return {"forward": forward, "forward no_grad": forward_no_grad, "fwd+bwd": fwd_bwd}, fwd_bwd


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """typed_dezero's side of one case (for ``--profile``)."""
    del settings
    return _typed()[0][case]


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Microseconds per op of the three cases (`case` is ignored: all three run interleaved)."""
    del case
    if kind == "floor":
        fns, grad = _floor()
    elif kind == "torch":
        torch = settings.torch
        if torch is None:
            return {}
        fns, grad = _torch_side(torch)
    else:
        fns, grad = _typed()
    out = time_cases(fns, settings, scale=US_PER_OP)
    out["grad"] = [grad()]
    return out


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings, checks_off=True)
    got = gather(NAME, cs, "all", settings)
    result = WorkloadResult(1, NAME, TITLE)
    floor = got["NumPy floor"]
    torch = got.get("PyTorch")
    for case in CASES:
        for c in cs:
            if c.kind != "typed":
                continue
            target = None
            if case == "fwd+bwd":
                target = Target(1.2 if c.checks else 0.8, "torch")
            result.rows.append(
                Row(
                    case,
                    c.label,
                    "us/op",
                    got[c.label].get(case, []),
                    floor.get(case),
                    None if torch is None else torch.get(case),
                    target,
                )
            )
    grads = {label: median(s["grad"]) for label, s in got.items() if s.get("grad")}
    spread = max(grads.values()) - min(grads.values())
    result.notes.append(f"dy/dx agrees across contenders to {spread:.1e} (value {grads['NumPy floor']:.12f})")
    result.notes.append("the floor records no graph: its forward and no_grad forward are the same code")
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
