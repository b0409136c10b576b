"""The fault injector itself (inject.py): it raises exactly the chosen exception at exactly the N-th
call, removes itself afterwards, and explore() reports each kind of breach (a change left behind, a
swallowed or replaced exception, a leaked file descriptor, a switch left changed, a retry that
differs from a clean run) while an operation that keeps its promise passes.

The promises of the library are tested in test_fault_injection_*.py: backward, optimizers, files,
layers and Function state."""

from __future__ import annotations

import _thread
import contextlib
import contextvars
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from .inject import KINDS, Report, Scenario, count_events, explore, fault_plan, run_with_fault


def _leaf(items: list[int]) -> int:
    return len(items)


def _work(items: list[int]) -> int:
    # Events: _work, _leaf, len, sum (the call of _work itself is event 1).
    return _leaf(items) + sum(items)


def test_events_are_the_python_and_c_calls_in_order() -> None:
    result, events = count_events(_work, [1, 2])
    assert (result, events) == (5, 4)
    assert sys.getprofile() is None


@pytest.mark.parametrize("kind", KINDS)
def test_the_injected_exception_reaches_the_caller_at_each_event(kind: type[BaseException]) -> None:
    callees: list[str] = []
    for at in range(1, 5):
        attempt = run_with_fault(_work, [1, 2], at, kind)
        assert attempt.step is not None
        assert attempt.step.number == at
        assert attempt.caught is attempt.injected
        assert type(attempt.caught) is kind
        assert sys.getprofile() is None  # CPython removed the hook when it raised; so did we
        callees.append(attempt.step.callee)
    assert callees == ["_work", "_leaf", "builtins.len", "builtins.sum"]
    beyond = run_with_fault(_work, [1, 2], 5, kind)
    assert beyond.step is None
    assert beyond.caught is None


def test_the_plan_covers_every_event() -> None:
    assert fault_plan(3, 100) == [(at, kind) for kind in KINDS for at in (1, 2, 3)]
    once = fault_plan(10, 20)  # 30 pairs do not fit: every event once, the kinds taking turns
    assert [at for at, _ in once] == list(range(1, 11))
    assert {kind for _, kind in once} == set(KINDS)
    sparse = fault_plan(100, 20)
    assert [at for at, _ in sparse] == [*range(1, 101, 5), 100]  # the last event too
    assert len(fault_plan(100, 0)) == 300


# -- explore() sees each breach -----------------------------------------------------------------


@dataclass
class Box:
    items: list[int] = field(default_factory=lambda: [1, 2])


def _explore(run: Callable[[Box], None], *, build: Callable[[], Box] = Box) -> Report:
    return explore(
        Scenario(
            "toy",
            build,
            run,
            lambda b: {"box": b.items, "var": repr(_SWITCH.get())},
            lambda b: b.items,
            timeout=0.2,
        )
    )


def atomic(box: Box) -> None:
    new = sorted([*box.items, len(box.items) + 1])
    box.items = new  # an assignment, not a call: nothing can be injected after the last call


def in_two_steps(box: Box) -> None:
    box.items.append(len(box.items) + 1)
    box.items.sort()


def swallowing(box: Box) -> None:
    with contextlib.suppress(BaseException):  # the breach under test
        atomic(box)


def replacing(box: Box) -> None:
    try:
        atomic(box)
    except Exception as error:
        msg = "something else"
        raise ValueError(msg) from error


_calls = [0]


def stateful(box: Box) -> None:
    _calls[0] += 1  # state outside the box: a retry is not a clean run
    box.items = [*box.items, _calls[0]]
    len(box.items)


_opened: list[int] = []


def leaking(box: Box) -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    _opened.append(fd)
    len(box.items)  # a fault here leaks fd
    os.close(fd)
    del _opened[-1]  # not a call: no fault can land between the close and this


_SWITCH: contextvars.ContextVar[bool] = contextvars.ContextVar("toy_switch", default=False)


def switching(box: Box) -> None:
    token = _SWITCH.set(True)
    try:
        len(box.items)
    finally:
        _SWITCH.reset(token)  # a fault at this call leaves the switch set


def deadlocking(box: Box) -> None:
    lock = _thread.allocate_lock()
    lock.acquire()
    try:
        len(box.items)
    except BaseException:
        lock.acquire()  # waits for a release that never comes (a helper thread that never started)
        raise
    lock.release()


def test_an_atomic_operation_passes() -> None:
    report = _explore(atomic)
    assert report.faults == 3 * report.events > 0
    assert report.problems == []


@pytest.mark.parametrize(
    ("run", "breach"),
    [
        (in_two_steps, "changed box"),
        (swallowing, "swallowed"),
        (replacing, "ValueError(something else) reached the caller in its place"),
        (stateful, "the retry's result differs from a clean run's"),
        (leaking, "+1 file descriptor(s) open"),
        (switching, "changed var"),
        (deadlocking, "hung (interrupted after 0.2 s)"),
    ],
    ids=[
        "a change left behind",
        "swallowed",
        "replaced",
        "a retry differs",
        "a leaked fd",
        "a switch left set",
        "a deadlock",
    ],
)
def test_each_breach_is_reported(run: Callable[[Box], None], breach: str) -> None:
    try:
        report = _explore(run)
    finally:
        while _opened:
            os.close(_opened.pop())
    assert report.faults > 0
    assert any(breach in p for p in report.problems), str(report)
