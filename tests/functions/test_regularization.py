"""dropout, batch_norm, embed_id and clip: values against plain NumPy formulas, modes, errors."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.strategies import arrays, shapes
from typed_dezero import (
    Arr,
    Config,
    DezeroTypeError,
    DezeroValueError,
    ShapeError,
    Variable,
    no_grad,
    test_mode,
)
from typed_dezero._typing import IntArr
from typed_dezero.functions.regularization import batch_norm, clip, dropout, embed_id


def _g(x: Variable) -> Arr:
    assert x.grad is not None
    return x.grad.data


def _unchecked(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` without the runtime type checker, as with TYPED_DEZERO_TYPECHECK=0: the hand-written
    checks behind it must still reject wrong inputs."""
    raw: Callable[..., Any] = inspect.unwrap(fn)
    return raw


# -- dropout ---------------------------------------------------------------------------------------


@given(x=shapes().flatmap(lambda s: arrays(s)), ratio=st.sampled_from([0.0, 0.2, 0.5, 0.75]))
def test_dropout_seeded_mask_matches_generator(x: Arr, ratio: float) -> None:
    y = dropout(x, ratio, np.random.default_rng(7))
    keep = np.random.default_rng(7).random(x.shape) >= ratio
    np.testing.assert_allclose(y.data, np.where(keep, x / (1.0 - ratio), 0.0), rtol=1e-15)
    again = dropout(x, ratio, np.random.default_rng(7))
    np.testing.assert_array_equal(again.data, y.data)


def test_dropout_preserves_the_expectation() -> None:
    x = np.full(200_000, 3.0)
    y = dropout(x, 0.3, np.random.default_rng(1)).data
    np.testing.assert_allclose(np.unique(y), [0.0, 3.0 / 0.7], rtol=1e-15)
    assert abs(np.count_nonzero(y == 0.0) / y.size - 0.3) < 0.005
    assert abs(float(np.mean(y)) - 3.0) < 0.02


def test_dropout_ratio_zero_keeps_everything() -> None:
    x = np.linspace(-1.0, 1.0, 50)
    np.testing.assert_array_equal(dropout(x, 0.0).data, x)


def test_dropout_backward_uses_the_forward_mask() -> None:
    x = Variable(np.linspace(0.5, 2.0, 40))
    y = dropout(x, 0.4, np.random.default_rng(3))
    y.backward()
    kept = y.data != 0.0
    assert 0 < kept.sum() < 40
    np.testing.assert_allclose(_g(x), np.where(kept, 1.0 / 0.6, 0.0))


def test_dropout_default_generator_leaves_numpy_global_state_alone() -> None:
    saved = np.random.get_state()
    try:
        np.random.seed(123)
        first = dropout(np.ones(64)).data
        second = dropout(np.ones(64)).data
        drawn_after = np.random.random()
        np.random.seed(123)
        assert drawn_after == np.random.random()  # the global stream did not move
    finally:
        np.random.set_state(saved)
    assert not np.array_equal(first, second)  # fresh masks on each call (equal with chance 2**-64)


def test_dropout_is_identity_in_test_mode() -> None:
    x = Variable(np.arange(6.0).reshape(2, 3))
    with test_mode():
        assert not Config.train
        y = dropout(x, 0.9)
        a = dropout(x.data, 0.9)
    assert y is x
    assert y.creator is None
    np.testing.assert_array_equal(a.data, x.data)


def test_dropout_records_no_graph_under_no_grad() -> None:
    x = Variable(np.ones(5))
    with no_grad():
        y = dropout(x, 0.5, np.random.default_rng(0))
    assert y.creator is None


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_dropout_rejects_ratio_outside_unit_interval(ratio: float) -> None:
    with pytest.raises(DezeroValueError, match=r"dropout: dropout_ratio must be in \[0, 1\), got"):
        dropout(np.ones(3), ratio)
    with test_mode(), pytest.raises(DezeroValueError, match="dropout_ratio"):
        dropout(np.ones(3), ratio)


# -- batch_norm ------------------------------------------------------------------------------------


def _stats_axes(x: Arr) -> tuple[int, ...]:
    return (0, 2, 3) if x.ndim == 4 else (0,)


def _bcast(p: Arr, x: Arr) -> Arr:
    return p.reshape((1, -1, 1, 1)) if x.ndim == 4 else p


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3, 2), (2, 1, 1, 1)])
def test_batch_norm_train_normalises_each_channel(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    x = rng.normal(2.0, 3.0, size=shape)
    c = shape[1]
    axes = _stats_axes(x)
    y = batch_norm(x, np.ones(c), np.zeros(c), np.zeros(c), np.ones(c), eps=1e-12).data
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1.0, rtol=1e-9)
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    out = batch_norm(x, gamma, beta, np.zeros(c), np.ones(c)).data
    mu = x.mean(axis=axes, keepdims=True)
    sd = np.sqrt(x.var(axis=axes, keepdims=True) + 2e-5)
    np.testing.assert_allclose(out, _bcast(gamma, x) * (x - mu) / sd + _bcast(beta, x), rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.9, 0.5, 1.0])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 2, 3)])
def test_batch_norm_updates_running_statistics_in_place(
    momentum: float, shape: tuple[int, ...], rng: np.random.Generator
) -> None:
    x = rng.normal(size=shape)
    c = shape[1]
    mean, var = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    mean0, var0 = mean.copy(), var.copy()
    batch_norm(x, np.ones(c), np.zeros(c), mean, var, momentum)
    axes = _stats_axes(x)
    expected_mean = momentum * mean0 + (1 - momentum) * x.mean(axis=axes)
    expected_var = momentum * var0 + (1 - momentum) * x.var(axis=axes, ddof=1)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(var, expected_var, rtol=1e-12)


def test_batch_norm_default_momentum_is_point_nine(rng: np.random.Generator) -> None:
    x = rng.normal(size=(4, 2))
    mean, var = np.zeros(2), np.ones(2)
    batch_norm(x, np.ones(2), np.zeros(2), mean, var)
    np.testing.assert_allclose(mean, 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(axis=0, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("shape", [(3, 2), (2, 2, 2, 3), (1, 2)])
def test_batch_norm_test_mode_uses_running_statistics(
    shape: tuple[int, ...], rng: np.random.Generator
) -> None:
    x = rng.normal(size=shape)
    c = shape[1]
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    mean, var = rng.normal(size=c), rng.uniform(0.5, 2.0, size=c)
    mean0, var0 = mean.copy(), var.copy()
    with test_mode():
        y = batch_norm(x, gamma, beta, mean, var, 0.5, 1e-3).data
    expected = _bcast(gamma, x) * (x - _bcast(mean0, x)) / np.sqrt(_bcast(var0, x) + 1e-3) + _bcast(beta, x)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_array_equal(mean, mean0)
    np.testing.assert_array_equal(var, var0)


@pytest.mark.parametrize("create_graph", [False, True])  # the array fast path and the graph path
def test_batch_norm_test_mode_gradients(create_graph: bool, rng: np.random.Generator) -> None:
    x = Variable(rng.normal(size=(3, 2, 2, 2)))
    gamma, beta = Variable(rng.normal(size=2)), Variable(rng.normal(size=2))
    mean, var = rng.normal(size=2), rng.uniform(0.5, 2.0, size=2)
    with test_mode():
        y = batch_norm(x, gamma, beta, mean, var)
    inv_std = 1.0 / np.sqrt(var + 2e-5)
    x_hat = (x.data - mean.reshape(1, 2, 1, 1)) * inv_std.reshape(1, 2, 1, 1)
    mean.fill(5.0)  # a later training step may move the running statistics: the node keeps its own
    var.fill(9.0)
    gy = rng.normal(size=x.shape)
    y.grad = Variable(gy)
    y.backward(create_graph=create_graph)
    np.testing.assert_allclose(_g(x), gy * (gamma.data * inv_std).reshape(1, 2, 1, 1), rtol=1e-12)
    np.testing.assert_allclose(_g(gamma), (gy * x_hat).sum(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(_g(beta), gy.sum(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
def test_batch_norm_train_gradients_match_the_jacobian(create_graph: bool, rng: np.random.Generator) -> None:
    x = Variable(rng.normal(size=(5, 3)))
    gamma, beta = Variable(rng.normal(size=3)), Variable(rng.normal(size=3))
    y = batch_norm(x, gamma, beta, np.zeros(3), np.ones(3), eps=1e-3)
    gy = rng.normal(size=x.shape)
    y.grad = Variable(gy)
    y.backward(create_graph=create_graph)
    # Naive per-channel reference: d/dx of gamma * (x - mean) / sqrt(var + eps), via the Jacobian.
    for c in range(3):
        xc = x.data[:, c]
        m = xc.size
        sd = np.sqrt(xc.var() + 1e-3)
        x_hat = (xc - xc.mean()) / sd
        jac = np.array(
            [[((i == j) - 1.0 / m - x_hat[i] * x_hat[j] / m) / sd for i in range(m)] for j in range(m)]
        )
        np.testing.assert_allclose(_g(x)[:, c], gamma.data[c] * (jac @ gy[:, c]), rtol=1e-10)
        np.testing.assert_allclose(_g(gamma)[c], np.dot(gy[:, c], x_hat), rtol=1e-10)
        np.testing.assert_allclose(_g(beta)[c], gy[:, c].sum(), rtol=1e-12)


def test_batch_norm_accepts_variables_and_keeps_shape(rng: np.random.Generator) -> None:
    x = Variable(rng.normal(size=(2, 3, 2, 2)))
    y = batch_norm(x, Variable(np.ones(3)), Variable(np.zeros(3)), np.zeros(3), np.ones(3))
    assert y.shape == x.shape
    assert y.dtype == np.float64


def test_batch_norm_empty_channels_in_test_mode() -> None:
    x = np.zeros((3, 0))
    with test_mode():
        assert batch_norm(x, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)).shape == (3, 0)


def _bn_args(c: int = 3) -> tuple[Arr, Arr, Arr, Arr]:
    return np.ones(c), np.zeros(c), np.zeros(c), np.ones(c)


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), (2, 3, 1, 1, 1), ()])
def test_batch_norm_rejects_x_of_wrong_rank(shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError, match=r"batch_norm: x must be \(N, C\) or \(N, C, H, W\); got x.shape="):
        batch_norm(np.ones(shape), *_bn_args())


def test_batch_norm_rejects_parameters_of_wrong_shape() -> None:
    g, b, m, v = _bn_args()
    x = np.ones((4, 3))
    with pytest.raises(ShapeError, match=r"gamma must have shape \(C,\) = \(3,\).*gamma.shape=\(4,\)"):
        batch_norm(x, np.ones(4), b, m, v)
    with pytest.raises(ShapeError, match=r"beta must have shape \(C,\) = \(3,\).*beta.shape=\(3, 1\)"):
        batch_norm(x, g, np.zeros((3, 1)), m, v)
    with pytest.raises(ShapeError, match=r"mean must have shape \(C,\) = \(3,\); got mean.shape=\(2,\)"):
        batch_norm(x, g, b, np.zeros(2), v)
    with pytest.raises(ShapeError, match=r"var must have shape \(C,\) = \(3,\); got var.shape=\(\)"):
        batch_norm(x, g, b, m, np.array(1.0))


def test_batch_norm_rejects_running_statistics_of_wrong_type() -> None:
    g, b, m, v = _bn_args()
    x = np.ones((4, 3))
    singles = m.astype(np.float32)
    with pytest.raises(TypeError):
        batch_norm(x, g, b, singles, v)  # type: ignore[arg-type]
    raw = _unchecked(batch_norm)
    with pytest.raises(DezeroTypeError, match=r"batch_norm: mean must be a float64 numpy\.ndarray of shape"):
        raw(x, g, b, singles, v)
    with pytest.raises(DezeroTypeError, match=r"batch_norm: var must be a float64 .* got list"):
        raw(x, g, b, m, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("momentum", [-0.1, 1.01, float("nan")])
def test_batch_norm_rejects_momentum_outside_unit_interval(momentum: float) -> None:
    with pytest.raises(DezeroValueError, match=r"batch_norm: momentum must be in \[0, 1\], got"):
        batch_norm(np.ones((4, 3)), *_bn_args(), momentum=momentum)


@pytest.mark.parametrize("eps", [0.0, -1e-5, float("inf"), float("nan")])
def test_batch_norm_rejects_bad_eps(eps: float) -> None:
    with pytest.raises(DezeroValueError, match="batch_norm: eps must be a finite number > 0, got"):
        batch_norm(np.ones((4, 3)), *_bn_args(), eps=eps)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1), (0, 3), (2, 3, 0, 2)])
def test_batch_norm_training_needs_two_values_per_channel(shape: tuple[int, ...]) -> None:
    with pytest.raises(ShapeError, match=r"training needs at least 2 values per channel .* got x.shape="):
        batch_norm(np.ones(shape), *_bn_args())
    if 0 not in shape:
        with test_mode():  # inference with a single example is fine
            assert batch_norm(np.ones(shape), *_bn_args()).shape == shape


def test_batch_norm_training_rejects_read_only_or_shared_statistics() -> None:
    g, b, m, v = _bn_args()
    x = np.arange(12.0).reshape(4, 3)
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(DezeroValueError, match="mean and var must be writable arrays"):
        batch_norm(x, g, b, frozen, v)
    with pytest.raises(DezeroValueError, match="mean and var must be writable arrays"):
        batch_norm(x, g, b, m, frozen)
    with pytest.raises(DezeroValueError, match="mean and var must be separate arrays"):
        batch_norm(x, g, b, m, m)
    both = np.zeros(6)
    with pytest.raises(DezeroValueError, match="mean and var must be separate arrays"):
        batch_norm(x, g, b, both[:3], both[2:5])
    with test_mode():  # inference only reads them
        batch_norm(x, g, b, frozen, frozen)


def test_batch_norm_test_mode_rejects_negative_running_variance() -> None:
    g, b, m, _ = _bn_args()
    with test_mode(), pytest.raises(DezeroValueError, match="running variance must be >= 0 in test mode"):
        batch_norm(np.ones((2, 3)), g, b, m, np.array([1.0, -0.5, 1.0]))


# -- embed_id --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64])
def test_embed_id_looks_up_rows_for_any_integer_dtype(dtype: type[np.integer[Any]]) -> None:
    W = np.arange(12.0).reshape(4, 3)
    ids = np.array([[3, 0], [1, 1], [2, 0]], dtype=dtype)
    y = embed_id(ids, W)
    assert y.shape == (3, 2, 3)
    for i in range(3):
        for j in range(2):
            np.testing.assert_array_equal(y.data[i, j], W[int(ids[i, j])])


def test_embed_id_with_a_scalar_id() -> None:
    W = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(embed_id(np.array(2), W).data, [4.0, 5.0])


@given(
    ids=hnp.arrays(np.int64, shapes(min_dims=0, max_dims=2), elements=st.integers(0, 3)),
    gy_seed=st.integers(0, 2**16),
)
def test_embed_id_gradient_scatter_adds_repeated_ids(ids: IntArr, gy_seed: int) -> None:
    W = Variable(np.random.default_rng(gy_seed).normal(size=(4, 2)))
    y = embed_id(ids, W)
    gy = np.random.default_rng(gy_seed + 1).normal(size=y.shape)
    y.grad = Variable(gy)
    y.backward()
    expected = np.zeros((4, 2))
    for pos in np.ndindex(ids.shape):
        expected[int(ids[pos])] += gy[pos]
    np.testing.assert_allclose(_g(W), expected, rtol=1e-12, atol=1e-15)


def test_embed_id_repeated_ids_accumulate() -> None:
    W = Variable(np.zeros((3, 2)))
    embed_id(np.array([2, 0, 2, 2]), W).backward()
    np.testing.assert_array_equal(_g(W), [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]])


def test_embed_id_rejects_ids_out_of_range() -> None:
    W = np.ones((4, 2))
    with pytest.raises(
        DezeroValueError, match=r"embed_id: ids must be in \[0, 4\) for W.shape=\(4, 2\); got -1, 4$"
    ):
        embed_id(np.array([[0, -1], [4, 3], [4, -1]]), W)
    many = np.arange(4, 20)
    with pytest.raises(DezeroValueError, match=r"got 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, \.\.\.$"):
        embed_id(many, W)
    with pytest.raises(DezeroValueError, match=r"got 200$"):
        embed_id(np.array([200], dtype=np.uint8), W)


def test_embed_id_rejects_non_integer_ids_and_bad_weights() -> None:
    W = np.ones((4, 2))
    for ids in (np.array([0.0, 1.0]), np.array([True, False])):
        with pytest.raises(TypeError):
            embed_id(ids, W)
        with pytest.raises(
            DezeroTypeError, match=r"embed_id: x must be an integer numpy\.ndarray of ids, got"
        ):
            _unchecked(embed_id)(ids, W)
    with pytest.raises(DezeroTypeError, match=r"got list \(\[0, 1\]\)"):
        _unchecked(embed_id)([0, 1], W)
    with pytest.raises(ShapeError, match=r"embed_id: W must be 2-D \(V, D\); got W.shape=\(4,\)"):
        embed_id(np.array([0]), np.ones(4))


# -- clip ------------------------------------------------------------------------------------------


@given(
    x=shapes().flatmap(lambda s: arrays(s, -3.0, 3.0)),
    lo=st.floats(-2.0, 2.0),
    width=st.floats(0.0, 2.0),
)
def test_clip_matches_numpy(x: Arr, lo: float, width: float) -> None:
    hi = lo + width
    np.testing.assert_array_equal(clip(x, lo, hi).data, np.minimum(np.maximum(x, lo), hi))


def test_clip_gradient_passes_inside_and_at_the_bounds() -> None:
    x = Variable(np.array([-2.0, -1.0, -0.5, 0.0, 1.0, 1.5]))
    y = clip(x, -1.0, 1.0)
    np.testing.assert_array_equal(y.data, [-1.0, -1.0, -0.5, 0.0, 1.0, 1.0])
    y.backward()
    np.testing.assert_array_equal(_g(x), [0.0, 1.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_with_infinite_bounds_and_equal_bounds() -> None:
    x = Variable(np.array([-3.0, 0.0, 3.0]))
    y = clip(x, 0.0, float("inf"))
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 3.0])
    y.backward()
    np.testing.assert_array_equal(_g(x), [0.0, 1.0, 1.0])
    x.cleargrad()
    z = clip(x, 0, 0)
    np.testing.assert_array_equal(z.data, [0.0, 0.0, 0.0])
    z.backward()
    np.testing.assert_array_equal(_g(x), [0.0, 1.0, 0.0])


@pytest.mark.parametrize(("lo", "hi"), [(1.0, 0.0), (float("nan"), 1.0), (0.0, float("nan"))])
def test_clip_rejects_bad_bounds(lo: float, hi: float) -> None:
    with pytest.raises(DezeroValueError, match=r"clip: x_min must be <= x_max \(and not NaN\); got x_min="):
        clip(np.ones(2), lo, hi)


@pytest.mark.parametrize("create_graph", [False, True])
def test_embed_id_ids_changed_after_forward_do_not_change_the_gradient(create_graph: bool) -> None:
    W = Variable(np.arange(6.0).reshape(3, 2))
    ids = np.array([2, 0, 2])
    y = embed_id(ids, W)
    ids[...] = [1, 1, 1]  # the caller reuses its id buffer
    (y * np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward(create_graph=create_graph)
    assert W.grad is not None
    np.testing.assert_array_equal(W.grad.data, [[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])
