"""Losses and accuracy: values against plain NumPy formulas, the broadcasting rule of
mean_squared_error, stability at large magnitudes, any integer label dtype, and every error path."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.functions.cases_loss import INT_DTYPES
from tests.strategies import Shape, arrays, shapes
from typed_dezero import Arr, DezeroTypeError, DezeroValueError, ShapeError, Variable
from typed_dezero._typing import IntArr
from typed_dezero.functions.activation import sigmoid
from typed_dezero.functions.loss import (
    accuracy,
    binary_cross_entropy,
    mean_squared_error,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)

Draw = st.DrawFn


def _g(x: Variable) -> Arr:
    assert x.grad is not None
    return x.grad.data


def _log_softmax_ref(x: Arr) -> Arr:
    y: Arr = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    return y


def _bce_ref(p: Arr, t: Arr) -> float:
    n = len(p)
    return float(-sum(t[i] * np.log(p[i]) + (1 - t[i]) * np.log(1 - p[i]) for i in np.ndindex(p.shape)) / n)


@st.composite
def _scores_and_labels(draw: Draw) -> tuple[Arr, IntArr]:
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(INT_DTYPES))
    t = draw(hnp.arrays(dtype, (n,), elements=st.integers(0, c - 1)))
    return draw(arrays((n, c), -20.0, 20.0)), t


@st.composite
def _logits_and_targets(draw: Draw, lo: float, hi: float) -> tuple[Arr, Any]:
    shape: Shape = draw(shapes(min_dims=1, max_dims=3))
    x = draw(arrays(shape, lo, hi))
    if draw(st.booleans()):
        return x, draw(hnp.arrays(draw(st.sampled_from(INT_DTYPES)), shape, elements=st.integers(0, 1)))
    return x, draw(arrays(shape, 0.0, 1.0))


# -- mean_squared_error ---------------------------------------------------------------------------


@given(pair=shapes(min_dims=1).flatmap(lambda s: st.tuples(arrays(s), arrays(s))))
def test_mse_value_and_gradients_match_numpy(pair: tuple[Arr, Arr]) -> None:
    a, b = pair
    x0, x1 = Variable(a.copy()), Variable(b.copy())
    y = mean_squared_error(x0, x1)
    n = a.shape[0]
    assert y.shape == ()
    np.testing.assert_allclose(y.data, np.sum((a - b) ** 2) / n, rtol=1e-12)
    y.backward()
    np.testing.assert_allclose(_g(x0), 2.0 * (a - b) / n, rtol=1e-12)
    np.testing.assert_allclose(_g(x1), -2.0 * (a - b) / n, rtol=1e-12)


@pytest.mark.parametrize(
    ("s0", "s1"),
    [((4, 3), (3,)), ((3,), (4, 3)), ((4, 3), (1, 3)), ((4, 3), ()), ((2, 1, 3), (2, 4, 3)), ((4, 1), (1,))],
)
def test_mse_broadcasts_one_input_to_the_other(s0: Shape, s1: Shape) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=s0), rng.normal(size=s1)
    full = np.broadcast_shapes(s0, s1)
    assert full in (s0, s1)
    x0, x1 = Variable(a.copy()), Variable(b.copy())
    y = mean_squared_error(x0, x1)
    diff = np.broadcast_to(a, full) - np.broadcast_to(b, full)
    np.testing.assert_allclose(y.data, np.sum(diff**2) / full[0], rtol=1e-12)
    y.backward()
    g = 2.0 * diff / full[0]
    # each gradient is the broadcast gradient summed back over the axes its input was broadcast along
    lead0, lead1 = len(full) - len(s0), len(full) - len(s1)
    ax0 = tuple(i for i in range(len(full)) if i < lead0 or s0[i - lead0] != full[i])
    ax1 = tuple(i for i in range(len(full)) if i < lead1 or s1[i - lead1] != full[i])
    np.testing.assert_allclose(_g(x0), g.sum(axis=ax0).reshape(s0), rtol=1e-12)
    np.testing.assert_allclose(_g(x1), -g.sum(axis=ax1).reshape(s1), rtol=1e-12)


@pytest.mark.parametrize(
    ("s0", "s1"), [((3, 1), (3,)), ((3,), (3, 1)), ((1, 3), (3, 1)), ((2, 3), (3, 2)), ((2, 3), (4,))]
)
def test_mse_rejects_other_shape_mismatches(s0: Shape, s1: Shape) -> None:
    expected = re.escape(
        "mean_squared_error: x0 and x1 must have the same shape, or one must broadcast to the other's "
        f"shape; got x0.shape={s0}, x1.shape={s1}"
    )
    with pytest.raises(ShapeError, match=expected):
        mean_squared_error(np.ones(s0), Variable(np.ones(s1)))


def test_mse_column_against_flat_is_an_error_not_an_n_by_n_loss() -> None:
    with pytest.raises(
        ValueError, match=re.escape("(broadcasting both would give (3, 3): reshape one of them)")
    ):
        mean_squared_error(np.ones((3, 1)), np.ones(3))
    with pytest.raises(ShapeError, match=r"x1.shape=\(4,\)$"):  # no broadcast shape to report
        mean_squared_error(np.ones((2, 3)), np.ones(4))


def test_mse_needs_a_non_empty_batch_axis() -> None:
    with pytest.raises(ShapeError, match=r"mean_squared_error: x0 - x1 needs a batch axis.*0-d"):
        mean_squared_error(np.array(1.0), np.array(2.0))
    with pytest.raises(
        ShapeError, match=r"mean_squared_error: x0 - x1 has an empty batch \(shape \(0, 2\)\)"
    ):
        mean_squared_error(np.ones((0, 2)), np.ones(2))


# -- softmax_cross_entropy ------------------------------------------------------------------------


@given(case=_scores_and_labels())
def test_softmax_cross_entropy_matches_numpy(case: tuple[Arr, IntArr]) -> None:
    a, t = case
    n, c = a.shape
    x = Variable(a.copy())
    y = softmax_cross_entropy(x, t)
    assert y.shape == ()
    logp = _log_softmax_ref(a)
    expected = -np.mean([logp[i, int(t[i])] for i in range(n)])
    np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    y.backward()
    onehot = np.zeros((n, c))
    for i in range(n):
        onehot[i, int(t[i])] = 1.0
    np.testing.assert_allclose(_g(x), (np.exp(logp) - onehot) / n, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_softmax_cross_entropy_is_stable_at_large_scores(dtype: type[np.integer[Any]]) -> None:
    x = Variable(np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]]))
    t = np.array([0, 0], dtype=dtype)
    y = softmax_cross_entropy(x, t)
    # row 0 is right with certainty (loss 0); row 1 puts mass 1/2 on each of two wrong classes
    np.testing.assert_allclose(y.data, (0.0 + 1e4 + np.log(2.0)) / 2, rtol=1e-15)
    y.backward()
    np.testing.assert_allclose(_g(x), np.array([[0.0, 0.0, 0.0], [-1.0, 0.5, 0.5]]) / 2, atol=1e-15)


def test_softmax_cross_entropy_is_twice_differentiable() -> None:
    a = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    t = np.array([2, 0])
    x = Variable(a.copy())
    softmax_cross_entropy(x, t).backward(create_graph=True)
    gx = x.grad
    assert gx is not None
    x.cleargrad()
    (gx * gx).sum().backward()
    # d/dx sum(g^2) with g = (p - onehot)/N: 2/N^2 * J^T (p - onehot), J the softmax Jacobian per row
    p = np.exp(_log_softmax_ref(a))
    r = p - np.eye(3)[t]
    expected = np.stack([(np.diag(pi) - np.outer(pi, pi)) @ ri for pi, ri in zip(p, r, strict=True)]) * 2 / 4
    np.testing.assert_allclose(_g(x), expected, rtol=1e-10, atol=1e-15)


# -- label validation, shared by softmax_cross_entropy and accuracy --------------------------------

LabelFn = Callable[[Variable | Arr, IntArr], Variable]
LABEL_FNS: list[tuple[str, LabelFn]] = [
    ("softmax_cross_entropy", softmax_cross_entropy),
    ("accuracy", accuracy),
]


@pytest.mark.parametrize(("name", "fn"), LABEL_FNS, ids=[n for n, _ in LABEL_FNS])
def test_labels_must_be_integers(name: str, fn: LabelFn) -> None:
    x = np.zeros((2, 3))
    floats: Any = np.array([0.0, 1.0])
    bools: Any = np.array([True, False])
    wrong: tuple[Any, ...] = (floats, bools, [0, 1])
    for bad in wrong:
        # the runtime checker's message where the function is checked, else the hand-written guard's
        with pytest.raises(DezeroTypeError, match=rf"{name}: t must be (NDArray|an integer ndarray)"):
            fn(x, bad)
        # the hand-written guard behind the runtime checker (it stays on when checking is off)
        with pytest.raises(DezeroTypeError, match=rf"{name}: t must be an integer ndarray of class labels"):
            inspect.unwrap(fn)(x, bad)


@pytest.mark.parametrize(("name", "fn"), LABEL_FNS, ids=[n for n, _ in LABEL_FNS])
def test_label_and_score_shapes(name: str, fn: LabelFn) -> None:
    t = np.array([0, 1])
    with pytest.raises(
        ShapeError, match=rf"{name}: x must be 2-D scores of shape \(N, C\); got x.shape=\(2,\)"
    ):
        fn(np.zeros(2), t)
    with pytest.raises(ShapeError, match=rf"{name}: x must be 2-D.*got x.shape=\(2, 2, 1\)"):
        fn(np.zeros((2, 2, 1)), t)
    with pytest.raises(ShapeError, match=rf"{name}: x has an empty batch \(shape \(0, 3\)\)"):
        fn(np.zeros((0, 3)), np.array([], dtype=np.int64))
    with pytest.raises(
        ShapeError,
        match=rf"{name}: t must have shape \(N,\) = \(2,\) to match x.shape=\(2, 3\); got t.shape=\(2, 1\)",
    ):
        fn(np.zeros((2, 3)), t.reshape(2, 1))
    with pytest.raises(ShapeError, match=r"got t.shape=\(3,\)"):
        fn(np.zeros((2, 3)), np.array([0, 1, 2]))


@pytest.mark.parametrize(("name", "fn"), LABEL_FNS, ids=[n for n, _ in LABEL_FNS])
def test_labels_out_of_range_are_named(name: str, fn: LabelFn) -> None:
    x = np.zeros((5, 3))
    with pytest.raises(
        DezeroValueError, match=rf"{name}: labels must lie in \[0, C\) = \[0, 3\).*\[-1, 3\]$"
    ):
        fn(x, np.array([0, 3, -1, 3, 2], dtype=np.int8))
    with pytest.raises(DezeroValueError, match=r"label\(s\) \[255\]$"):
        fn(x, np.array([0, 1, 255, 2, 2], dtype=np.uint8))
    many = np.arange(3, 10)
    with pytest.raises(DezeroValueError, match=r"\[3, 4, 5, 6, 7\] and 2 more$"):
        fn(np.zeros((7, 3)), many)
    with pytest.raises(DezeroValueError, match=r"\[0, 0\)"):
        fn(np.zeros((1, 0)), np.array([0]))


# -- accuracy --------------------------------------------------------------------------------------


@given(case=_scores_and_labels())
def test_accuracy_counts_argmax_hits(case: tuple[Arr, IntArr]) -> None:
    a, t = case
    hits = 0
    for i, row in enumerate(a):
        best = max(range(len(row)), key=lambda j: (row[j], -j))  # the first maximal class
        hits += best == int(t[i])
    for y in (accuracy(a, t), accuracy(Variable(a), t)):
        assert y.shape == ()
        assert y.dtype == np.float64
        assert y.creator is None
        assert float(y.data) == hits / len(a)


def test_accuracy_ties_go_to_the_first_class() -> None:
    y = np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 5.0]])
    assert float(accuracy(y, np.array([0, 1, 1])).data) == 2 / 3


# -- sigmoid_cross_entropy and binary_cross_entropy ------------------------------------------------


@given(case=_logits_and_targets(-30.0, 30.0))
def test_sigmoid_cross_entropy_matches_numpy(case: tuple[Arr, Any]) -> None:
    a, t = case
    x = Variable(a.copy())
    y = sigmoid_cross_entropy(x, t)
    assert y.shape == ()
    p = 1.0 / (1.0 + np.exp(-a))
    tf = t.astype(np.float64)
    # log(1 - p) written as log(p) - a, which stays accurate where p rounds to 1
    expected = -np.sum(tf * np.log(p) + (1 - tf) * (np.log(p) - a)) / len(a)
    np.testing.assert_allclose(y.data, expected, rtol=1e-9, atol=1e-12)
    y.backward()
    np.testing.assert_allclose(_g(x), (p - tf) / len(a), rtol=1e-12, atol=1e-15)


@given(case=_logits_and_targets(0.01, 0.99))
def test_binary_cross_entropy_matches_numpy(case: tuple[Arr, Any]) -> None:
    a, t = case
    p = Variable(a.copy())
    y = binary_cross_entropy(p, t)
    tf = t.astype(np.float64)
    np.testing.assert_allclose(y.data, _bce_ref(a, tf), rtol=1e-10)
    y.backward()
    np.testing.assert_allclose(_g(p), (-tf / a + (1 - tf) / (1 - a)) / len(a), rtol=1e-10)


def test_binary_losses_accept_column_x_with_flat_t() -> None:
    a = np.array([[0.3], [-1.5], [2.0]])
    t = np.array([1, 0, 1])
    flat = sigmoid_cross_entropy(a, t).data
    np.testing.assert_array_equal(flat, sigmoid_cross_entropy(a, t.reshape(3, 1)).data)
    p = sigmoid(a).data
    np.testing.assert_array_equal(
        binary_cross_entropy(p, t).data, binary_cross_entropy(p, t.reshape(3, 1)).data
    )
    np.testing.assert_allclose(flat, _bce_ref(p, t.reshape(3, 1).astype(np.float64)), rtol=1e-12)


def test_sigmoid_cross_entropy_is_stable_at_large_logits() -> None:
    x = Variable(np.array([[1e4], [-1e4], [1e4], [-1e4]]))
    t = np.array([1, 0, 0, 1], dtype=np.uint8)
    y = sigmoid_cross_entropy(x, t)
    # the two wrong rows each cost their |logit| (softplus(1e4) = 1e4), the right ones nothing
    np.testing.assert_allclose(y.data, (0 + 0 + 1e4 + 1e4) / 4, rtol=1e-15)
    y.backward()
    np.testing.assert_array_equal(_g(x), np.array([[0.0], [0.0], [1.0], [-1.0]]) / 4)


def test_binary_cross_entropy_clips_probabilities() -> None:
    # sigmoid of logits of magnitude 1e4 rounds to exactly 0 and 1
    x = Variable(np.array([[1e4], [-1e4], [1e4], [-1e4], [0.0]]))
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    y = binary_cross_entropy(sigmoid(x), t)
    lo, hi = 1e-15, 1.0 - 1e-15
    # right rows cost about 1e-15 (DeZero's 0.999 bound gave 1e-3), wrong rows about -log(1e-15)
    expected = -(np.log(hi) + np.log(1.0 - lo) + np.log(1.0 - hi) + np.log(lo) + np.log(0.5)) / 5
    assert -np.log(hi) < 1e-14
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    y.backward()
    # zero gradient where clipping is active; (sigmoid(0) - 1) / 5 through sigmoid at 0
    np.testing.assert_allclose(_g(x), np.array([[0.0], [0.0], [0.0], [0.0], [-0.5 / 5]]), atol=1e-16)
    p = Variable(np.array([0.0, 1.0, 1e-16, 0.5]))
    binary_cross_entropy(p, np.array([1, 0, 1, 1])).backward()
    np.testing.assert_allclose(_g(p), [0.0, 0.0, 0.0, -1 / 0.5 / 4])


BinaryFn = Callable[[Variable | Arr, IntArr | Arr], Variable]
BINARY_FNS: list[tuple[str, BinaryFn]] = [
    ("sigmoid_cross_entropy", sigmoid_cross_entropy),
    ("binary_cross_entropy", binary_cross_entropy),
]
ARG_NAME = {"sigmoid_cross_entropy": "x", "binary_cross_entropy": "p"}


@pytest.mark.parametrize(("name", "fn"), BINARY_FNS, ids=[n for n, _ in BINARY_FNS])
def test_binary_target_types(name: str, fn: BinaryFn) -> None:
    x = np.full((2, 2), 0.5)
    singles: Any = np.zeros((2, 2), dtype=np.float32)
    bools: Any = np.zeros((2, 2), dtype=bool)
    wrong: tuple[Any, ...] = (singles, bools, [[0, 1], [1, 0]])
    for bad in wrong:
        with pytest.raises(DezeroTypeError, match=rf"{name}: t must be .*, got "):
            fn(x, bad)
        with pytest.raises(
            DezeroTypeError, match=rf"{name}: t must be an integer ndarray of 0/1 labels or a float64"
        ):
            inspect.unwrap(fn)(x, bad)


@pytest.mark.parametrize(("name", "fn"), BINARY_FNS, ids=[n for n, _ in BINARY_FNS])
def test_binary_target_shapes(name: str, fn: BinaryFn) -> None:
    x = ARG_NAME[name]
    with pytest.raises(ShapeError, match=rf"{name}: {x} needs a batch axis.*0-d"):
        fn(np.array(0.5), np.array(1))
    with pytest.raises(ShapeError, match=rf"{name}: {x} has an empty batch \(shape \(0,\)\)"):
        fn(np.zeros(0), np.zeros(0))
    cases: list[tuple[Shape, Shape, str]] = [
        ((3, 1), (1, 3), " or (N,) = (3,)"),
        ((3, 2), (3,), ""),
        ((3,), (3, 1), ""),
        ((2, 1), (3,), " or (N,) = (2,)"),
    ]
    for x_shape, t_shape, also in cases:
        expected = (
            f"{name}: t must have {x}'s shape {x_shape}{also}; got t.shape={t_shape}, {x}.shape={x_shape}"
        )
        with pytest.raises(ShapeError, match=re.escape(expected)):
            fn(np.full(x_shape, 0.5), np.ones(t_shape))


@pytest.mark.parametrize(("name", "fn"), BINARY_FNS, ids=[n for n, _ in BINARY_FNS])
def test_binary_target_values(name: str, fn: BinaryFn) -> None:
    x = np.full(4, 0.5)
    with pytest.raises(DezeroValueError, match=rf"{name}: every target must be 0 or 1; got \[-1, 2\]$"):
        fn(x, np.array([0, 2, -1, 1], dtype=np.int16))
    with pytest.raises(DezeroValueError, match=r"every target must be in \[0, 1\]; got \[-0.5, 1.5, nan\]$"):
        fn(x, np.array([1.5, np.nan, -0.5, 1.0]))
    fn(x, np.array([0.0, 1.0, 0.25, 1.0]))  # the bounds are allowed


def test_binary_cross_entropy_rejects_values_outside_0_1() -> None:
    t = np.ones(4)
    with pytest.raises(
        DezeroValueError, match=r"binary_cross_entropy: p must hold probabilities in \[0, 1\]; got "
    ):
        binary_cross_entropy(np.array([0.5, 1.5, -0.1, 0.2]), t)
    with pytest.raises(DezeroValueError, match=r"\[-0.1, 1.5\]$"):
        binary_cross_entropy(np.array([0.5, 1.5, -0.1, 0.2]), t)
    with pytest.raises(DezeroValueError, match=r"got \[nan\]$"):
        binary_cross_entropy(np.array([0.5, np.nan, 0.0, 1.0]), t)


def test_losses_are_finite_when_only_the_plain_sum_of_terms_overflows() -> None:
    # Every term is finite and so is their mean over the batch; their plain sum is not.
    x = Variable(np.array([[1.5e308], [1.7e308], [-1.6e308]]))
    y = sigmoid_cross_entropy(x, np.array([0, 0, 1]))  # each row costs |logit|
    np.testing.assert_allclose(y.data, 1.5e308 / 3 + 1.7e308 / 3 + 1.6e308 / 3, rtol=1e-15)
    y.backward()
    np.testing.assert_allclose(_g(x), np.array([[1.0], [1.0], [-1.0]]) / 3, rtol=1e-15)

    d = np.array([[1.2e154], [1.3e154]])
    mse = mean_squared_error(d, np.zeros((2, 1)))
    np.testing.assert_allclose(mse.data, (1.2e154**2 / 2) + (1.3e154**2 / 2), rtol=1e-15)

    scores = np.array([[0.0, -9e307], [0.0, -8e307], [0.0, -7e307]])
    ce = softmax_cross_entropy(scores, np.array([1, 1, 1]))
    np.testing.assert_allclose(ce.data, 9e307 / 3 + 8e307 / 3 + 7e307 / 3, rtol=1e-15)


def test_normal_range_losses_are_the_plain_sum_divided_by_n() -> None:
    x = np.array([[0.3], [-1.2], [2.5]])
    terms = np.maximum(x, 0.0) - x * 1.0 + np.log1p(np.exp(-np.abs(x)))
    assert sigmoid_cross_entropy(x, np.ones((3, 1), dtype=np.int64)).data == np.sum(terms) / 3


@pytest.mark.parametrize("create_graph", [False, True])
def test_labels_changed_after_forward_do_not_change_the_gradient(create_graph: bool) -> None:
    scores = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]])
    t = np.array([0, 2])
    reference = Variable(scores.copy())
    softmax_cross_entropy(reference, t.copy()).backward()
    x = Variable(scores.copy())
    y = softmax_cross_entropy(x, t)
    t[...] = [1, 1]
    y.backward(create_graph=create_graph)
    np.testing.assert_array_equal(_g(x), _g(reference))

    for loss, values in (
        (sigmoid_cross_entropy, np.array([[0.5], [-2.0]])),
        (binary_cross_entropy, np.array([[0.3], [0.8]])),
    ):
        for target in (np.array([1, 0]), np.array([1.0, 0.0])):
            reference = Variable(values.copy())
            loss(reference, target.copy()).backward()
            x = Variable(values.copy())
            y = loss(x, target)
            target[...] = 1 - target
            y.backward(create_graph=create_graph)
            np.testing.assert_array_equal(_g(x), _g(reference))
