"""Workload 5, memory: peak RSS of the MLP training of workload 2, and live objects after 2000 steps.

Every contender trains in its own process with the garbage collector disabled, so any reference
cycle left behind by a step stays alive and shows. Reported: the peak RSS (VmHWM) of the whole
process, its growth during training, and the growth of the number of objects the collector
tracks (all of them, and typed_dezero's Variables and Functions) between step 10 and the end.
The floor's process imports NumPy only (the benchmark modules load typed_dezero only to measure it).
"""

from __future__ import annotations

import gc
import importlib
import sys

from benchmarks import mlp
from benchmarks._common import (
    Kind,
    Row,
    Samples,
    Settings,
    Target,
    WorkloadResult,
    child_samples,
    contenders,
    digits,
    median,
    memory_mb,
)

NAME = "memory"
TITLE = "memory: MLP training (workload 2) with gc disabled, each contender in its own process"
WARMUP = 10


def iterations(settings: Settings) -> int:
    return 30 if settings.mode == "tiny" else 2000


def _counts(kind: Kind) -> dict[str, float]:
    objects = gc.get_objects()
    counts = {"objects": float(len(objects))}
    if kind == "typed":
        from typed_dezero import Function, Variable

        # Read the MRO rather than call isinstance: Function is an ABC, and isinstance would fill the
        # ABCs' negative caches with weak references to every type seen, objects the next count sees.
        counts["Variables"] = float(sum(Variable in type(o).__mro__ for o in objects))
        counts["Functions"] = float(sum(Function in type(o).__mro__ for o in objects))
    return counts


def measure(kind: Kind, case: str, settings: Settings) -> Samples:
    """Train in this process (meant to be a fresh child) and report memory figures, in MB and counts."""
    del case
    gc.disable()
    x, t = digits(settings)
    step = mlp.make_step(kind, settings)
    if step is None:
        return {}
    data = mlp.batches(x, t)
    rss_before, _ = memory_mb()
    start: dict[str, float] = {}
    n = iterations(settings)
    for i in range(n):
        step(*next(data))
        if i + 1 == WARMUP:
            start = _counts(kind)
    end = _counts(kind)
    _, peak = memory_mb()
    out: Samples = {"peak RSS": [peak], "RSS growth": [peak - rss_before]}
    for key, value in end.items():
        out[f"live {key}"] = [value]
        out[f"growth {key}"] = [value - start[key]]
    out["typed_dezero imported"] = [float("typed_dezero" in sys.modules)]
    if kind == "typed" and "beartype" not in sys.modules:  # checks off: what checks on would add
        before, _ = memory_mb()
        importlib.import_module("beartype")
        out["beartype import"] = [memory_mb()[0] - before]
    return out


def run(settings: Settings) -> WorkloadResult:
    # Checks off too, always: the target is out of reach with checks on (see the note below).
    cs = contenders(settings, checks_off=True)
    got: dict[str, Samples] = {c.label: {} for c in cs}
    for r in range(min(settings.rounds, 2)):
        k = r % len(cs)
        for c in [*cs[k:], *cs[:k]]:
            for key, values in child_samples(NAME, c.kind, "train", settings, checks=c.checks).items():
                got[c.label].setdefault(key, []).extend(values)
    result = WorkloadResult(5, NAME, TITLE)
    floor, torch = got["NumPy floor"], got.get("PyTorch")
    n = iterations(settings)
    cases = [
        ("peak RSS", "peak RSS", "MB", Target(1.1, "floor"), True),
        ("RSS growth", "RSS growth during training", "MB", None, True),
        (
            "growth objects",
            f"growth of gc-tracked objects, step {WARMUP}..{n}",
            "objects",
            Target(0, "value"),
            False,
        ),
        (
            "growth Variables",
            f"growth of live Variables, step {WARMUP}..{n}",
            "objects",
            Target(0, "value"),
            False,
        ),
        (
            "growth Functions",
            f"growth of live Functions, step {WARMUP}..{n}",
            "objects",
            Target(0, "value"),
            False,
        ),
    ]
    for c in cs:
        if c.kind != "typed":
            continue
        mine = got[c.label]
        for key, label, unit, target, ratios in cases:
            result.rows.append(
                Row(
                    label,
                    c.label,
                    unit,
                    mine.get(key, []),
                    floor.get(key),
                    None if torch is None else torch.get(key),
                    target,
                    ratios=ratios,
                )
            )
        live = ", ".join(f"{mine[f'live {k}'][-1]:.0f} {k}" for k in ("Variables", "Functions", "objects"))
        result.notes.append(f"{c.label} at the end: {live}")
    none: Samples = {}
    on, off = (
        next((got[c.label] for c in cs if c.kind == "typed" and c.checks is k), none) for k in (True, False)
    )
    if off.get("beartype import") and on.get("peak RSS") and off.get("peak RSS"):
        added, beartype = median(on["peak RSS"]) - median(off["peak RSS"]), median(off["beartype import"])
        room = 1.1 * median(floor["peak RSS"]) - median(off["peak RSS"])
        result.notes.append(
            f"checks on add {added:.1f} MB to the peak; importing beartype alone (the checker, loaded at "
            f"the first checked call) adds {beartype:.1f} MB to the checks-off process after training; "
            f"1.1x the floor leaves {room:.1f} MB above the checks-off peak"
        )
    result.notes.append(
        "the floor's process imported typed_dezero: "
        + ("yes (unexpected)" if any(floor.get("typed_dezero imported", [])) else "no")
    )
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
