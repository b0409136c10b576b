"""Workload 4, backward scheduling: deep chains and wide graphs of 0-d operations.

* chain: ``y = sin(sin(...sin(x)))`` with N ops, N = 1e3 .. 1e6;
* wide, left fold: ``x*c_1 + x*c_2 + ... + x*c_N`` summed left to right (a chain of N adds, and x
  with N consumers whose gradients accumulate), N = 1e3 .. 1e5;
* wide, balanced tree: the same N products summed pairwise (depth log2 N).

Each sample builds the graph, runs backward and frees the graph; reported in milliseconds (total)
with the growth exponent fitted by least squares on log(time) against log(N).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np

from benchmarks import _torch
from benchmarks._common import (
    Contender,
    Kind,
    Row,
    Samples,
    Settings,
    Target,
    WorkloadResult,
    contenders,
    gather,
    growth_exponent,
    median,
)

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero._typing import Arr

NAME = "scheduling"
TITLE = "backward scheduling: chain of N sin ops; sum of N products x*c_i (left fold, balanced tree)"
Shape = Literal["chain", "fold", "tree"]
SHAPES: tuple[Shape, ...] = ("chain", "fold", "tree")
X0 = 0.5

T = TypeVar("T")


def size_text(n: int) -> str:
    """1000 -> "1e3"; other sizes in full."""
    k = len(str(n)) - 1
    return f"1e{k}" if n == 10**k and k >= 3 else str(n)


def sizes(shape: Shape, settings: Settings) -> list[int]:
    if settings.mode == "tiny":
        return [100, 300]
    if shape == "chain":
        return [1_000, 10_000, 100_000] + ([1_000_000] if settings.mode == "full" else [])
    return [1_000, 10_000, 100_000]


def rounds(n: int, settings: Settings) -> int:
    """Fewer rounds for the big graphs (1e6: one sample per contender)."""
    if n >= 1_000_000:
        return 1
    if n >= 100_000:
        return min(settings.rounds, 3 if settings.mode == "full" else 1)
    return settings.rounds


def tree_sum(terms: list[T], add: Callable[[T, T], T]) -> T:
    """Sum pairwise, level by level: a balanced tree of depth ceil(log2 N)."""
    while len(terms) > 1:
        pairs = [add(terms[i], terms[i + 1]) for i in range(0, len(terms) - 1, 2)]
        terms = [*pairs, terms[-1]] if len(terms) % 2 else pairs
    return terms[0]


def constants(n: int) -> list[Arr]:
    """The c_i: 0-d float64 arrays in [0.5, 1.5) (seed 0)."""
    return [np.array(c) for c in np.random.default_rng(0).uniform(0.5, 1.5, n)]


# Each runner builds the graph, runs backward and drops it; it returns (build seconds, total seconds,
# dy/dx) so that the time to free the graph counts in the total.
Runner = Callable[[int], tuple[float, float, float]]


def _floor(shape: Shape) -> Runner:
    def chain(n: int) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        xs: list[Arr] = []
        y: Arr = np.array(X0)
        for _ in range(n):
            xs.append(y)
            y = np.asarray(np.sin(y))
        t1 = time.perf_counter()
        g = 1.0
        for v in reversed(xs):
            g = g * float(np.cos(v))
        del xs, y
        return t1 - t0, time.perf_counter() - t0, g

    def wide(n: int) -> tuple[float, float, float]:
        cs = constants(n)
        x: Arr = np.array(X0)
        t0 = time.perf_counter()
        if shape == "fold":
            acc = x * cs[0]
            for c in cs[1:]:
                acc = acc + x * c
        else:
            tree_sum([x * c for c in cs], lambda a, b: a + b)
        t1 = time.perf_counter()
        g = np.array(0.0)  # d/dx of sum(x * c_i) = sum(c_i), accumulated one consumer at a time
        for c in cs:
            g = g + c
        return t1 - t0, time.perf_counter() - t0, float(g)

    return chain if shape == "chain" else wide


def _torch_side(torch: _torch.Torch, shape: Shape) -> Runner:
    def chain(n: int) -> tuple[float, float, float]:
        x = _torch.tensor(torch, np.array(X0), requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for _ in range(n):
            y = torch.sin(y)
        t1 = time.perf_counter()
        y.backward()
        del y
        return t1 - t0, time.perf_counter() - t0, _torch.grad_sum(x)

    def wide(n: int) -> tuple[float, float, float]:
        cs = [_torch.tensor(torch, c) for c in constants(n)]
        x = _torch.tensor(torch, np.array(X0), requires_grad=True)
        t0 = time.perf_counter()
        if shape == "fold":
            y = x * cs[0]
            for c in cs[1:]:
                y = y + x * c
        else:
            y = tree_sum([x * c for c in cs], lambda a, b: a + b)
        t1 = time.perf_counter()
        y.backward()
        del y
        return t1 - t0, time.perf_counter() - t0, _torch.grad_sum(x)

    return chain if shape == "chain" else wide


def _typed(shape: Shape) -> Runner:
    import typed_dezero.functions as F
    from typed_dezero import Variable

    def grad_of(x: Variable) -> float:
        return float("nan") if x.grad is None else float(x.grad.data)

    def chain(n: int) -> tuple[float, float, float]:
        x = Variable(np.array(X0))
        t0 = time.perf_counter()
        y = x
        for _ in range(n):
            y = F.sin(y)
        t1 = time.perf_counter()
        y.backward()
        del y
        return t1 - t0, time.perf_counter() - t0, grad_of(x)

    def wide(n: int) -> tuple[float, float, float]:
        cs = constants(n)
        x = Variable(np.array(X0))
        t0 = time.perf_counter()
        if shape == "fold":
            y = x * cs[0]
            for c in cs[1:]:
                y = y + x * c
        else:
            y = tree_sum([x * c for c in cs], lambda a, b: a + b)
        t1 = time.perf_counter()
        y.backward()
        del y
        return t1 - t0, time.perf_counter() - t0, grad_of(x)

    return chain if shape == "chain" else wide


def _shape(text: str) -> Shape:
    for s in SHAPES:
        if s == text:
            return s
    msg = f"unknown graph shape {text!r}"
    raise ValueError(msg)


def typed_workload(case: str, settings: Settings) -> Callable[[], object]:
    """typed_dezero's side of ``"<shape>:<N>"`` (for ``--profile``)."""
    del settings
    shape_text, n_text = case.split(":")
    runner, n = _typed(_shape(shape_text)), int(n_text)
    return lambda: runner(n)


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Case ``"<shape>:<N>"``: milliseconds to build + backward + free (``repeats`` samples, or one
    for N >= 1e5), the build time alone, and dy/dx."""
    shape_text, n_text = case.split(":")
    shape, n = _shape(shape_text), int(n_text)
    if kind == "floor":
        runner = _floor(shape)
    elif kind == "torch":
        torch = settings.torch
        if torch is None:
            return {}
        runner = _torch_side(torch, shape)
    else:
        runner = _typed(shape)
    runner(min(n, 200))  # warm-up
    out: Samples = {"total": [], "build": [], "grad": []}
    for _ in range(1 if n >= 100_000 else settings.repeats):
        build, total, grad = runner(n)
        out["total"].append(total * 1e3)
        out["build"].append(build * 1e3)
        out["grad"].append(grad)
    return out


def _target(shape: Shape, n: int) -> Target | None:
    if shape == "chain" and n == 100_000:
        return Target(1.0, "torch")
    if shape != "chain" and n == 10_000:
        return Target(2.0, "torch")
    return None


def run(settings: Settings) -> WorkloadResult:
    cs = contenders(settings)
    result = WorkloadResult(4, NAME, TITLE)
    grads_agree = True
    for shape in SHAPES:
        ns = sizes(shape, settings)
        per_n = [gather(NAME, cs, f"{shape}:{n}", settings, rounds=rounds(n, settings)) for n in ns]
        totals: dict[str, list[float]] = {c.label: [] for c in cs}
        for n, got in zip(ns, per_n, strict=True):
            for c in cs:
                totals[c.label].append(median(got[c.label]["total"]) if got[c.label].get("total") else 0.0)
            grads = [median(s["grad"]) for s in got.values() if s.get("grad")]
            grads_agree &= max(grads) - min(grads) <= 1e-9 * max(1.0, abs(max(grads)))
            result.rows.extend(_rows(f"{shape} N={size_text(n)}", cs, got, _target(shape, n)))
        exponents = {c.label: [growth_exponent(ns, totals[c.label])] for c in cs if all(totals[c.label])}
        target = None if shape == "chain" else Target(1.15, "value")
        for c in cs:
            if c.kind == "typed":
                result.rows.append(
                    Row(
                        f"{shape} growth exponent, N={size_text(ns[0])}..{size_text(ns[-1])}",
                        c.label,
                        "exponent",
                        exponents.get(c.label, []),
                        exponents.get("NumPy floor"),
                        exponents.get("PyTorch"),
                        target,
                        ratios=False,
                    )
                )
    result.notes.append("times include building the graph, backward, and freeing the graph")
    result.notes.append(f"dy/dx agrees across contenders (rel. 1e-9) for every case: {grads_agree}")
    if settings.torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result


def _rows(case: str, cs: list[Contender], got: dict[str, Samples], target: Target | None) -> list[Row]:
    torch = got.get("PyTorch")
    return [
        Row(
            case,
            c.label,
            "ms",
            got[c.label].get("total", []),
            got["NumPy floor"]["total"],
            None if torch is None else torch.get("total"),
            target,
        )
        for c in cs
        if c.kind == "typed"
    ]
