"""Workload 7, import time: what ``import typed_dezero`` adds to importing NumPy and beartype.

Each sample is a fresh interpreter that imports numpy and beartype, then the package, timing both
steps inside the process (so interpreter start-up is excluded); the wall time of the whole process
is reported too. typed_dezero is measured with runtime checks on (decorating costs import time)
and off; ``import torch`` after the same two modules is the comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchmarks._common import (
    CHECK_VAR,
    ROOT,
    Row,
    Samples,
    Settings,
    Target,
    WorkloadResult,
    median,
)

NAME = "import_time"
TITLE = "import time: import typed_dezero after numpy and beartype (fresh interpreter per sample)"
CODE = """\
import json, time
t0 = time.perf_counter()
import numpy, beartype
t1 = time.perf_counter()
{extra}
t2 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1]))
"""
VARIANTS = {
    "base": ("", True),
    "typed (checks on)": ("import typed_dezero", True),
    "typed (checks off)": ("import typed_dezero", False),
    "torch": ("import torch", True),
}


def _sample(extra: str, checks: bool) -> tuple[float, float, float]:
    """(numpy+beartype ms, the extra import ms, process wall ms) of one fresh interpreter."""
    env = dict(os.environ)
    env[CHECK_VAR] = "1" if checks else "0"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CODE.format(extra=extra)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - t0
    base, added = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(base) * 1e3, float(added) * 1e3, wall * 1e3


def run(settings: Settings) -> WorkloadResult:
    variants = {k: v for k, v in VARIANTS.items() if k != "torch" or settings.torch is not None}
    for extra, checks in variants.values():
        _sample(extra, checks)  # warm the file cache and the bytecode caches
    repeats = {"full": 9, "quick": 5, "tiny": 1}[settings.mode]
    got: dict[str, Samples] = {k: {"base": [], "added": [], "wall": []} for k in variants}
    names = list(variants)
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            base, added, wall = _sample(*variants[name])
            got[name]["base"].append(base)
            got[name]["added"].append(added)
            got[name]["wall"].append(wall)
    result = WorkloadResult(7, NAME, TITLE)
    torch = got.get("torch")
    for name, label in (
        ("typed (checks on)", "typed_dezero (checks on)"),
        ("typed (checks off)", "typed_dezero (checks off)"),
    ):
        target = Target(100, "value") if name == "typed (checks on)" else None
        result.rows.append(
            Row(
                "import added to numpy+beartype",
                label,
                "ms",
                got[name]["added"],
                None,
                None if torch is None else torch["added"],
                target,
            )
        )
        result.rows.append(
            Row(
                "process wall time, python -c 'import numpy, beartype, X'",
                label,
                "ms",
                got[name]["wall"],
                got["base"]["wall"],
                None if torch is None else torch["wall"],
            )
        )
    result.notes.append(f"import numpy, beartype alone: {median(got['base']['base']):.0f} ms in-process")
    result.notes.append(
        "the NumPy floor column of the wall-time row is the process importing numpy and beartype only"
    )
    if torch is None:
        result.notes.append("PyTorch not installed: torch columns skipped")
    return result
