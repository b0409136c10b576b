"""A real Ctrl-C at any moment of a save (Layer.save_weights, Optimizer.save).

A child process saves thousands of times; each save gets one SIGALRM at a random offset (a
one-shot ``signal.setitimer`` whose handler is ``signal.default_int_handler``, which raises
KeyboardInterrupt exactly as Ctrl-C does), spread over the save's whole duration and a little
beyond. Python runs the handler at the next eval-breaker point after the signal arrives (after a
call returns, at a loop's back edge), so over many runs it lands in every window of the save,
including those between a call returning and its result being stored. After each run:

* the exception that reached the caller is a KeyboardInterrupt (or none, when the signal came
  after the save returned), never another exception wrapping it;
* the file is the previous one byte for byte, or the complete new one (when the signal landed
  after the rename), or absent when there was none and the save did not complete;
* the folder holds no temporary file, and the process has exactly the file descriptors it had
  before (counted in /proc/self/fd as soon as the save has returned or raised; a helper thread
  the save started may still be ending, but must have closed what it opened);
* nothing was reported to ``sys.unraisablehook`` (an exception in a finalizer: a zipfile object
  left behind, writing to a closed file).

The child runs as ``python -m tests.reliability.test_save_interrupts`` so that the signals
disturb neither the pytest process nor its coverage measurement."""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

from .harness import COUNTS

ROOT: Final = Path(__file__).resolve().parents[2]
RUNS: Final = 6000


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _threads() -> int:
    """The process's threads, Python's and others (NumPy's BLAS pool) alike."""
    return len(os.listdir("/proc/self/task"))


def _wait_for_helpers(baseline: int) -> int:
    """Wait until the process is back to its `baseline` threads (a save syncs its folder in a
    helper thread); return how many more there were."""
    extra = _threads() - baseline
    deadline = time.monotonic() + 10.0
    while _threads() > baseline and time.monotonic() < deadline:
        time.sleep(1e-4)
    return extra


def _same(loaded: dict[str, Any], expected: dict[str, Any]) -> bool:
    return sorted(loaded) == sorted(expected) and all(
        loaded[k].dtype == expected[k].dtype and np.array_equal(loaded[k], expected[k]) for k in expected
    )


def child(runs: int, seed: int) -> dict[str, Any]:
    """Run the interrupted saves; return the figures and every problem found."""
    import typed_dezero.functions as F
    import typed_dezero.layers as L
    from typed_dezero._io import load_npz
    from typed_dezero.optimizers import Adam

    model = L.Linear(48, in_size=48, rng=np.random.default_rng(0))
    optimizer = Adam().setup(model)
    F.sum(model(np.ones((2, 48)))).backward()
    optimizer.update()
    saves: dict[str, tuple[Callable[[Path], None], dict[str, Any]]] = {
        "Layer.save_weights": (model.save_weights, model.state_dict()),
        "Optimizer.save": (optimizer.save, optimizer.state_dict()),
    }
    unraisable: list[str] = []
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} in {u.object!r}")
    signal.signal(signal.SIGALRM, signal.default_int_handler)
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="interrupts-"))
    path = folder / "weights.npz"
    old = folder / "old.npz"
    # The previous file: other content than either save writes.
    from typed_dezero._io import save_npz

    save_npz(old, {"old": np.arange(5.0)})
    old_bytes = old.read_bytes()
    old.unlink()

    durations: dict[str, float] = {}
    for name, (save, _) in saves.items():
        times: list[float] = []
        for _ in range(30):
            start = time.perf_counter()
            save(path)
            times.append(time.perf_counter() - start)
        durations[name] = sorted(times)[len(times) // 4]
    path.unlink()

    baseline = _threads()
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    helpers = 0
    started = time.perf_counter()
    for run in range(runs):
        name = list(saves)[run % 2]
        existing = run % 4 >= 2
        save, new_state = saves[name]
        if existing:
            path.write_bytes(old_bytes)
        elif path.exists():
            path.unlink()
        before = _fd_count()
        # Half the signals within the first millisecond (the Python work before the fsync, which
        # dominates on a real disk), most others over the whole save and a little beyond, and one
        # in eight up to three times its duration: some saves return even on a machine that got
        # slower after the calibration (a busy one never let a save finish with 1.15 alone).
        band = run % 8
        span = min(1e-3, durations[name]) if band < 4 else (1.15 if band < 7 else 3.0) * durations[name]
        delay = rng.uniform(0.0, span) + 1e-6  # 0 would disarm the timer
        what = f"run {run} ({name}, {'overwrite' if existing else 'new'}, signal at {delay * 1e6:.1f} us)"
        interrupted = False
        try:
            signal.setitimer(signal.ITIMER_REAL, delay)
            save(path)
            signal.setitimer(signal.ITIMER_REAL, 0.0)
        except KeyboardInterrupt:
            interrupted = True
            signal.setitimer(signal.ITIMER_REAL, 0.0)
        except BaseException as error:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            problems.append(f"{what}: {type(error).__name__}: {error} (context: {error.__context__!r})")
        after = _fd_count()  # before any helper thread ends: it must have closed what it opened
        helpers += _wait_for_helpers(baseline)
        if after != before:
            problems.append(f"{what}: {after - before} file descriptor(s) leaked")
        listing = sorted(os.listdir(folder))
        if listing not in ([], ["weights.npz"]):
            problems.append(f"{what}: the folder holds {listing}")
            for stray in listing:
                if stray != "weights.npz":
                    (folder / stray).unlink()
        if not path.exists():
            state = "no file"
            if existing or not interrupted:
                problems.append(f"{what}: the file is gone")
        elif path.read_bytes() == old_bytes:
            state = "previous file"
            if not (existing and interrupted):
                problems.append(f"{what}: the previous file is still there after the save returned")
        else:
            state = "new file"
            try:
                ok = _same(load_npz(path), new_state)
            except Exception as error:
                ok = False
                state = f"damaged ({error})"
            if not ok:
                problems.append(f"{what}: the file is neither the previous one nor the new one: {state}")
        outcomes[f"{'interrupted' if interrupted else 'returned'}, {state}"] += 1
    seconds = time.perf_counter() - started
    problems += [f"unraisable: {u}" for u in unraisable]
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    return {
        "runs": runs,
        "seconds": round(seconds, 2),
        "save_us": {k: round(v * 1e6) for k, v in durations.items()},
        "outcomes": dict(outcomes),
        "helper_threads_waited": helpers,
        "problems": problems,
    }


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts file descriptors in /proc/self/fd")
def test_a_real_interrupt_at_any_moment_of_a_save_keeps_the_files_and_the_descriptors() -> None:
    command = [sys.executable, "-m", "tests.reliability.test_save_interrupts", "--runs", str(RUNS)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.splitlines()[-1])
    COUNTS["faults"] += report["runs"]
    COUNTS["signal_runs"] += report["runs"]
    COUNTS["signal_seconds"] += round(report["seconds"])
    check_report(report, RUNS)


def check_report(report: dict[str, Any], runs: int) -> None:
    """No problem in a child's report, and its signals landed before and after the rename."""
    problems: list[str] = report["problems"]
    assert problems == [], f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:15])
    outcomes: dict[str, int] = report["outcomes"]
    # The signal really landed inside the saves, before and after the rename (the test can fail).
    interrupted = sum(n for k, n in outcomes.items() if k.startswith("interrupted"))
    assert interrupted > runs // 2, outcomes
    assert outcomes.get("interrupted, previous file", 0) > runs // 10, outcomes
    assert outcomes.get("interrupted, no file", 0) > runs // 10, outcomes
    assert outcomes.get("returned, new file", 0) > 0, outcomes


def child_main(run: Callable[[int, int], dict[str, Any]], description: str | None, runs: int) -> None:
    """The child process's command line: ``--runs N --seed S``, the JSON report on stdout."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.runs, arguments.seed)))


def main() -> None:
    child_main(child, __doc__, RUNS)


if __name__ == "__main__":
    main()
