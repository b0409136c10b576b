"""Recycled memory: result arrays, and work buffers.

Result arrays: the memory of a large float64 result that no one refers to any more is
reused for the next result of the same size, in the same thread.

Why: a training step allocates the same multi-megabyte arrays (a convolution's output, its
gradient) step after step. glibc returns the top of its heap to the system when a step's arrays are
freed together, and the next step then pays a page fault for every 4 KiB it writes: about 1,700
faults and a third of the time of a convolution step (benchmarks/conv.py, where PyTorch's step
measured a few hundred at most). The graph of a define-by-run DeZero program, and with it these
arrays, lives until the user drops it, so here the memory itself is kept for the next step.

A result is a view of a buffer the cache owns. The buffer is handed out again only when its
reference count says that nothing but the cache holds it: every NumPy view of a result, however
derived, keeps the owning buffer alive, so a buffer with a live view is never reused. Buffers are
per thread, and at most :data:`CACHE_BYTES` of them are kept per thread (idle ones are dropped,
oldest first, to make room); results smaller than :data:`MIN_BYTES` or larger than
:data:`MAX_BYTES` are plain new arrays.

Work buffers (:func:`work_buffer`) hold the temporaries of one call (a convolution's padded images
and patch blocks, an LSTM step's gate gradients): reused by the next call of the same thread, so
they must never be returned or saved.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

from typed_dezero._typing import Arr, Shape

__all__ = [
    "CACHE_BYTES",
    "MAX_BYTES",
    "MIN_BYTES",
    "WORK_BUFFER_LIMIT",
    "cached_bytes",
    "copied_result",
    "empty_result",
    "work_buffer",
    "zeros_result",
]

MIN_BYTES = 1 << 18
"""Smaller results come from glibc's free lists, which are not given back to the system."""
MAX_BYTES = 1 << 24
"""Larger results are plain arrays (kept, they would pin too much memory)."""
CACHE_BYTES = 1 << 25
"""The most bytes of buffers one thread keeps, in use or idle."""


class _Buffers(threading.local):
    def __init__(self) -> None:
        self.owned: list[Arr] = []
        """Flat buffers, least recently handed out first."""


_BUFFERS = _Buffers()


def _references(buffers: list[Arr], i: int) -> int:
    return sys.getrefcount(buffers[i])


_IDLE = _references([np.empty(1)], 0)
"""The count `_references` sees for a buffer that only the list holds (measured, since what the
interpreter's own stack adds to the count differs between Python versions)."""


def _idle(buffers: list[Arr], i: int) -> bool:
    return _references(buffers, i) == _IDLE


def empty_result(shape: Shape) -> Arr:
    """An uninitialised float64 array of `shape` for a result, in recycled memory when it is large."""
    size = math.prod(shape)
    nbytes = 8 * size
    if nbytes < MIN_BYTES or nbytes > MAX_BYTES:
        return np.empty(shape)
    owned = _BUFFERS.owned
    for i in range(len(owned)):
        if owned[i].size == size and _idle(owned, i):
            buffer = owned.pop(i)
            owned.append(buffer)
            return buffer.reshape(shape)
    # Make room by dropping idle buffers, oldest first; if the ones in use fill the cache, the
    # result is a plain array.
    i, held = 0, cached_bytes()
    while held + nbytes > CACHE_BYTES and i < len(owned):
        if _idle(owned, i):
            held -= owned.pop(i).nbytes
        else:
            i += 1
    if held + nbytes > CACHE_BYTES:
        return np.empty(shape)
    buffer = np.empty(size)
    owned.append(buffer)
    return buffer.reshape(shape)


def zeros_result(shape: Shape) -> Arr:
    """:func:`empty_result` filled with zeros."""
    out = empty_result(shape)
    out.fill(0.0)
    return out


def copied_result(a: Arr) -> Arr:
    """A C-contiguous copy of `a` (a view, say) in :func:`empty_result`'s memory."""
    out = empty_result(a.shape)
    np.copyto(out, a)
    return out


def cached_bytes() -> int:
    """The bytes of the buffers this thread keeps (in use or idle)."""
    return sum(b.nbytes for b in _BUFFERS.owned)


class _WorkBuffers(threading.local):
    """Each thread's work buffers, by role, reused from call to call: a new array per call costs
    page faults of fresh memory (glibc gives the top of its heap back when a call frees it).

    A work buffer lives inside one call only. No array a function returns, and no state a Function
    saves, is a view of one: the next call overwrites them.
    """

    def __init__(self) -> None:
        self.flat: dict[str, Arr] = {}


_WORK = _WorkBuffers()
WORK_BUFFER_LIMIT = 1 << 23
"""Bytes up to which a work buffer is kept for the next call; larger ones are allocated per call."""


def work_buffer(role: str, shape: Shape) -> Arr:
    """An uninitialised array of `shape` for the duration of one call (see :class:`_WorkBuffers`);
    `role` names it (one buffer per role and thread: two live at once need two roles)."""
    size = math.prod(shape)
    if 8 * size > WORK_BUFFER_LIMIT:
        return np.empty(shape)
    flat = _WORK.flat.get(role)
    if flat is None or flat.size < size:
        flat = np.empty(size)
        _WORK.flat[role] = flat
    return flat[:size].reshape(shape)
