"""Recycled result arrays (typed_dezero.functions._recycling): memory is reused only when nothing
refers to it, however the caller derived its own views."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import typed_dezero.functions._recycling as recycling
from typed_dezero import Variable
from typed_dezero._typing import Arr
from typed_dezero.functions import conv2d, pooling
from typed_dezero.functions import sum as fsum

SIZES = (1 << 15, 1 << 15, 3 << 14, 1 << 16)
"""float64 sizes at or above MIN_BYTES (256 KiB); two equal ones, to compete for one buffer."""


@pytest.fixture(autouse=True)
def own_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an empty cache (what other tests left idle would be reused)."""
    monkeypatch.setattr(recycling, "_BUFFERS", recycling._Buffers())  # pyright: ignore[reportPrivateUsage]


def _address(a: Arr) -> int:
    return int(a.__array_interface__["data"][0])


def _spans(a: object) -> Arr:
    """The array behind something that holds memory (an array or a memoryview)."""
    return np.asarray(a)


DERIVE: dict[str, Callable[[Arr], object]] = {
    "slice": lambda a: a[1:],
    "reshape": lambda a: a.reshape(-1),
    "transpose": lambda a: a.T,
    "memoryview": lambda a: memoryview(a.data),
    "view of a view": lambda a: a[::2][1:],
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("new"), st.sampled_from(range(len(SIZES)))),
            st.tuples(st.just("derive"), st.sampled_from(sorted(DERIVE))),
            st.tuples(st.just("drop"), st.integers(0, 15)),
        ),
        max_size=40,
    )
)
def test_no_live_array_or_view_shares_memory_with_a_new_result(ops: list[tuple[str, object]]) -> None:
    live: list[tuple[int, object]] = []  # (the call that made it, the array or a view of it)
    for call, (op, arg) in enumerate(ops):
        if op == "new" and isinstance(arg, int):
            shape = (SIZES[arg] // 4, 4)
            fresh = recycling.empty_result(shape)
            assert fresh.shape == shape
            assert fresh.dtype == np.float64
            for _, other in live:
                assert not np.shares_memory(fresh, _spans(other))
            live.append((call, fresh))
        elif op == "derive" and isinstance(arg, str) and live:
            origin, obj = live[-1]
            live.append((origin, DERIVE[arg](_spans(obj))))
        elif op == "drop" and isinstance(arg, int) and live:
            del live[arg % len(live)]


def test_the_memory_of_a_dead_result_is_reused_and_of_a_live_one_not() -> None:
    shape = (1 << 15,)
    first = recycling.empty_result(shape)
    where = _address(first)
    view = first[10:]
    del first
    second = recycling.empty_result(shape)
    assert not np.shares_memory(second, view)  # a view keeps the buffer in use
    del view, second
    third = recycling.empty_result((1 << 13, 4))
    assert third.base is not None
    assert _address(third) == where


def test_small_and_huge_results_are_plain_arrays() -> None:
    small = recycling.empty_result((recycling.MIN_BYTES // 8 - 1,))
    huge = recycling.empty_result((recycling.MAX_BYTES // 8 + 1,))
    assert small.base is None
    assert huge.base is None
    assert recycling.empty_result((0, 3)).shape == (0, 3)


def test_the_cache_is_bounded_and_makes_room_by_dropping_idle_buffers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(recycling, "CACHE_BYTES", 4 * recycling.MIN_BYTES)
    n = recycling.MIN_BYTES // 8
    held = [recycling.empty_result((n + i,)) for i in range(3)]
    assert all(a.base is not None for a in held)
    assert recycling.cached_bytes() == sum(a.nbytes for a in held)
    over = recycling.empty_result((2 * n,))  # in-use buffers fill the cache: a plain array
    assert over.base is None
    assert recycling.cached_bytes() <= recycling.CACHE_BYTES
    del held[0]  # one idle buffer, dropped to make room for a new size
    room = recycling.empty_result((n + 7,))
    assert room.base is not None
    assert recycling.cached_bytes() == sum(a.nbytes for a in [*held, room])
    for a in (*held, room, over):
        a.fill(1.0)
    assert all(np.all(a == 1.0) for a in (*held, room, over))


def test_each_thread_has_its_own_buffers_and_a_result_alive_in_another_thread_stays_its_own() -> None:
    shape = (1 << 15,)
    handed: list[Arr] = []
    seen: list[Arr] = []

    def make() -> None:
        a = recycling.empty_result(shape)
        a.fill(7.0)
        handed.append(a)

    def reuse_here() -> None:
        for _ in range(3):
            seen.append(recycling.empty_result(shape))

    maker = threading.Thread(target=make)
    maker.start()
    maker.join()
    other = threading.Thread(target=reuse_here)
    other.start()
    other.join()
    (kept,) = handed
    assert not any(np.shares_memory(kept, s) for s in seen)
    mine = recycling.empty_result(shape)
    assert not np.shares_memory(kept, mine)
    assert np.all(kept == 7.0)


def test_conv_results_kept_across_training_steps_keep_their_values() -> None:
    # Each step's outputs and gradients are recycled memory; keeping them must keep their values.
    rng = np.random.default_rng(3)
    W = Variable(rng.normal(size=(8, 3, 3, 3)))
    kept: list[tuple[Arr, Arr]] = []
    for _ in range(4):
        x = Variable(rng.normal(size=(16, 3, 32, 32)))
        h = conv2d(x, W, pad=1)
        W.cleargrad()
        fsum(pooling(h, 2, stride=2) ** 2).backward()
        assert x.grad is not None
        assert h.data.base is not None  # recycled memory is what is being tested
        assert x.grad.data.base is not None
        kept.append((h.data, x.grad.data))
    copies = [(a.copy(), b.copy()) for a, b in kept]
    for _ in range(3):  # more steps, with the earlier results still held
        fsum(pooling(conv2d(Variable(rng.normal(size=(16, 3, 32, 32))), W, pad=1), 2, stride=2)).backward()
    for (a, b), (ca, cb) in zip(kept, copies, strict=True):
        np.testing.assert_array_equal(a, ca)
        np.testing.assert_array_equal(b, cb)
