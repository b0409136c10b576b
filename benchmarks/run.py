"""The benchmark runner: ``python -m benchmarks [--quick] [--profile] [WORKLOAD ...]`` (or ``make bench``).

Workloads (by number or name; all by default):

1. ``per_op``        per-op overhead of a 10-op expression on 0-d arrays, checks on and off
2. ``mlp``           MLP training on the 8x8 digits, seconds per epoch, checks on and off
3. ``conv``          conv2d + max pooling, forward + backward
4. ``scheduling``    backward over deep chains and wide graphs, with growth exponents
5. ``memory``        peak RSS and live objects of MLP training (gc disabled)
6. ``higher_order``  4th derivative of tanh by repeated differentiation
7. ``import_time``   what ``import typed_dezero`` adds to numpy + beartype
8. ``cnn_train``     a small CNN trained for one epoch on the 8x8 digits, against PyTorch
9. ``lstm_train``    an LSTM trained on SinCurve by truncated BPTT, against PyTorch's nn.LSTM

For every workload it prints the medians of several runs (with the interquartile range in percent of
the median) of typed_dezero, of a hand-written NumPy version (the floor) and of PyTorch on the CPU in
float64 (when installed), the ratios, and the goal of issue 5 with PASS/MISS; then all rows as one
markdown table. Contenders are interleaved round by round, BLAS/OpenMP run on one thread, and every
contender runs in a fresh child process per round (typed_dezero's runtime-checking switch is read
at import; the baselines start from the same clean state). Numbers from a
busy machine are noisy: compare the ratios of one run, and rerun before concluding. Nothing here
asserts on time.

``--write-docs`` puts the run's markdown tables into README.md (the rows with a target) and
docs/benchmarks.md (all rows), between the markers ``<!-- bench:start -->`` and
``<!-- bench:end -->``, with a caption naming the revision, the versions and the machine.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from benchmarks import (
    _torch,
    cnn_train,
    conv,
    higher_order,
    import_time,
    lstm_train,
    memory,
    mlp,
    per_op,
    scheduling,
)
from benchmarks._common import (
    ROOT,
    Mode,
    Settings,
    WorkloadResult,
    cache_digits,
    child_profile,
    markdown_table,
    temporary_directory,
    text_table,
)


@dataclass(frozen=True)
class Workload:
    number: int
    name: str
    run: Callable[[Settings], WorkloadResult]
    profile_case: str | None = None
    """The case `--profile` runs under cProfile (None: not profiled)."""
    needs_digits: bool = False


WORKLOADS = (
    Workload(1, per_op.NAME, per_op.run, "fwd+bwd"),
    Workload(2, mlp.NAME, mlp.run, "epoch", needs_digits=True),
    Workload(3, conv.NAME, conv.run, conv.CASE),
    Workload(4, scheduling.NAME, scheduling.run, "fold:10000"),
    Workload(5, memory.NAME, memory.run, needs_digits=True),
    Workload(6, higher_order.NAME, higher_order.run, higher_order.CASE),
    Workload(7, import_time.NAME, import_time.run),
    Workload(8, cnn_train.NAME, cnn_train.run, cnn_train.CASE, needs_digits=True),
    Workload(9, lstm_train.NAME, lstm_train.run, lstm_train.CASE),
)


def select(names: Sequence[str]) -> list[Workload]:
    """The workloads named by number, name or unique name prefix, in their order; all if none."""
    if not names:
        return list(WORKLOADS)
    chosen: set[int] = set()
    for name in names:
        hits = [w for w in WORKLOADS if name in (str(w.number), w.name) or w.name.startswith(name)]
        if len(hits) != 1:
            known = ", ".join(f"{w.number}/{w.name}" for w in WORKLOADS)
            msg = f"unknown or ambiguous workload {name!r}; choose from {known}"
            raise SystemExit(msg)
        chosen.add(hits[0].number)
    return [w for w in WORKLOADS if w.number in chosen]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of typed_dezero against a NumPy floor and PyTorch (see benchmarks/run.py).",
    )
    parser.add_argument("workloads", nargs="*", help="numbers or names (default: all)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer repeats and smaller sizes")
    size.add_argument("--tiny", action="store_true", help="tiny sizes, one repeat: checks the harness only")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    parser.add_argument(
        "--checks-both", action="store_true", help="run typed_dezero with checks off in every workload"
    )
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="write the tables into README.md and docs/benchmarks.md (between their bench markers)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="cProfile typed_dezero's side (checks on and off) instead of timing; print TOP hot spots",
    )
    return parser.parse_args(argv)


TINY_NOTE = "tiny mode checks that the harness runs: its figures mean nothing"


def revision() -> str:
    """The git commit of the working tree, marked "+ local changes" when it differs (or "unknown")."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def compile_bytecode() -> None:
    """Compile typed_dezero's modules to bytecode, as pip does when it installs a wheel: in a
    checkout run with PYTHONDONTWRITEBYTECODE=1 every child would otherwise compile every module at
    import (the import time triples: 139 ms against 46)."""
    # Without importing typed_dezero: the parent process measures nothing of its own.
    if not compileall.compile_dir(ROOT / "typed_dezero", quiet=1):
        msg = "compiling typed_dezero to bytecode failed"
        raise SystemExit(msg)


def header(settings: Settings) -> str:
    torch_version = _torch.version() if settings.use_torch else None
    torch_text = torch_version or (
        "skipped (--no-torch)" if not settings.use_torch else "not installed: skipped"
    )
    return "\n".join(
        [
            f"typed_dezero benchmarks at revision {revision()}, {settings.mode} mode "
            f"({settings.rounds} rounds x {settings.repeats} samples per contender)",
            f"python {platform.python_version()}, numpy {np.__version__}, torch {torch_text}, "
            f"{platform.machine()}, one BLAS/OpenMP thread",
            "cells: median ±half the interquartile range in % of the median; ratios: typed_dezero / baseline",
            "typed_dezero's bytecode compiled before the run (as installing a wheel does)",
            *([TINY_NOTE] if settings.mode == "tiny" else []),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mode: Mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    settings = Settings.for_mode(mode, use_torch=not args.no_torch, checks_both=args.checks_both)
    chosen = select(args.workloads)
    top: int = args.profile
    compile_bytecode()
    with temporary_directory() as tmp:
        if any(w.needs_digits for w in chosen):
            settings = cache_digits(settings, tmp)
        print(header(settings), flush=True)
        if top:
            for w in chosen:
                if w.profile_case is None:
                    print(f"\n== {w.number}. {w.name}: not profiled")
                    continue
                for checks in (True, False):
                    on_off = "on" if checks else "off"
                    print(f"\n== {w.number}. {w.name}, case {w.profile_case}, checks {on_off}", flush=True)
                    print(child_profile(w.name, w.profile_case, settings, checks=checks, top=top), flush=True)
            return 0
        results: list[WorkloadResult] = []
        for w in chosen:
            t0 = time.perf_counter()
            result = w.run(settings)
            print(f"\n{text_table(result)}\n  ({time.perf_counter() - t0:.0f} s)", flush=True)
            results.append(result)
    print("\n" + markdown_table(results))
    if args.write_docs:
        for page in publish(results, settings, ROOT):
            print(f"wrote the table into {page}")
    return 0


START: Final = "<!-- bench:start -->"
END: Final = "<!-- bench:end -->"
PAGES: Final = (("README.md", True), ("docs/benchmarks.md", False))
"""The pages --write-docs rewrites, and whether each shows only the rows with a target."""


def machine() -> str:
    """The CPU model and the number of cores this process may use (Linux; else the platform's)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def caption(settings: Settings) -> str:
    torch_version = (_torch.version() if settings.use_torch else None) or "not run"
    return (
        f"Medians of one `python -m benchmarks --write-docs` run ({settings.mode} mode, "
        f"{settings.rounds} rounds x {settings.repeats} samples per contender) at revision {revision()}: "
        f"Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch_version}, "
        f"{machine()}, one BLAS/OpenMP thread for every contender; ratios are typed_dezero over the "
        "baseline measured in the same command."
    )


def publish(results: Sequence[WorkloadResult], settings: Settings, root: Path) -> list[Path]:
    """Replace the text between the bench markers of each page of PAGES under `root` with the
    tables of `results` and their caption. Every page is checked before any is written, and each
    is replaced atomically: a missing marker is a SystemExit that changes no file."""
    texts: list[tuple[Path, str]] = []
    for name, targets_only in PAGES:
        page = root / name
        text = page.read_text(encoding="utf-8")
        if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
            msg = f"{page}: needs one {START} line and, after it, one {END} line"
            raise SystemExit(msg)
        table = markdown_table(results, targets_only=targets_only)
        before, rest = text.split(START)
        after = rest.split(END)[1]
        texts.append((page, f"{before}{START}\n\n{table}\n\n{caption(settings)}\n\n{END}{after}"))
    for page, text in texts:
        fd, tmp = tempfile.mkstemp(dir=page.parent, prefix=f".{page.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, page.stat().st_mode & 0o7777)  # mkstemp's file is private: keep the page's
            os.replace(tmp, page)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return [page for page, _ in texts]


if __name__ == "__main__":
    sys.exit(main())
