"""Instructions per operation, counted by valgrind's cachegrind: figures that do not move with the
machine's load, for comparing two versions of typed_dezero where wall-clock ratios are too noisy.

``python -m benchmarks.instructions [--against TREE] [--checks off] [CASE ...]`` runs each case's
typed_dezero side (the callable ``--profile`` runs) in a fresh interpreter under
``valgrind --tool=cachegrind --cache-sim=no``, once with 0 and once with N calls after the same
warm-up, and prints ``(I(N) - I(0)) / (N * ops per call)``: the instructions of one operation
(per-op cases), one term (scheduling cases) or one training epoch, import and warm-up excluded.
``--against`` counts another checkout too (``git worktree add /tmp/base <commit>``), whose own
``benchmarks`` and ``typed_dezero`` then run, and prints the ratio. Hash randomization is fixed
(``PYTHONHASHSEED=0``), so a count repeats to a few tenths of a percent. Needs valgrind; a count
takes some 20-40 seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Case:
    module: str
    case: str
    calls: int
    """N: calls of the workload counted (against 0)."""
    per_call: int
    """Operations (or terms) per call: the count is divided by ``calls * per_call``."""
    unit: str


CASES: dict[str, Case] = {
    "forward": Case("per_op", "forward", 2000, 10, "op"),
    "fwd+bwd": Case("per_op", "fwd+bwd", 1000, 10, "op"),
    "fold": Case("scheduling", "fold:3000", 1, 3000, "term"),
    "chain": Case("scheduling", "chain:3000", 1, 3000, "term"),
    "lstm": Case("lstm_train", "epoch", 1, 1, "epoch"),
    "cnn": Case("cnn_train", "epoch", 1, 1, "epoch"),
}

# The child: typed_dezero and the benchmarks of `tree`, the workload warmed up, then `calls` calls.
CHILD = """
import os, sys
tree, module, case, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, tree)
import importlib
import typed_dezero
if not typed_dezero.__file__.startswith(tree):
    raise SystemExit(f"typed_dezero came from {typed_dezero.__file__}, not from {tree}")
from benchmarks._common import Settings
run = importlib.import_module(f"benchmarks.{module}").typed_workload(case, Settings.for_mode("quick"))
for _ in range(3):
    run()
for _ in range(calls):
    run()
os._exit(0)  # the graph and the modules are not freed: that is not the operation's cost
"""

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def parse_refs(text: str) -> int:
    """The ``I refs`` total of cachegrind's report (its stderr); ValueError when absent."""
    found = _REFS.search(text)
    if found is None:
        msg = f"no 'I refs' line in valgrind's output: {text[-2000:]}"
        raise ValueError(msg)
    return int(found.group(1).replace(",", ""))


def count(tree: Path, case: Case, calls: int, *, checks: bool) -> int:
    """Instructions of the child of `tree` running `case`'s workload `calls` times."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "TYPED_DEZERO_TYPECHECK": "1" if checks else "0"}
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        "-c",
        CHILD,
        str(tree),
        case.module,
        case.case,
        str(calls),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=1800)
    if done.returncode != 0:
        msg = f"the count of {case.case} in {tree} failed: {done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return parse_refs(done.stderr)


def per_operation(tree: Path, case: Case, *, checks: bool) -> float:
    """Instructions per operation (or term): the difference of N calls and 0, divided out."""
    return (count(tree, case, case.calls, checks=checks) - count(tree, case, 0, checks=checks)) / (
        case.calls * case.per_call
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"of {', '.join(CASES)} (default: all)")
    parser.add_argument("--against", type=Path, help="another checkout to count too, and compare with")
    parser.add_argument("--checks", choices=["on", "off"], default="on", help="runtime checks (default on)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.cases if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing counted", file=sys.stderr)
        return 1
    checks = args.checks == "on"
    trees = [ROOT] + ([args.against.resolve()] if args.against else [])
    print(f"instructions per operation, runtime checks {args.checks} (valgrind cachegrind)")
    for name in args.cases or list(CASES):
        case = CASES[name]
        figures = [per_operation(tree, case, checks=checks) for tree in trees]
        line = f"{name:8} {figures[0]:>9,.0f} per {case.unit}"
        if len(figures) == 2:
            line += f"   {trees[1]}: {figures[1]:,.0f}   ratio {figures[0] / figures[1]:.3f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
