"""Child-process entry: ``python -m benchmarks._child MODULE KIND CASE SETTINGS_JSON [--profile TOP]``.

Runs ``benchmarks.MODULE.measure(KIND, CASE, settings)`` and prints its samples as one JSON line
prefixed with ``BENCHMARK-RESULT``. With ``--profile``, it instead builds typed_dezero's side of the
case (``benchmarks.MODULE.typed_workload(CASE, settings)``), warms it up, and runs it under cProfile for
about ``PROFILE_SECONDS``, printing the hot spots by cumulative and by own time: imports, first-call
decoration and timing machinery stay out of the profile. The parent sets ``TYPED_DEZERO_TYPECHECK``.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import os
import pstats
import time
from collections.abc import Callable
from typing import cast

from benchmarks._common import CHECK_VAR, RESULT_PREFIX, Kind, Samples, Settings

Measure = Callable[[Kind, str, Settings], Samples]
Workload = Callable[[str, Settings], Callable[[], object]]
PROFILE_SECONDS = 2.0


KINDS: tuple[Kind, ...] = ("floor", "torch", "typed")


def _kind(text: str) -> Kind:
    for kind in KINDS:
        if kind == text:
            return kind
    msg = f"unknown contender kind {text!r}"
    raise argparse.ArgumentTypeError(msg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._child")
    parser.add_argument("module")
    parser.add_argument("kind", type=_kind)
    parser.add_argument("case")
    parser.add_argument("settings")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"benchmarks.{args.module}")
    kind: Kind = args.kind
    case: str = args.case
    settings = Settings.from_json(args.settings)
    top: int = args.profile
    if kind == "typed":
        _check_switch()
    if top:
        # The workload modules define typed_workload() with this signature.
        workload = cast(Workload, module.typed_workload)
        print(_profile(workload(case, settings), top))
        return 0
    # Every workload module defines measure() with this signature (see benchmarks._common).
    measure = cast(Measure, module.measure)
    print(RESULT_PREFIX + json.dumps(measure(kind, case, settings)))
    return 0


def _check_switch() -> None:
    """Fail loudly if typed_dezero did not take up the checking switch the parent asked for."""
    import typed_dezero

    asked = os.environ.get(CHECK_VAR, "1")
    got = typed_dezero.RUNTIME_CHECKS
    if got != (asked != "0"):
        msg = f"{CHECK_VAR}={asked} but typed_dezero.RUNTIME_CHECKS={got}"
        raise SystemExit(msg)


def _profile(fn: Callable[[], object], top: int) -> str:
    fn()
    t0 = time.perf_counter()
    fn()
    number = max(1, round(PROFILE_SECONDS / max(time.perf_counter() - t0, 1e-9)))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(number):
        fn()
    profiler.disable()
    out = io.StringIO()
    out.write(f"{number} calls of the workload under cProfile\n")
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    for key in ("cumulative", "tottime"):
        out.write(f"\n-- top {top} by {key} --\n")
        stats.sort_stats(key).print_stats(top)
    return out.getvalue()


if __name__ == "__main__":
    raise SystemExit(main())
