"""NumPy subclasses as data or operands: a masked array's mask, or np.matrix's meaning of ``*``,
would be silently lost by treating them as plain arrays, so they are refused with a TypeError that
says how to convert them; np.memmap, whose values mean what a plain array's mean, is accepted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import DezeroTypeError, Variable

from .harness import COUNTS


def _masked() -> np.ma.MaskedArray[Any, np.dtype[np.float64]]:
    return np.ma.masked_array([1.0, -2.0, 3.0], mask=[False, True, False])


def _matrix() -> np.matrix[Any, np.dtype[np.float64]]:
    with pytest.warns(PendingDeprecationWarning):
        return np.asmatrix(np.ones((3, 3)))


def _labels() -> np.ma.MaskedArray[Any, np.dtype[np.int64]]:
    return np.ma.masked_array(np.array([0, 1, 2]), mask=[False, True, False])


def _uses(make: Callable[[], Any]) -> list[tuple[str, Callable[[], object]]]:
    v = Variable(np.ones(3))
    scores = Variable(np.ones((3, 3)))

    def assign() -> None:
        v.data = make()

    # `make` returns Any: the checkers would refuse these calls, which is what runs here at run time.
    uses: list[tuple[str, Callable[[], object]]] = [
        ("Variable", lambda: Variable(make())),
        ("data", assign),
        ("x + a", lambda: v + make()),
        ("a + x", lambda: make() + v),
        ("a * x", lambda: make() * v),
        ("exp", lambda: F.exp(make())),
        ("matmul", lambda: F.matmul(scores, make())),
        ("Linear", lambda: L.Linear(2)(make())),
    ]
    return uses


@pytest.mark.parametrize("make", [_masked, _matrix], ids=["masked", "matrix"])
def test_float_subclasses_are_refused_with_the_conversion(make: Callable[[], Any]) -> None:
    for name, use in _uses(make):
        COUNTS["inputs"] += 1
        with pytest.raises(DezeroTypeError) as info:
            use()
        message = str(info.value)
        assert "np.asarray(x)" in message or "x.filled(value)" in message, (name, message)
        assert type(make()).__name__ in message, (name, message)


def test_masked_labels_and_indices_are_refused() -> None:
    scores = Variable(np.ones((3, 3)))
    with pytest.raises(DezeroTypeError, match="softmax_cross_entropy: t must be an integer ndarray"):
        F.softmax_cross_entropy(scores, _labels())
    with pytest.raises(DezeroTypeError, match=r"embed_id: x must be an integer numpy\.ndarray"):
        F.embed_id(_labels(), scores)
    with pytest.raises(DezeroTypeError, match="get_item"):
        F.get_item(scores, _labels())


def test_a_memmap_is_a_plain_array(tmp_path: Path) -> None:
    mapped = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(3,))
    mapped[:] = [1.0, 2.0, 3.0]
    x = Variable(mapped)
    y = F.sum(x * x)
    y.backward()
    assert float(y.data) == 14.0
    assert x.grad is not None
    assert np.array_equal(x.grad.data, [2.0, 4.0, 6.0])


class Tagged(np.ndarray[Any, np.dtype[np.float64]]):
    """A subclass of unknown meaning: its operators might do anything."""


def test_any_other_subclass_is_refused_with_the_conversion() -> None:
    tagged = np.ones(3).view(Tagged)
    with pytest.raises(DezeroTypeError, match=r"ndarray subclasses \(Tagged\) are not supported: convert it"):
        Variable(tagged)
