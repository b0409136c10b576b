"""What every workload shares: settings, timing, child processes, result rows and tables, data.

Each workload module defines ``measure(kind, case, settings) -> Samples``, which times one contender
("floor": hand-written NumPy; "torch": PyTorch; "typed": typed_dezero) on one case, in the current
process, and ``run(settings) -> WorkloadResult``, which interleaves the contenders over several
rounds. Every contender runs in a fresh child process (``python -m benchmarks._child``): typed_dezero
must, since its runtime-checking switch is read once, at import, and the baselines do too, so that
no contender inherits the parent's heap, imports or threads (glibc's heap thresholds, for one,
adapt to what a process has freed before).
"""

from __future__ import annotations

import gc
import importlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias, cast

import numpy as np

from benchmarks import _torch

# Only for the annotations: typed_dezero is imported where it is measured, never by the baselines.
if TYPE_CHECKING:
    from typed_dezero._typing import Arr, IntArr

__all__ = [
    "CHECK_VAR",
    "FLOOR",
    "RESULT_PREFIX",
    "ROOT",
    "TORCH",
    "TYPED_OFF",
    "TYPED_ON",
    "Contender",
    "Kind",
    "Mode",
    "Row",
    "Samples",
    "Settings",
    "Target",
    "WorkloadResult",
    "cache_digits",
    "child_profile",
    "child_samples",
    "contenders",
    "digits",
    "fmt",
    "gather",
    "growth_exponent",
    "markdown_table",
    "median",
    "memory_mb",
    "parse_samples",
    "temporary_directory",
    "text_table",
    "time_cases",
]

Kind: TypeAlias = Literal["floor", "torch", "typed"]
Mode: TypeAlias = Literal["full", "quick", "tiny"]
Samples: TypeAlias = dict[str, list[float]]
"""Per case (or per measured quantity), the values of the repeated runs."""

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCHMARK-RESULT "
CHECK_VAR = "TYPED_DEZERO_TYPECHECK"


@dataclass(frozen=True)
class Settings:
    """How hard to measure; passed to the child processes as JSON."""

    mode: Mode = "full"
    rounds: int = 5
    """Rounds over the contenders (each round runs every contender once, in a rotated order)."""
    repeats: int = 3
    """Samples per contender and case within a round."""
    min_time: float = 0.05
    """Seconds one sample should last at least (cheap calls are repeated to get there)."""
    use_torch: bool = True
    checks_both: bool = False
    """Run typed_dezero with runtime checks off too in every workload (per-op and MLP always do)."""
    data_path: str = ""
    """An .npz file caching the digits, so children need not import scikit-learn."""

    @staticmethod
    def for_mode(mode: Mode, *, use_torch: bool = True, checks_both: bool = False) -> Settings:
        base = {
            "full": Settings("full", rounds=5, repeats=3, min_time=0.05),
            "quick": Settings("quick", rounds=2, repeats=2, min_time=0.02),
            "tiny": Settings("tiny", rounds=1, repeats=1, min_time=0.0),
        }[mode]
        return replace(base, use_torch=use_torch, checks_both=checks_both)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> Settings:
        # Written by to_json in the parent process.
        return Settings(**json.loads(text))

    @property
    def torch(self) -> _torch.Torch | None:
        """torch if wanted and installed, else None."""
        return _torch.load() if self.use_torch else None


# -- timing ----------------------------------------------------------------------------------


def _calibrate(fn: Callable[[], object], min_time: float) -> int:
    """How many calls make one sample last `min_time` (after one warm-up call)."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    return max(1, math.ceil(min_time / once)) if once > 0 else 1000


def time_cases(
    fns: Mapping[str, Callable[[], object]], settings: Settings, scale: float = 1.0, repeats: int = 0
) -> Samples:
    """Time each function `repeats` times (default ``settings.repeats``), interleaving the cases.

    A sample is the mean time of one call over a batch of calls lasting at least ``min_time``,
    times `scale` (e.g. 1e6 / ops for microseconds per op). The garbage collector stays on (it is
    part of the cost of building graphs); a collection runs before each sample.
    """
    numbers = {name: _calibrate(fn, settings.min_time) for name, fn in fns.items()}
    out: Samples = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats or settings.repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn, number = fns[name], numbers[name]
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            out[name].append((time.perf_counter() - t0) / number * scale)
    return out


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def growth_exponent(ns: Sequence[int], times: Sequence[float]) -> float:
    """The slope of log(time) against log(N), by least squares: time ~ N ** slope."""
    slope, _ = np.polyfit(np.log(np.asarray(ns, dtype=np.float64)), np.log(np.asarray(times)), 1)
    return float(slope)


def memory_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc (Linux) or getrusage."""
    current = peak = math.nan
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


# -- contenders and child processes ----------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    label: str
    kind: Kind
    checks: bool = True


FLOOR = Contender("NumPy floor", "floor")
TORCH = Contender("PyTorch", "torch")
TYPED_ON = Contender("typed_dezero (checks on)", "typed", checks=True)
TYPED_OFF = Contender("typed_dezero (checks off)", "typed", checks=False)


def contenders(settings: Settings, *, checks_off: bool = False, floor: bool = True) -> list[Contender]:
    """The contenders of a workload: the floor, torch if available, typed_dezero with checks on (and off)."""
    out = [FLOOR] if floor else []
    if settings.torch is not None:
        out.append(TORCH)
    out.append(TYPED_ON)
    if checks_off or settings.checks_both:
        out.append(TYPED_OFF)
    return out


def _child(args: list[str], checks: bool) -> str:
    env = dict(os.environ)
    env[CHECK_VAR] = "1" if checks else "0"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        msg = f"benchmark child {args[:3]} failed with exit code {proc.returncode}:\n{proc.stderr[-4000:]}"
        raise RuntimeError(msg)
    return proc.stdout


def child_samples(module: str, kind: Kind, case: str, settings: Settings, *, checks: bool = True) -> Samples:
    """Run ``benchmarks.<module>.measure(kind, case, settings)`` in a fresh interpreter."""
    out = _child([module, kind, case, settings.to_json()], checks)
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return parse_samples(line.removeprefix(RESULT_PREFIX))
    msg = f"benchmark child {module} {kind} {case} printed no result:\n{out[-2000:]}"
    raise RuntimeError(msg)


def child_profile(module: str, case: str, settings: Settings, *, checks: bool = True, top: int = 25) -> str:
    """cProfile typed_dezero's side of a workload in a fresh interpreter; the pstats text."""
    return _child([module, "typed", case, settings.to_json(), "--profile", str(top)], checks)


def parse_samples(text: str) -> Samples:
    """The samples a child printed as JSON: an object of lists of numbers."""
    data: object = json.loads(text)
    if not isinstance(data, dict):
        msg = f"expected a JSON object of lists of numbers, got {text[:200]}"
        raise TypeError(msg)
    out: Samples = {}
    for key, values in cast("dict[str, object]", data).items():
        if not isinstance(values, list):
            msg = f"expected a list of numbers for {key!r}, got {values!r}"
            raise TypeError(msg)
        out[key] = [float(v) for v in cast("list[object]", values) if isinstance(v, int | float)]
    return out


def gather(
    module: str, cs: Sequence[Contender], case: str, settings: Settings, *, rounds: int = 0
) -> dict[str, Samples]:
    """Each contender's samples of `case`, over several rounds in rotated order, each contender in a
    fresh child process of its own (every round, every contender: the same start for all)."""
    out: dict[str, Samples] = {c.label: {} for c in cs}
    for r in range(rounds or settings.rounds):
        k = r % len(cs)
        for c in [*cs[k:], *cs[:k]]:
            for key, values in child_samples(module, c.kind, case, settings, checks=c.checks).items():
                out[c.label].setdefault(key, []).extend(values)
    return out


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A goal: ``value / floor``, ``value / torch`` or the value itself at most `limit`."""

    limit: float
    basis: Literal["floor", "torch", "value"]

    def text(self) -> str:
        return f"<= {self.limit:g}" if self.basis == "value" else f"<= {self.limit:g}x {self.basis}"


@dataclass(frozen=True)
class Row:
    """One case for one typed_dezero contender, next to the baselines' values of the same case."""

    case: str
    contender: str
    unit: str
    value: Sequence[float]
    floor: Sequence[float] | None = None
    torch: Sequence[float] | None = None
    target: Target | None = None
    ratios: bool = True
    """Whether value / baseline means something (not for exponents or object counts)."""

    def ratio(self, basis: Literal["floor", "torch"]) -> float | None:
        base = self.floor if basis == "floor" else self.torch
        if not self.ratios or not base or not self.value:
            return None
        b = median(base)
        return median(self.value) / b if b > 0 else math.inf

    def status(self) -> str:
        t = self.target
        if t is None:
            return ""
        if not self.value:
            return "n/a"
        got = median(self.value) if t.basis == "value" else self.ratio(t.basis)
        if got is None:
            return "n/a"
        return "PASS" if got <= t.limit else "MISS"


@dataclass
class WorkloadResult:
    number: int
    name: str
    title: str
    rows: list[Row] = field(default_factory=list[Row])
    notes: list[str] = field(default_factory=list[str])


def fmt(x: float) -> str:
    """A number with about three significant digits (integers in full)."""
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else "inf"
    a = abs(x)
    if x == int(x) and a < 1e6:
        text = str(int(x))
    elif a >= 1:
        text = f"{x:.{max(0, 2 - int(math.log10(a)))}f}"
    else:
        text = f"{x:.3g}"
    return text


def cell(xs: Sequence[float] | None, *, spread: bool = True) -> str:
    """The median of `xs`, with the interquartile range in percent of it when there are several."""
    if xs is None:
        return "-"
    if not xs:
        return "n/a"
    m = median(xs)
    if not spread or len(xs) < 3 or m == 0:
        return fmt(m)
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return f"{fmt(m)} ±{100 * (q3 - q1) / 2 / abs(m):.0f}%"


def ratio_cell(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


HEADER = (
    "case",
    "contender",
    "unit",
    "typed_dezero",
    "NumPy floor",
    "PyTorch",
    "/floor",
    "/torch",
    "target",
    "",
)


def row_cells(row: Row) -> tuple[str, ...]:
    return (
        row.case,
        row.contender,
        row.unit,
        cell(row.value),
        cell(row.floor),
        cell(row.torch),
        ratio_cell(row.ratio("floor")),
        ratio_cell(row.ratio("torch")),
        row.target.text() if row.target else "",
        row.status(),
    )


def text_table(result: WorkloadResult) -> str:
    """The workload's rows as an aligned plain-text table, then its notes."""
    lines = [f"== {result.number}. {result.title}"]
    cells = [HEADER, *(row_cells(r) for r in result.rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    for c in cells:
        lines.append("  ".join(s.ljust(w) for s, w in zip(c, widths, strict=True)).rstrip())
    lines.extend(f"  note: {n}" for n in result.notes)
    return "\n".join(lines)


def markdown_table(results: Sequence[WorkloadResult], *, targets_only: bool = False) -> str:
    """All rows of all workloads as one markdown table (medians only); only the rows with a target
    if `targets_only`."""
    head = ("#", "workload", *HEADER[:-1], "status")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for res in results:
        for row in res.rows:
            if targets_only and row.target is None:
                continue
            c = row_cells(row)
            plain = (*c[:3], cell(row.value, spread=False), cell(row.floor, spread=False))
            plain += (cell(row.torch, spread=False), *c[6:])
            lines.append("| " + " | ".join((str(res.number), res.name, *plain)) + " |")
    return "\n".join(lines)


# -- data ------------------------------------------------------------------------------------


@cache
def _digits_from_sklearn() -> tuple[Arr, IntArr]:
    # scikit-learn ships no type information; the loader's result is converted right here.
    datasets = importlib.import_module("sklearn.datasets")
    bunch = datasets.load_digits()
    x = np.asarray(bunch.data, dtype=np.float64) / 16.0
    t = np.asarray(bunch.target, dtype=np.int64)
    return x, t


def digits(settings: Settings) -> tuple[Arr, IntArr]:
    """The 8x8 digits (1797 x 64 in [0, 1], labels 0..9), cached in ``settings.data_path`` if set."""
    path = settings.data_path
    if path and Path(path).exists():
        with np.load(path) as f:
            return np.asarray(f["x"], dtype=np.float64), np.asarray(f["t"], dtype=np.int64)
    x, t = _digits_from_sklearn()
    if path:
        np.savez(path, x=x, t=t)
    return x, t


def cache_digits(settings: Settings, directory: str) -> Settings:
    """`settings` with the digits cached in a file under `directory` (for the child processes)."""
    s = replace(settings, data_path=str(Path(directory) / "digits.npz"))
    digits(s)
    return s


def temporary_directory() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="typed_dezero_bench_")
