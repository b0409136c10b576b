"""Hypothesis strategies shared by the tests: float64 arrays of bounded shape and value."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from typed_dezero import Arr

Shape = tuple[int, ...]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def arrays(
    shape: Shape | st.SearchStrategy[Shape], lo: float = -2.0, hi: float = 2.0
) -> st.SearchStrategy[Arr]:
    """float64 arrays with elements in [lo, hi]."""
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False))


def away_from_zero(
    shape: Shape | st.SearchStrategy[Shape], lo: float = 0.2, hi: float = 2.0
) -> st.SearchStrategy[Arr]:
    """float64 arrays whose elements have magnitude in [lo, hi] (kinks at 0 stay out of reach)."""
    magnitudes = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    signed = st.tuples(magnitudes, st.booleans()).map(lambda t: t[0] if t[1] else -t[0])
    return hnp.arrays(np.float64, shape, elements=signed)


def distinct(
    shape: Shape | st.SearchStrategy[Shape], lo: float = -2.0, hi: float = 2.0
) -> st.SearchStrategy[Arr]:
    """float64 arrays whose elements are pairwise at least 0.01 apart (no ties for max/min)."""

    def build(shape_and_seed: tuple[Shape, int]) -> Arr:
        shp, seed = shape_and_seed
        size = int(np.prod(shp))
        gen = np.random.default_rng(seed)
        values = np.linspace(lo, hi, num=max(size, 2))[:size]
        return gen.permutation(values).reshape(shp)

    shape_st = shape if isinstance(shape, st.SearchStrategy) else st.just(shape)
    return st.tuples(shape_st, st.integers(0, 2**31 - 1)).map(build)


def broadcastable_pair(max_dims: int = 3) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Two shapes that broadcast together (either side may be the smaller one)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=3).map(
        lambda s: (s.input_shapes[0], s.input_shapes[1])
    )
