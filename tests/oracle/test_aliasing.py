"""Index arrays, ids and labels that the caller changes in place after the forward pass (reusing a
buffer, as a data loader may) must not change the gradients: typed_dezero is run with its own copy
of them, changed right after its forward, and compared with torch, which keeps the values drawn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.functions.cases_loss import INT_DTYPES
from tests.functions.registry import Drawn
from tests.oracle.cases_core import CASES as CORE_CASES
from tests.oracle.cases_core import INDEXES
from tests.oracle.cases_nn import CASES as NN_CASES
from tests.oracle.cases_variable import CASES as VARIABLE_CASES
from tests.oracle.harness import OracleCase, run
from tests.strategies import arrays
from typed_dezero._typing import Index

Draw = st.DrawFn


def _changed(a: np.ndarray[Any, Any]) -> None:
    """Change an index array in place, keeping it valid for the same axis: reversed (0 for a 0-d
    array); a reversed bool mask keeps its count of True."""
    if a.ndim == 0:
        a[...] = 0
    else:
        a[...] = np.flip(a).copy()


def scramble_index(index: Index) -> None:
    """Change every index array and list inside `index` in place."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, np.ndarray):
            _changed(part)
        elif isinstance(part, list):
            part.reverse()


def _scramble_index_kwarg(kwargs: dict[str, Any]) -> None:
    scramble_index(kwargs["index"])


def _flip_labels(name: str) -> Any:
    def mutate(kwargs: dict[str, Any]) -> None:
        t = kwargs[name]
        t[...] = np.where(t == 0, 1, 0)  # every label changes, and stays valid (>= 2 classes)

    return mutate


def _has_mutable_part(index: Index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    changed = False
    for part in parts:
        if isinstance(part, np.ndarray) and part.size:
            before = part.copy()
            _changed(part)
            changed = changed or not np.array_equal(before, part)
            part[...] = before
        elif isinstance(part, list) and part != part[::-1]:
            changed = True
    return changed


MUTABLE_INDEXES = [i for i in INDEXES if _has_mutable_part(i)]


def _case(name: str, cases: list[OracleCase]) -> OracleCase:
    return next(c for c in cases if c.name == name)


@pytest.mark.parametrize("index", MUTABLE_INDEXES, ids=lambda i: " ".join(repr(i).split()))
@pytest.mark.parametrize("name", ["get_item", "Variable.__getitem__"])
@given(data=st.data())
def test_index_changed_after_forward(name: str, index: Index, data: st.DataObject) -> None:
    case = _case(name, [*CORE_CASES, *VARIABLE_CASES])
    x = data.draw(arrays((4, 3)))
    run(
        case,
        Drawn((x,), {"index": index}),
        data.draw(st.integers(0, 2**32 - 1)),
        mutate=_scramble_index_kwarg,
    )


def test_the_indexes_cover_arrays_and_lists() -> None:
    assert any(isinstance(i, list) for i in MUTABLE_INDEXES)
    assert any(isinstance(i, tuple) and any(isinstance(p, list) for p in i) for i in MUTABLE_INDEXES)
    assert sum(isinstance(i, np.ndarray) for i in MUTABLE_INDEXES) >= 5


@st.composite
def _ids_case(draw: Draw) -> Drawn:
    vocab, dim = draw(st.integers(2, 4)), draw(st.integers(1, 3))
    ids = draw(
        hnp.arrays(
            draw(st.sampled_from(INT_DTYPES)),
            draw(hnp.array_shapes(max_dims=2, max_side=3)),
            elements=st.integers(0, 1),
        )
    )
    return Drawn((draw(arrays((vocab, dim))),), {"ids": ids})


@given(drawn=_ids_case(), seed=st.integers(0, 2**32 - 1))
def test_embed_id_ids_changed_after_forward(drawn: Drawn, seed: int) -> None:
    run(_case("embed_id", NN_CASES), drawn, seed, mutate=_flip_labels("ids"))


@st.composite
def _labels_case(draw: Draw) -> Drawn:
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    t = draw(hnp.arrays(draw(st.sampled_from(INT_DTYPES)), (n,), elements=st.integers(0, c - 1)))
    return Drawn((draw(arrays((n, c), -3.0, 3.0)),), {"t": t})


@given(drawn=_labels_case(), seed=st.integers(0, 2**32 - 1))
def test_softmax_cross_entropy_labels_changed_after_forward(drawn: Drawn, seed: int) -> None:
    run(_case("softmax_cross_entropy", NN_CASES), drawn, seed, mutate=_flip_labels("t"))


@st.composite
def _targets_case(draw: Draw, lo: float, hi: float) -> Drawn:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=3))
    if draw(st.booleans()):
        t: Any = draw(hnp.arrays(draw(st.sampled_from(INT_DTYPES)), shape, elements=st.integers(0, 1)))
    else:
        t = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0])))
    return Drawn((draw(arrays(shape, lo, hi)),), {"t": t})


@pytest.mark.parametrize(
    ("name", "lo", "hi"), [("sigmoid_cross_entropy", -6.0, 6.0), ("binary_cross_entropy", 0.05, 0.95)]
)
@given(data=st.data())
def test_binary_targets_changed_after_forward(name: str, lo: float, hi: float, data: st.DataObject) -> None:
    drawn = data.draw(_targets_case(lo, hi))
    run(_case(name, NN_CASES), drawn, data.draw(st.integers(0, 2**32 - 1)), mutate=_flip_labels("t"))
