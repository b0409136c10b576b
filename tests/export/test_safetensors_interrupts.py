"""A real Ctrl-C at any moment of a safetensors save (Layer.save_weights to a ".safetensors" path).

As tests/reliability/test_save_interrupts.py does for .npz files: a child process saves thousands
of times, each save getting one SIGALRM (whose handler raises KeyboardInterrupt, as Ctrl-C does) at
a random offset spread over the save's whole duration and a little beyond. After each run the
exception that reached the caller is a KeyboardInterrupt or none; the file is the previous one
byte for byte, the complete new one, or absent when there was none; the folder holds no temporary
file; no file descriptor leaked; nothing reached ``sys.unraisablehook``.

The child runs as ``python -m tests.export.test_safetensors_interrupts`` so that the signals
disturb neither the pytest process nor its coverage measurement."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest

from tests.reliability.test_save_interrupts import check_report, child_main

ROOT: Final = Path(__file__).resolve().parents[2]
RUNS: Final = 3000
NAME: Final = "weights.safetensors"


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def wait_for_helpers(baseline: int) -> None:
    """Wait until the process is back to its `baseline` threads (a save syncs its folder in a
    helper thread)."""
    deadline = time.monotonic() + 10.0
    while threads() > baseline and time.monotonic() < deadline:
        time.sleep(1e-4)


def child(runs: int, seed: int) -> dict[str, Any]:
    """Run the interrupted saves; return the outcomes and every problem found."""
    import typed_dezero.layers as L
    from typed_dezero._io import load_safetensors, save_safetensors

    model = L.Linear(48, in_size=48, rng=np.random.default_rng(0))
    new_state = model.state_dict()
    unraisable: list[str] = []
    sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} in {u.object!r}")
    signal.signal(signal.SIGALRM, signal.default_int_handler)
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="st-interrupts-"))
    path = folder / NAME
    save_safetensors(path, {"old": np.arange(5.0)})  # the previous file: other content
    old_bytes = path.read_bytes()
    times: list[float] = []
    for _ in range(30):  # also imports safetensors before any signal
        start = time.perf_counter()
        model.save_weights(path)
        times.append(time.perf_counter() - start)
    duration = sorted(times)[len(times) // 4]
    path.unlink()

    baseline = threads()
    outcomes: Counter[str] = Counter()
    problems: list[str] = []
    for run in range(runs):
        existing = run % 2 == 1
        if existing:
            path.write_bytes(old_bytes)
        elif path.exists():
            path.unlink()
        before = fd_count()
        # As in test_save_interrupts: a quarter of the signals up to 3x the save, so that some
        # saves return even when the machine got slower after the calibration.
        band = run % 4
        span = min(1e-3, duration) if band < 2 else (1.15 if band < 3 else 3.0) * duration
        delay = rng.uniform(0.0, span) + 1e-6  # 0 would disarm the timer
        what = f"run {run} ({'overwrite' if existing else 'new'}, signal at {delay * 1e6:.1f} us)"
        interrupted = False
        try:
            signal.setitimer(signal.ITIMER_REAL, delay)
            model.save_weights(path)
            signal.setitimer(signal.ITIMER_REAL, 0.0)
        except KeyboardInterrupt:
            interrupted = True
            signal.setitimer(signal.ITIMER_REAL, 0.0)
        except BaseException as error:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            problems.append(f"{what}: {type(error).__name__}: {error} (context: {error.__context__!r})")
        after = fd_count()
        wait_for_helpers(baseline)
        if after != before:
            problems.append(f"{what}: {after - before} file descriptor(s) leaked")
        listing = sorted(os.listdir(folder))
        if listing not in ([], [NAME]):
            problems.append(f"{what}: the folder holds {listing}")
            for stray in listing:
                if stray != NAME:
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
            loaded = load_safetensors(path)
            if sorted(loaded) != sorted(new_state) or not all(
                np.array_equal(loaded[k], new_state[k]) for k in new_state
            ):
                problems.append(f"{what}: the file is neither the previous one nor the new one")
        outcomes[f"{'interrupted' if interrupted else 'returned'}, {state}"] += 1
    problems += [f"unraisable: {u}" for u in unraisable]
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()
    return {"runs": runs, "save_us": round(duration * 1e6), "outcomes": dict(outcomes), "problems": problems}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts file descriptors in /proc/self/fd")
def test_a_real_interrupt_at_any_moment_of_a_safetensors_save_keeps_the_files_and_descriptors() -> None:
    command = [sys.executable, "-m", "tests.export.test_safetensors_interrupts", "--runs", str(RUNS)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.splitlines()[-1])
    check_report(report, RUNS)


def main() -> None:
    child_main(child, __doc__, RUNS)


if __name__ == "__main__":
    main()
