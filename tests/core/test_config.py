"""Config flags in context variables: restore on error, isolation across threads and tasks."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import Config, Variable, no_grad, test_mode, using_config


def flags() -> tuple[bool, bool]:
    # Read through a call: mypy would otherwise narrow `Config.train` like a variable.
    return Config.enable_backprop, Config.train


def test_defaults() -> None:
    assert flags() == (True, True)


def test_no_grad_and_test_mode_restore_on_exit_and_on_error() -> None:
    with no_grad():
        assert flags() == (False, True)
        with test_mode():
            assert flags() == (False, False)
        assert flags() == (False, True)
    assert flags() == (True, True)
    with pytest.raises(RuntimeError, match="boom"), using_config("train", False):
        raise RuntimeError("boom")
    assert flags() == (True, True)


def test_using_config_rejects_unknown_names_and_non_bools() -> None:
    with pytest.raises(TypeError), using_config("enable_grad", True):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError), using_config("train", 1):  # type: ignore[arg-type]
        pass


def test_config_attributes_can_be_set_for_the_current_context() -> None:
    def body() -> tuple[bool, bool]:
        Config.train = False
        return Config.train, Config.enable_backprop

    import contextvars

    ctx = contextvars.copy_context()
    assert ctx.run(body) == (False, True)
    assert Config.train is True  # the outer context is untouched
    with pytest.raises(TypeError, match=r"Config\.train must be a bool, got int"):
        ctx.run(setattr, Config, "train", 0)


def test_no_grad_in_one_thread_does_not_affect_another() -> None:
    inside = threading.Event()
    release = threading.Event()
    recorded: list[bool] = []

    def hold_no_grad() -> None:
        with no_grad():
            inside.set()
            release.wait(timeout=10)

    def build_graph() -> None:
        y = F.square(Variable(np.ones(2)))
        recorded.append(y.creator is not None)

    holder = threading.Thread(target=hold_no_grad)
    holder.start()
    assert inside.wait(timeout=10)
    worker = threading.Thread(target=build_graph)
    worker.start()
    worker.join(timeout=10)
    release.set()
    holder.join(timeout=10)
    assert recorded == [True]


def test_asyncio_tasks_are_isolated() -> None:
    async def main() -> list[bool]:
        gate = asyncio.Event()

        async def inference() -> bool:
            with no_grad():
                await gate.wait()
                return Config.enable_backprop

        async def training() -> bool:
            gate.set()
            await asyncio.sleep(0)
            return Config.enable_backprop

        return list(await asyncio.gather(inference(), training()))

    assert asyncio.run(main()) == [False, True]
