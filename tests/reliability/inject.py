"""Fault injection at every step of an operation.

An exception is raised *into* the code under test at the N-th Python or C function call it makes,
for every N: a ``sys.setprofile`` hook counts the ``call`` and ``c_call`` events and raises the
chosen exception from the hook at the N-th. CPython propagates an exception raised by a profile
function into the profiled code at that point (for a ``c_call``, before the C function runs) and
then removes the profile function, so exactly one fault is injected per attempt. A KeyboardInterrupt
(a signal lands between any two bytecodes) or a MemoryError (any allocation) can arrive at any such
point in real use. ``sys.settrace`` is left alone: coverage uses it.

No fault is injected inside a finalizer (``__del__``), where CPython prints and drops any exception:
one aimed there goes to the next event outside it.

* :func:`count_events`: the number of events of one clean run.
* :func:`run_with_fault`: one run with a fault at event N; returns what reached the caller.
* :func:`explore`: the whole procedure for one :class:`Scenario`: for every event N and every
  exception kind in :data:`KINDS` (for long operations: every event, or every k-th, once, the kinds
  taking turns; see :func:`fault_plan` and :func:`budget`), build the scenario's fresh state,
  snapshot what it watches, run with the fault, check that exactly the injected exception reached
  the caller, that nothing watched changed, that no file descriptor was left open and that the
  attempt did not hang (a watchdog interrupts it after the scenario's timeout), then retry
  cleanly and check that the result equals one clean run's bit for bit. Every problem is reported
  with the step where the fault was injected (the function about to be called, and the line
  calling it), which is a minimal reproduction: build the state, run with a fault at that event.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final, Generic, TypeVar

from .harness import COUNTS, snapshot

KINDS: Final[tuple[type[BaseException], ...]] = (RuntimeError, MemoryError, KeyboardInterrupt)
"""The exceptions injected: a failure inside the library's own code paths, an allocation failing,
and Ctrl-C."""

_EVENTS: Final = frozenset({"call", "c_call"})

S = TypeVar("S")


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"{Path(code.co_filename).name}:{frame.f_lineno} ({code.co_name})"


def _callee(frame: FrameType, event: str, arg: object) -> str:
    if event == "c_call":
        module = getattr(arg, "__module__", None)
        name = getattr(arg, "__qualname__", None) or repr(arg)
        return f"{module}.{name}" if module else str(name)
    return frame.f_code.co_qualname


def _in_finalizer(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


@dataclass(frozen=True)
class Step:
    """Where a fault was injected: the event's number, kind, the function about to run and the
    line that calls it."""

    number: int
    event: str
    callee: str
    caller: str

    def __str__(self) -> str:
        return f"event {self.number} ({self.event} {self.callee} from {self.caller})"


class _Profiler:
    """The profile function: counts events; raises `error` at event `at` (if given)."""

    def __init__(self, at: int = 0, error: BaseException | None = None) -> None:
        self.at: int = at
        self.error = error
        self.count = 0
        self.armed = True
        self.step: Step | None = None

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if not self.armed or event not in _EVENTS:
            return
        self.count += 1
        if self.count != self.at or self.error is None:
            return
        if _in_finalizer(frame):
            self.at += 1  # an exception there would be dropped: aim at the next event
            return
        self.armed = False
        # For a Python call the new frame is the callee's: its caller is one frame up.
        caller = frame if event == "c_call" or frame.f_back is None else frame.f_back
        self.step = Step(self.count, event, _callee(frame, event, arg), _where(caller))
        raise self.error


def count_events(call: Callable[[S], object], arg: S) -> tuple[object, int]:
    """Run ``call(arg)`` cleanly; return its result and the number of call/c_call events it made
    (the call of `call` itself is the first)."""
    profiler = _Profiler()
    sys.setprofile(profiler)
    try:
        result = call(arg)
    finally:
        profiler.armed = False  # the c_call of setprofile itself is not the operation's
        sys.setprofile(None)
    return result, profiler.count


@dataclass
class Attempt:
    """What one run with a fault did."""

    injected: BaseException
    step: Step | None
    """None: the run ended before event N (the fault never fired)."""
    caught: BaseException | None
    """What reached the caller (None: the call returned)."""


def _drop_tracebacks(error: BaseException | None) -> None:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.__traceback__ = None
        if error.__cause__ is not None:
            _drop_tracebacks(error.__cause__)
        error = error.__context__


def run_with_fault(call: Callable[[S], object], arg: S, at: int, kind: type[BaseException]) -> Attempt:
    """Run ``call(arg)`` with a `kind` exception injected at event `at` (1-based; event 1 is the
    call of `call` itself)."""
    injected = kind(f"fault injected at event {at}")
    profiler = _Profiler(at, injected)
    caught: BaseException | None = None
    sys.setprofile(profiler)
    try:
        call(arg)
    except BaseException as error:  # KeyboardInterrupt too: it is the injected fault
        caught = error
    finally:
        profiler.armed = False
        sys.setprofile(None)
    # The tracebacks hold the frames of the failed call (and what they opened): let them go now, so
    # that what is checked next is what the library itself keeps.
    _drop_tracebacks(injected)
    _drop_tracebacks(caught)
    return Attempt(injected, profiler.step, caught)


def open_fds() -> set[str] | None:
    """The file descriptors open in this process (Linux), or None."""
    try:
        return set(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _no_checks(state: object) -> list[str]:
    return []


@dataclass(frozen=True)
class Scenario(Generic[S]):
    """One operation to break at every step.

    `build` makes fresh state, the same every time (seeded generators); `run` performs the
    operation on it (the fault lands anywhere in it: keep the scenario's own code out of it, e.g.
    store a result by assignment, not by ``list.append``); `watched` names what a failed run must
    leave unchanged (snapshotted by identity and value, so it must return the same objects each
    time); `outcome` is what a successful run produced (compared, by value and sharing, between a
    retry after a failure and a clean run); `check` adds problems found after a failed run (it is
    called after the snapshot comparison, before the retry).
    """

    name: str
    build: Callable[[], S]
    run: Callable[[S], object]
    watched: Callable[[S], dict[str, object]]
    outcome: Callable[[S], object]
    check: Callable[[S], list[str]] = _no_checks
    weight: float = 1.0
    """This scenario's share of :func:`budget` (a costly scenario gets less)."""
    every_event: bool = False
    """At least one fault at every event (the kinds taking turns), whatever the budget."""
    timeout: float = 5.0
    """Seconds an attempt (the faulted run, or its retry) may take before it counts as hung."""
    completed: Callable[[S], object] | None = None
    """For "all or nothing" rather than "nothing": an image of what a clean run leaves. A fault
    that lands once the operation has done all its work (in the runtime checker's check of the
    result, say) may then leave exactly that (as a Ctrl-C just after the call returned would);
    anything in between is still a breach. None: a failed run must leave everything unchanged."""


@dataclass
class Report:
    """What :func:`explore` found."""

    name: str
    events: int = 0
    faults: int = 0
    unfired: int = 0
    problems: list[str] = field(default_factory=list[str])
    """Breaches of the promise: each fails the test."""
    notes: list[str] = field(default_factory=list[str])
    """Exceptions raised and dropped in finalizers after a fault (an object such as a ZipFile left
    half-built or unclosed): CPython prints them, nothing reaches the caller; shown, not failed."""
    current: str = ""
    """The fault being checked (for exceptions ignored in finalizers meanwhile)."""

    def __str__(self) -> str:
        lines = [
            f"{self.name}: {len(self.problems)} problem(s) in {self.faults} faults over "
            f"{self.events} events ({self.unfired} aimed beyond the end of a run)"
        ]
        for title, items in (("", self.problems), ("notes (not failures): ", self.notes)):
            if items:
                lines.append(f"  {title}" + "\n  ".join(items[:12]))
                lines.extend([f"  ... and {len(items) - 12} more"] if len(items) > 12 else [])
        return "\n".join(lines)


def budget() -> int:
    """The most faults per scenario: ``TDZ_INJECT_BUDGET`` (default 400; 0 for no limit)."""
    return int(os.environ.get("TDZ_INJECT_BUDGET", "400"))


def fault_plan(
    events: int, limit: int, kinds: tuple[type[BaseException], ...] = KINDS
) -> list[tuple[int, type[BaseException]]]:
    """(event, kind) pairs: every event with every kind when that fits in `limit` (or `limit` is 0);
    else every event, or every k-th (k = ceil(events / limit)) and the last (where a ``finally``
    restores what the operation changed), once, the kinds taking turns."""
    if limit <= 0 or events * len(kinds) <= limit:
        return [(at, kind) for kind in kinds for at in range(1, events + 1)]
    step = -(-events // limit)
    points = [*range(1, events + 1, step)]
    if points[-1] != events:
        points.append(events)
    return [(at, kinds[i % len(kinds)]) for i, at in enumerate(points)]


def _diff(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def _images(watched: dict[str, object]) -> dict[str, object]:
    return {name: snapshot(value) for name, value in watched.items()}


def explore(scenario: Scenario[S], kinds: tuple[type[BaseException], ...] = KINDS) -> Report:
    """Break `scenario` at every step with each of `kinds`; see the module's docstring."""
    report = Report(scenario.name)
    enabled = gc.isenabled()
    previous_hook = sys.unraisablehook

    def ignored(args: sys.UnraisableHookArgs) -> None:  # an exception dropped in a finalizer
        what = f"{type(args.exc_value).__name__}({args.exc_value})"
        report.notes.append(f"{report.current}: {what} was raised and ignored in {args.object!r}")
        COUNTS["inject_ignored_in_finalizers"] += 1

    gc.disable()  # collections would run callbacks at varying points and shift the event numbers
    sys.unraisablehook = ignored
    try:
        # A warm-up first: first-use caches (imports, the runtime checker's wrappers) are filled once.
        report.current = "warm-up"
        with watchdog(scenario.timeout):
            contextvars.copy_context().run(lambda: scenario.run(scenario.build()))
        report.current = "clean run"
        with watchdog(scenario.timeout):
            report.events, expected = contextvars.copy_context().run(_clean_run, scenario)
        limit = budget()
        floor = report.events if scenario.every_event else 1
        limit = 0 if limit <= 0 else max(floor, round(limit * scenario.weight))
        for at, kind in fault_plan(report.events, limit, kinds):
            # Each attempt in a context of its own: switches (ContextVars) that a failed call
            # leaves changed are reported, and go no further than that attempt.
            contextvars.copy_context().run(_one_fault, scenario, report, kind, at, expected)
            gc.collect(0)  # the attempt's reference cycles, whose finalizers may raise
        report.current = "after every fault"
        gc.collect()
    finally:
        sys.unraisablehook = previous_hook
        if enabled:
            gc.enable()
    COUNTS["inject_scenarios"] += 1
    COUNTS["inject_events"] += report.events
    return report


def _clean_run(scenario: Scenario[S]) -> tuple[int, tuple[object, object]]:
    clean = scenario.build()
    _, events = count_events(scenario.run, clean)
    finished = None if scenario.completed is None else snapshot(scenario.completed(clean), identities=False)
    return events, (snapshot(scenario.outcome(clean), identities=False), finished)


_CODEC_FAILED: Final = re.compile(r"(de|en)coding with '[^']+' codec failed \(")


def _wrapped_by_a_codec(caught: BaseException, injected: BaseException) -> bool:
    """CPython re-raises an exception from inside a codec (zipfile decodes member names with cp437)
    as a new one of the same class, "decoding with 'cp437' codec failed (...)", caused by the
    original: not the library's doing, and still the injected fault for the caller."""
    return (
        type(caught) is type(injected)
        and caught.__cause__ is injected
        and bool(_CODEC_FAILED.match(str(caught)))
    )


class Hang(BaseException):
    """Raised into an attempt that made no progress for its scenario's timeout (a deadlock left by a
    fault: a lock never released, a thread never started). A BaseException, as KeyboardInterrupt is,
    so that ``except Exception`` lets it through."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Generator[None, None, None]:
    """Raise :class:`Hang` in the block every `seconds` until it ends (SIGALRM: blocking waits such
    as ``lock.acquire()`` are interrupted by signals). Only in the main thread, where Python runs
    signal handlers; elsewhere (or without setitimer) the block runs unwatched."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def alarm(signum: int, frame: FrameType | None) -> None:
        msg = f"no return after {seconds} s"
        raise Hang(msg)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, seconds)  # again and again: a wait may be retried
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def _hung(error: BaseException | None) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, Hang):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _one_fault(
    scenario: Scenario[S],
    report: Report,
    kind: type[BaseException],
    at: int,
    expected: tuple[object, object],
) -> None:
    state = scenario.build()
    before = _images(scenario.watched(state))
    fds = open_fds()
    with watchdog(scenario.timeout):
        attempt = run_with_fault(scenario.run, state, at, kind)
    if _hung(attempt.caught):
        step = "before the fault fired" if attempt.step is None else str(attempt.step)
        report.faults += 1
        COUNTS["faults"] += 1
        report.problems.append(f"{kind.__name__} at {step}: hung (interrupted after {scenario.timeout} s)")
        return
    if attempt.step is None:
        report.unfired += 1  # the run was shorter than the clean one: nothing was injected
        return
    report.faults += 1
    COUNTS["faults"] += 1
    where = report.current = f"{kind.__name__} at {attempt.step}"
    problems = report.problems
    caught = attempt.caught
    if caught is None:
        problems.append(f"{where}: swallowed (the call returned normally)")
    elif caught is not attempt.injected and not _wrapped_by_a_codec(caught, attempt.injected):
        problems.append(
            f"{where}: {type(caught).__name__}({caught}) reached the caller in its place"
            + ("" if type(caught) is not kind else " (an equal exception, but not the injected one)")
        )
    del caught
    attempt.caught = None
    now = open_fds()
    # The descriptors the attempt left open: one that another thread closed meanwhile (a server
    # or pipe left by an earlier test) is no leak of this call.
    leaked: set[str] = set() if fds is None or now is None else now - fds
    if leaked:
        problems.append(f"{where}: {len(leaked):+d} file descriptor(s) open")
    outcome, finished = expected
    changed = _diff(before, _images(scenario.watched(state)))
    done = (
        bool(changed)
        and scenario.completed is not None
        and snapshot(scenario.completed(state), identities=False) == finished
    )
    if done:
        COUNTS["inject_completed"] += 1  # the whole work was done: nothing to retry
    elif changed:
        problems.append(f"{where}: changed {', '.join(changed)}")
    if done:
        return
    problems.extend(f"{where}: {p}" for p in scenario.check(state))
    try:
        with watchdog(scenario.timeout):
            scenario.run(state)
    except (Exception, Hang) as error:  # reported as a problem of this fault
        problems.append(f"{where}: the retry raised {type(error).__name__}: {error}")
        return
    if snapshot(scenario.outcome(state), identities=False) != outcome:
        problems.append(f"{where}: the retry's result differs from a clean run's")
