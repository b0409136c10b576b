"""Registry rows for the losses (accuracy is a metric, not differentiable). Labels and targets are
constants, drawn into the keyword arguments; binary_cross_entropy's inputs stay off its clipping."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.functions.registry import Drawn, GradCase
from tests.strategies import Shape, arrays, shapes
from typed_dezero.functions.loss import (
    binary_cross_entropy,
    mean_squared_error,
    mean_squared_error_simple,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
    softmax_cross_entropy_simple,
)

Draw = st.DrawFn

INT_DTYPES: list[type[np.integer[Any]]] = [np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64]


@st.composite
def _mse_case(draw: Draw) -> Drawn:
    full: Shape = draw(shapes(min_dims=1, max_dims=3))
    keep = draw(st.integers(0, len(full)))
    small = tuple(draw(st.sampled_from([1, n])) for n in full[len(full) - keep :])
    s0, s1 = draw(st.sampled_from([(full, full), (full, small), (small, full)]))
    return Drawn((draw(arrays(s0)), draw(arrays(s1))))


@st.composite
def _labels_case(draw: Draw) -> Drawn:
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(INT_DTYPES))
    t = draw(hnp.arrays(dtype, (n,), elements=st.integers(0, c - 1)))
    return Drawn((draw(arrays((n, c), -3.0, 3.0)),), {"t": t})


@st.composite
def binary_case(draw: Draw, lo: float, hi: float, max_side: int = 4) -> Drawn:
    """Inputs in [lo, hi] of shape (N, 1) or any shape, and 0/1 labels or probabilities as targets."""
    if draw(st.booleans()):
        n = draw(st.integers(1, 4))
        shape: Shape = (n, 1)
        t_shape: Shape = draw(st.sampled_from([(n, 1), (n,)]))
    else:
        shape = t_shape = draw(shapes(min_dims=1, max_dims=3, max_side=max_side))
    x = draw(arrays(shape, lo, hi))
    if draw(st.booleans()):
        t: Any = draw(hnp.arrays(draw(st.sampled_from(INT_DTYPES)), t_shape, elements=st.integers(0, 1)))
    else:
        t = draw(arrays(t_shape, 0.0, 1.0))
    return Drawn((x,), {"t": t})


CASES: list[GradCase] = [
    GradCase("mean_squared_error", mean_squared_error, _mse_case(), "broadcast to one input"),
    GradCase("mean_squared_error_simple", mean_squared_error_simple, _mse_case(), "broadcast to one input"),
    GradCase("softmax_cross_entropy", softmax_cross_entropy, _labels_case()),
    GradCase("softmax_cross_entropy_simple", softmax_cross_entropy_simple, _labels_case()),
    GradCase("sigmoid_cross_entropy", sigmoid_cross_entropy, binary_case(-6.0, 6.0)),
    GradCase("binary_cross_entropy", binary_cross_entropy, binary_case(0.05, 0.95)),
]
