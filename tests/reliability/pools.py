"""Hypothesis strategies of bad input for the public API: wrong types, wrong dtypes, wrong shapes,
NaN/Inf, empty and huge arrays, out-of-range numbers, and arguments of each kind (shapes, axes,
labels, indices, kernel sizes). Each argument of a fuzzed call is drawn either from its good values
or from the bad pool of its kind."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

import numpy as np
from hypothesis import strategies as st

from typed_dezero import Parameter, Variable

Strategy = st.SearchStrategy[object]

GIANT: Final = 2**40
"""A dimension whose arrays exist only when empty (a giant-empty array holds no bytes)."""


def _read_only(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a.flags.writeable = False
    return a


def _wrong_types() -> list[object]:
    return [
        None,
        "a",
        b"a",
        1j,
        True,
        object(),
        [1.0, 2.0],
        (1.0, 2.0),
        {"a": 1.0},
        np.float32(1.0),
        np.int64(1),
        np.bool_(True),
        np.array(1.0, dtype=np.float32),
        Decimal("1.5"),
        Fraction(1, 2),
        len,
    ]


WRONG_TYPES: Final[Strategy] = st.sampled_from(_wrong_types())
"""Values of types no argument of the library takes (or takes only in a few places)."""


def _matrix() -> np.matrix[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(np.ones((2, 2)))


def _bad_arrays() -> list[object]:
    ints = np.arange(6).reshape(2, 3)
    return [
        ints,
        ints.astype(np.int8),
        ints.astype(np.uint64),
        np.ones((2, 3), dtype=np.float32),
        np.ones((2, 3), dtype=np.float16),
        np.ones((2, 3), dtype=np.longdouble),
        np.ones((2, 3), dtype=np.complex128),
        np.ones((2, 3), dtype=bool),
        np.ones((2, 3), dtype=object),
        np.array([["a", "b"]]),
        _matrix(),
        np.float64(1.5),
        np.array(2.0),
        np.empty(0),
        np.empty((0, 3)),
        np.empty((3, 0)),
        np.empty((2, 0, 4)),
        np.empty((0, 0, 0, 0)),
        np.ones(7),
        np.ones((1, 1, 1, 1, 1)),
        np.ones((2, 3, 4, 5)),
        np.full((2, 3), np.nan),
        np.full((2, 3), np.inf),
        np.full((2, 3), -np.inf),
        np.full((2, 3), 1e308),
        np.full((2, 3), -1e308),
        np.full((2, 3), 5e-324),
        _read_only(np.ones((2, 3))),
        np.ones((2, 6))[:, ::2],
        np.asfortranarray(np.ones((3, 2))),
        np.empty((0, GIANT)),
        np.empty((GIANT, 0)),
        np.empty((0, 3, GIANT, 2)),
    ]


def _variables_of(arrays: list[object]) -> list[object]:
    out: list[object] = []
    for a in arrays:
        if type(a) is np.ndarray and a.dtype == np.float64:
            out.append(Variable(a))
    out.append(Parameter(np.full(3, np.nan)))
    return out


def _indexed(maker: Callable[[], list[object]]) -> Strategy:
    # A fresh object per draw: a call must not be able to change the next example's input.
    size = len(maker())
    return st.integers(0, size - 1).map(lambda i: maker()[i])


BAD_VARIABLES: Final[Strategy] = _indexed(lambda: _variables_of(_bad_arrays()))
BAD_ARRAYS: Final[Strategy] = st.one_of(_indexed(_bad_arrays), BAD_VARIABLES)


def corrupted(good: st.SearchStrategy[Any]) -> Strategy:
    """A good float64 array (or Variable) with NaN, Inf, -Inf, 1e308 or a subnormal written in."""

    def corrupt(value: object, special: float, where: int) -> object:
        array = value.data if isinstance(value, Variable) else value
        if not isinstance(array, np.ndarray) or array.size == 0:
            return value
        copy: np.ndarray[Any, np.dtype[np.float64]] = np.array(array, dtype=np.float64)
        copy.reshape(-1)[where % copy.size] = special
        return Variable(copy) if isinstance(value, Variable) else copy

    specials = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, -0.0])
    return st.builds(corrupt, good, specials, st.integers(0, 1000))


BAD_INTS: Final[Strategy] = st.sampled_from([-1, 0, -(2**70), 2**62, 2**70, 10**400, 1.0, 2.5, np.int64(1)])
BAD_FLOATS: Final[Strategy] = st.sampled_from(
    [np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, -0.0, -1.0, 0.0, 1.0, 2.0, 10**400, -(10**400), 2**70]
)
BAD_SHAPES: Final[Strategy] = st.sampled_from(
    [
        (2**62,),
        (2**70,),
        (10**12, 10**12),
        (-1, 2**62),
        (-1, -1),
        (-5,),
        (GIANT, GIANT),
        (0,),
        (),
        (7,),
        (1.5,),
        (True,),
        ((2,),),
        ("2",),
        [2, 3],
        (np.int64(2), 3),
    ]
)
BAD_AXES: Final[Strategy] = st.sampled_from(
    [5, -5, 2**70, (0, 0), (0, 5), (), 1.0, (1.0,), [0], True, (True,)]
)
BAD_PAIRS: Final[Strategy] = st.sampled_from(
    [
        0,
        -1,
        (1, 2, 3),
        (-1, 1),
        (0, 1),
        2**62,
        (2**62, 1),
        (1, 2**70),
        1.5,
        (1.5, 1),
        "a",
        True,
        (True, 1),
        [1, 1],
    ]
)
BAD_LABELS: Final[Strategy] = st.sampled_from(
    [
        np.array([0, 7]),
        np.array([-1, 0]),
        np.array([2**63, 0], dtype=np.uint64),
        np.array([0]),
        np.array([[0, 1]]),
        np.array([0.0, 1.0]),
        np.array([0.5, 1.0]),
        np.array([np.nan, 0.0]),
        np.array([True, False]),
        np.zeros(0, dtype=np.int64),
        np.array([0, 1], dtype=np.int8),
        np.array([0, 1], dtype=object),
    ]
)
BAD_INDICES: Final[Strategy] = st.sampled_from(
    [
        5,
        -5,
        2**70,
        1.5,
        "a",
        (0, 0, 0),
        (..., ...),
        slice(0.5, 1),
        slice(0, 1, 0),
        slice("a", None),
        np.array([True]),
        np.array([0, 9]),
        np.array([0.0]),
        [[0]],
        [0, 7],
        [],
        np.int64(0),
        None,
        (None, None, 0),
        Variable(np.array([0.0])),
        True,
    ]
)
BAD_RNGS: Final[Strategy] = st.sampled_from([np.random.RandomState(0), -1, 1.5, 2**200, "seed"])
BAD_BOOLS: Final[Strategy] = st.sampled_from([0, 1, "yes", None, np.bool_(True)])

ARRAY_KINDS: Final = frozenset({"array", "operand", "variable", "labels"})

BAD_BY_KIND: Final[dict[str, Strategy]] = {
    "variable": BAD_VARIABLES,
    "array": st.one_of(BAD_ARRAYS, BAD_FLOATS),
    "operand": st.one_of(BAD_ARRAYS, BAD_FLOATS),
    "int": BAD_INTS,
    "float": BAD_FLOATS,
    "shape": BAD_SHAPES,
    "axis": BAD_AXES,
    "pair": BAD_PAIRS,
    "labels": BAD_LABELS,
    "index": BAD_INDICES,
    "rng": BAD_RNGS,
    "bool": BAD_BOOLS,
}


@dataclass(frozen=True)
class Arg:
    """One argument of a fuzzed call: its name, good values, and the kind of its bad values."""

    name: str
    good: st.SearchStrategy[Any]
    kind: str
    mentions: tuple[str, ...] = ()
    """Other words a message may use for this argument (``"input 0"``, ``"labels"``)."""

    def bad(self) -> Strategy:
        """Bad values for this argument. A "variable" (the Variable whose method or operator is
        called) only gets bad Variables: on anything else the method would not be the library's."""
        if self.kind == "variable":
            return st.one_of(corrupted(self.good), BAD_VARIABLES)
        pools = [BAD_BY_KIND[self.kind], WRONG_TYPES]
        if self.kind in ("array", "operand"):
            pools.insert(0, corrupted(self.good))
        return st.one_of(*pools)

    def words(self, position: int) -> tuple[str, ...]:
        return (self.name, f"input {position}", f"argument {position}", *self.mentions)
