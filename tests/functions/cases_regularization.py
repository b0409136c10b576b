"""Registry rows for dropout, batch_norm (training and test mode), embed_id and clip."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.functions.registry import Drawn, GradCase, drawn
from tests.strategies import Shape, arrays, shapes
from typed_dezero import Arr, Variable, using_config
from typed_dezero._typing import IntArr
from typed_dezero.functions.regularization import batch_norm, clip, dropout, embed_id

Draw = st.DrawFn


def _dropout(x: Variable, *, ratio: float, seed: int) -> Variable:
    # A fresh generator with the same seed per call: every evaluation of the check sees one mask.
    return dropout(x, ratio, np.random.default_rng(seed))


def _dropout_case() -> st.SearchStrategy[Drawn]:
    return shapes().flatmap(
        lambda s: drawn(arrays(s), ratio=st.sampled_from([0.0, 0.3, 0.5, 0.9]), seed=st.integers(0, 2**16))
    )


@st.composite
def _bn_case(draw: Draw, spatial: bool) -> Drawn:
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hw: Shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if spatial else ()
    if n * int(np.prod(hw)) < 2:
        n = 2
    shape = (n, c, *hw)
    m = n * int(np.prod(hw))
    # Values of one channel spread over [-1.5, 1.5] plus small noise: the batch variance stays away
    # from 0, where normalisation has huge derivatives that central differences cannot follow.
    gen = np.random.default_rng(draw(st.integers(0, 2**16)))
    spread = np.stack([gen.permutation(np.linspace(-1.5, 1.5, m)) for _ in range(c)])
    x = draw(arrays(shape, -0.3, 0.3)) + np.moveaxis(spread.reshape((c, n, *hw)), 0, 1)
    gamma, beta = draw(arrays((c,))), draw(arrays((c,)))
    mean, var = draw(arrays((c,))), draw(arrays((c,), 0.5, 2.0))
    momentum = draw(st.sampled_from([0.0, 0.9, 1.0]))
    eps = draw(st.sampled_from([2e-5, 1e-3, 0.5]))
    return Drawn((x, gamma, beta), {"mean": mean, "var": var, "momentum": momentum, "eps": eps})


def _batch_norm_train(
    x: Variable, gamma: Variable, beta: Variable, *, mean: Arr, var: Arr, momentum: float, eps: float
) -> Variable:
    # Training updates the running statistics in place: each evaluation gets its own copies.
    return batch_norm(x, gamma, beta, mean.copy(), var.copy(), momentum, eps)


def _batch_norm_test(
    x: Variable, gamma: Variable, beta: Variable, *, mean: Arr, var: Arr, momentum: float, eps: float
) -> Variable:
    with using_config("train", False):
        return batch_norm(x, gamma, beta, mean.copy(), var.copy(), momentum, eps)


@st.composite
def _embed_case(draw: Draw) -> Drawn:
    vocab, dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    id_shape: Shape = draw(shapes(min_dims=0, max_dims=2))
    ids = draw(hnp.arrays(np.int64, id_shape, elements=st.integers(0, vocab - 1)))
    return Drawn((draw(arrays((vocab, dim))),), {"ids": ids})


def _embed_id(W: Variable, *, ids: IntArr) -> Variable:
    return embed_id(ids, W)


def _away_from_bounds(shape: Shape) -> st.SearchStrategy[Arr]:
    # The gradient of clip jumps at the bounds (-1 and 1): keep the drawn values 0.2 away from them.
    inside_or_outside = st.one_of(st.floats(-0.8, 0.8), st.floats(1.2, 2.0), st.floats(-2.0, -1.2))
    return hnp.arrays(np.float64, shape, elements=inside_or_outside)


CASES: list[GradCase] = [
    GradCase("dropout", _dropout, _dropout_case()),
    GradCase("batch_norm", _batch_norm_train, _bn_case(spatial=False), "train (N, C)"),
    GradCase("batch_norm", _batch_norm_train, _bn_case(spatial=True), "train (N, C, H, W)"),
    GradCase("batch_norm", _batch_norm_test, _bn_case(spatial=True), "test mode"),
    GradCase("embed_id", _embed_id, _embed_case()),
    GradCase(
        "clip",
        clip,
        shapes().flatmap(lambda s: drawn(_away_from_bounds(s), x_min=st.just(-1.0), x_max=st.just(1.0))),
    ),
]
