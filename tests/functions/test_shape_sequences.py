"""Shapes and axes as lists as well as tuples (and varargs on Variable), as DeZero takes them; bad
entries are a TypeError naming the function, with runtime checks on and off."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import DezeroTypeError, Variable


def _x() -> Variable:
    return Variable(np.arange(6.0).reshape(2, 3))


def test_lists_tuples_and_varargs_agree() -> None:
    x = _x()
    for y in (x.reshape([6, 1]), x.reshape((6, 1)), x.reshape(6, 1), F.reshape(x, [6, 1])):
        assert y.shape == (6, 1)
    for y in (x.transpose([1, 0]), x.transpose(1, 0), x.transpose((1, 0)), F.transpose(x, [1, 0])):
        np.testing.assert_array_equal(y.data, x.data.T)
    assert x.transpose([-1, -2]).shape == (3, 2)
    for y in (F.sum(x, axis=[0, 1]), x.sum(axis=[0, 1]), x.sum(axis=(0, 1))):
        np.testing.assert_array_equal(y.data, 15.0)
    np.testing.assert_array_equal(F.sum(x, axis=[1], keepdims=True).data, [[3.0], [12.0]])
    np.testing.assert_array_equal(F.mean(x, axis=[0]).data, [1.5, 2.5, 3.5])
    np.testing.assert_array_equal(F.max(x, axis=[0, 1]).data, 5.0)
    np.testing.assert_array_equal(F.min(x, axis=[-1]).data, [0.0, 3.0])
    assert F.broadcast_to(x, [4, 2, 3]).shape == (4, 2, 3)
    np.testing.assert_array_equal(F.sum_to(x, [1, 3]).data, [[3.0, 5.0, 7.0]])
    assert F.reshape(x, [2, 3]) is x  # the same-shape shortcut holds for a list too
    assert F.broadcast_to(x, [2, 3]) is x
    assert F.sum_to(x, [2, 3]) is x


def test_list_shapes_differentiate() -> None:
    x = _x()
    y = F.sum(F.broadcast_to(x.reshape([3, 2]).transpose([1, 0]), [2, 2, 3]), axis=[0, 2])
    y.backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 2.0))


UNCHECKED: list[tuple[str, Callable[..., Any], str]] = [
    ("reshape", F.reshape, "shape"),
    ("transpose", F.transpose, "axes"),
    ("broadcast_to", F.broadcast_to, "shape"),
    ("sum_to", F.sum_to, "shape"),
]
BAD = [[6.0, 1], [True, 6], "61", b"\x06\x01", [[6, 1]], {6, 1}, np.array([6, 1]), [np.int64(6), 1]]


@pytest.mark.parametrize(("name", "fn", "arg"), UNCHECKED, ids=[u[0] for u in UNCHECKED])
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_bad_entries_are_refused_with_runtime_checks_off(
    name: str, fn: Callable[..., Any], arg: str, bad: object
) -> None:
    raw: Callable[..., Any] = inspect.unwrap(fn)  # as with runtime checks off
    expected = rf"^{name}: {arg} must be a tuple of ints \(or a list of ints\)"
    with pytest.raises(DezeroTypeError, match=expected):
        raw(_x(), bad)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("bad", [*BAD, True, 1.0], ids=repr)
def test_bad_axes_are_refused_with_runtime_checks_off(name: str, bad: object) -> None:
    raw: Callable[..., Any] = inspect.unwrap(getattr(F, name))
    with pytest.raises(DezeroTypeError, match=rf"^{name}: axis must be an int, a tuple of ints or None"):
        raw(_x(), axis=bad)


@pytest.mark.parametrize("bad", ["61", [6.0, 1], [[6, 1]], b"\x06\x01"], ids=repr)
def test_bad_shapes_raise_type_errors_with_runtime_checks_on(bad: Any) -> None:
    x = _x()
    with pytest.raises(TypeError, match="reshape"):
        F.reshape(x, bad)
    with pytest.raises(TypeError, match="reshape"):
        x.reshape(bad)
    with pytest.raises(TypeError, match="sum"):
        F.sum(x, axis=bad)


def test_variable_methods_refuse_mixed_arguments() -> None:
    x = _x()
    reshape_error = r"^reshape: expected ints or one tuple of ints \(or a list of ints\)"
    with pytest.raises(DezeroTypeError, match=reshape_error):
        x.reshape([6, 1], 1)  # type: ignore[call-overload]
    with pytest.raises(DezeroTypeError, match=reshape_error):
        x.reshape(None)  # type: ignore[call-overload]
    with pytest.raises(DezeroTypeError, match=reshape_error):
        x.reshape(6, [1])  # type: ignore[call-overload]
    with pytest.raises(DezeroTypeError, match=reshape_error.replace("reshape", "transpose")):
        x.transpose([1, 0], 1)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="sum"):
        x.sum(axis=True)  # a bool is no axis (the runtime checker takes it for an int)
