"""The machinery of the reliability tests.

* ``COUNTS``: figures reported at the end of the run (see conftest.py): inputs tried, faults
  injected, threads started, graph sizes.
* ``snapshot``: a comparable image of everything a call may touch (Variables' data, grad, creator;
  arrays; layers, optimizers and datasets with their attributes; files and their folders).
* ``attempt``: run one call of the public API and check the error contract: it succeeds or raises
  TypeError / ValueError (an IndexError only where indexing promises one), the message names the
  operation (and the faulty argument), nothing it touched changed, and no Function it created
  outlives the failure (no graph is left behind).
* ``address_space_cap``: a cap on the process's address space around a call, so that an input
  which would make the library allocate gigabytes fails with MemoryError instead of exhausting
  the machine, whatever the kernel's overcommit policy.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import sys
import warnings
import weakref
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from typing_extensions import TypeIs

from typed_dezero import DezeroError, DezeroIndexError, Function, Variable

COUNTS: Final[collections.Counter[str]] = collections.Counter()
"""Figures for the closing summary: ``inputs``, ``faults``, ``threads``, ..."""

_HEADROOM: Final = 1 << 30
"""How far beyond its current size the process may grow during a capped call (1 GiB)."""


def _vm_size() -> int | None:
    """The process's current virtual memory size in bytes (Linux), or None."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmSize:\s+(\d+) kB", status, re.MULTILINE)
    return None if match is None else int(match.group(1)) * 1024


@contextlib.contextmanager
def address_space_cap(headroom: int = _HEADROOM) -> Generator[bool, None, None]:
    """Limit the address space to its current size plus `headroom` inside the block (yields whether
    the cap is in force: it needs Linux's /proc and RLIMIT_AS)."""
    if sys.platform != "linux":
        yield False
        return
    import resource

    size = _vm_size()
    if size is None:
        yield False
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield True
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextlib.contextmanager
def thread_switch_interval(seconds: float) -> Generator[None, None, None]:
    """Make threads switch every `seconds` inside the block (instead of every 5 ms), so that they
    interleave finely."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


# -- snapshots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileState:
    """A file to watch: a call must leave its bytes and its folder's listing as they were."""

    path: Path


@dataclass(frozen=True)
class FunctionState:
    """A Function instance to watch by its attributes, deeply (what ``forward`` stored on it for
    ``backward``, its inputs, outputs and generation); elsewhere a Function is watched by identity."""

    function: object


def snapshot(obj: object, *, identities: bool = True) -> object:
    """A comparable image of `obj` and of what it holds (deeply, by identity and by value).

    With ``identities=False`` the image names objects by the order in which the walk first meets
    them instead of by ``id()``: two objects built the same way (a fresh model and its replica, one
    trained after a failed attempt and one never failed) then have equal images exactly when they
    hold the same values with the same sharing between their parts."""
    if identities:
        return _snap(obj, {}, id)
    order: dict[int, int] = {}

    def ident(x: object) -> int:
        return order.setdefault(id(x), len(order))

    return _snap(obj, {}, ident)


# Guards with Any parameters: isinstance on `object` would give pyright partially unknown types.
def _is_array(x: object) -> TypeIs[np.ndarray[Any, Any]]:
    return isinstance(x, np.ndarray)


def _is_sequence(x: object) -> TypeIs[list[Any] | tuple[Any, ...]]:
    return isinstance(x, list | tuple)


def _is_dict(x: object) -> TypeIs[dict[Any, Any]]:
    return isinstance(x, dict)


def _is_weak_dict(x: object) -> TypeIs[weakref.WeakKeyDictionary[Any, Any]]:
    return isinstance(x, weakref.WeakKeyDictionary)


def _array_image(a: np.ndarray[Any, Any], ident: Callable[[object], int] = id) -> object:
    return ("array", ident(a), a.dtype.str, a.shape, a.tobytes(), bool(a.flags.writeable), type(a).__name__)


def _snap(  # noqa: PLR0911 - one branch per kind
    obj: object, seen: dict[int, int], ident: Callable[[object], int] = id
) -> object:
    if obj is None or isinstance(obj, bool | int | float | complex | str | bytes):
        return ("value", type(obj).__name__, repr(obj))
    key = ident(obj)
    if key in seen:
        return ("seen", seen[key])
    seen[key] = len(seen)
    if _is_array(obj):
        return _array_image(obj, ident)
    if isinstance(obj, Variable):
        return (
            "variable",
            key,
            _snap(obj.data, seen, ident),
            _snap(obj.grad, seen, ident),
            ident(obj.creator),
            obj.generation,
            obj.name,
        )
    if isinstance(obj, np.random.Generator):
        return ("generator", key, repr(obj.bit_generator.state))
    if isinstance(obj, FileState):
        path = obj.path
        content = path.read_bytes() if path.is_file() else None
        stat = path.stat() if path.exists() else None
        return (
            "file",
            str(path),
            content,
            None if stat is None else stat.st_mtime_ns,
            sorted(os.listdir(path.parent)),
        )
    if isinstance(obj, FunctionState):
        state: dict[str, object] = vars(obj.function)
        return ("function", type(obj.function).__name__, _snap(state, seen, ident))
    if _is_sequence(obj):
        return (type(obj).__name__, key, tuple(_snap(item, seen, ident) for item in obj))
    if _is_dict(obj):
        return ("dict", key, tuple((repr(k), _snap(v, seen, ident)) for k, v in obj.items()))
    if _is_weak_dict(obj):
        return ("weakdict", key, tuple((ident(k), _snap(v, seen, ident)) for k, v in obj.items()))
    if type(obj).__module__.startswith("typed_dezero") and hasattr(obj, "__dict__"):
        # Layers, models, optimizers, hooks, datasets: every attribute, deeply.
        attributes: dict[str, object] = vars(obj)
        return (
            "object",
            type(obj).__name__,
            key,
            tuple((k, _snap(v, seen, ident)) for k, v in attributes.items()),
        )
    return ("other", type(obj).__name__, key)  # generators, callables: by identity only


# -- the error contract -----------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """What a call of operation `op` may do besides succeeding or raising TypeError/ValueError."""

    op: tuple[str, ...]
    """Names of the operation; one must appear in any error message (case-insensitive)."""
    index_error: bool = False
    """Indexing: an out-of-range index raises DezeroIndexError (an IndexError), Python's contract."""
    os_error: bool = False
    """File operations: OSErrors from the file system (missing file, a folder, a name too long)."""


@dataclass
class Outcome:
    """What one attempt did: ``"ok"`` or the exception's class name, and its message."""

    kind: str
    message: str
    result: object = None


@contextlib.contextmanager
def function_spy() -> Generator[list[weakref.ref[Function[Any, Any]]], None, None]:
    """Weak references to every Function instance called inside the block (only a called Function
    can become a node of a graph)."""
    called: list[weakref.ref[Function[Any, Any]]] = []
    original = Function.__dict__["__call__"]

    def spy(self: Function[Any, Any], *inputs: object) -> object:
        called.append(weakref.ref(self))
        return original(self, *inputs)

    setattr(Function, "__call__", spy)  # noqa: B010 - replaced for the block only
    try:
        yield called
    finally:
        setattr(Function, "__call__", original)  # noqa: B010


def _squash(text: str) -> str:
    # "get_item" is named by "get_item:" and by "GetItem:" alike.
    return text.replace("_", "").lower()


def _mentions(message: str, words: Sequence[str]) -> bool:
    lowered = message.lower()
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(w.lower())}(?![A-Za-z0-9_])", lowered) for w in words)


@dataclass(frozen=True)
class KnownIssue:
    """A breach in a module the reliability work may not change, reported to its owner (see
    docs/reliability.md, "Known gaps"): tolerated, and counted, until it is fixed."""

    ops: str
    """A regular expression for the operations it concerns."""
    error: str
    """A regular expression for ``"<ExceptionClass>: <message>"``."""
    where: str


KNOWN_ISSUES: Final[tuple[KnownIssue, ...]] = ()


def _known(op: str, kind: str, message: str) -> bool:
    text = f"{kind}: {message}"
    return any(re.search(k.ops, op) and re.search(k.error, text) for k in KNOWN_ISSUES)


def _error_problems(
    error: Exception, contract: Contract, argument: Sequence[str], value_argument: bool
) -> list[str]:
    message = str(error)
    kind = type(error).__name__
    if _known(contract.op[0], kind, message):
        COUNTS["known_issues"] += 1
        return []
    if isinstance(error, MemoryError):
        COUNTS["memory_errors"] += 1
        return []  # a result too large for memory (under the address-space cap): allowed, checked below
    if contract.os_error and isinstance(error, OSError) and not isinstance(error, DezeroError):
        return []
    if isinstance(error, IndexError):
        if not (contract.index_error and isinstance(error, DezeroIndexError)):
            return [f"{kind} where only TypeError/ValueError may come: {message}"]
    elif not isinstance(error, TypeError | ValueError):
        return [f"{kind} where only TypeError/ValueError may come: {message}"]
    problems: list[str] = []
    if not isinstance(error, DezeroError):
        problems.append(f"a bare {kind} (not a DezeroError): {message}")
    if not any(_squash(name) in _squash(message) for name in contract.op):
        problems.append(f"{kind} message does not name the operation {contract.op[0]!r}: {message}")
    elif argument and (value_argument or isinstance(error, TypeError)) and not _mentions(message, argument):
        problems.append(f"{kind} message does not name the argument {argument[0]!r}: {message}")
    return problems


def attempt(
    call: Callable[[], object],
    contract: Contract,
    touched: Sequence[object],
    *,
    argument: Sequence[str] = (),
    value_argument: bool = True,
    may_change: Sequence[int] = (),
) -> Outcome:
    """Run `call` (one use of the public API) and check the error contract; raise AssertionError
    listing every breach. `touched` are the objects the call receives (or reaches), which must be
    unchanged afterwards, except those at the positions `may_change` when the call succeeds (a
    layer's state, running statistics updated in place); `argument` the names under which a
    message may refer to the one faulty argument (empty: no single culprit), which a TypeError must
    use, and a ValueError too when `value_argument` (a shape error of a function of one array may
    describe the shape instead)."""
    COUNTS["inputs"] += 1
    before = [snapshot(t) for t in touched]
    problems: list[str] = []
    outcome = Outcome("ok", "")
    with (
        function_spy() as created,
        address_space_cap(),
        np.errstate(all="ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")  # a warning in place of an error is a breach too
        try:
            outcome.result = call()
        except Exception as error:
            outcome = Outcome(type(error).__name__, str(error))
            problems += _error_problems(error, contract, argument, value_argument)
            del error
    exempt: set[int] = set(may_change) if outcome.kind == "ok" else set()
    if outcome.kind == "ok":
        COUNTS["accepted"] += 1
    else:
        COUNTS["rejected"] += 1
        alive = [ref() for ref in created]
        survivors = sorted({type(f).__name__ for f in alive if f is not None})
        if survivors:
            problems.append(f"Functions created by the failed call are still alive: {survivors}")
        del alive
    after = [snapshot(t) for t in touched]
    changed = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a and i not in exempt]
    if changed:
        problems.append(
            f"the call changed argument(s) {changed} ({[type(touched[i]).__name__ for i in changed]})"
        )
    if problems:
        raise AssertionError(f"{contract.op[0]}: " + "; ".join(problems))
    return outcome
