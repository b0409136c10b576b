"""Numerical robustness: where the mathematical result is finite, log, exp, sigmoid, tanh, softmax,
log_softmax, the losses and batch_norm return finite values and finite gradients, for extreme logits
(+-1e4, +-1e300), zero variance and tiny or huge scales. These tests run under tests/conftest.py's
loud NumPy settings (overflow, invalid and divide raise), so no intermediate step may overflow
either. Empty batches are refused with a ValueError naming the function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import pytest

import typed_dezero.functions as F
from typed_dezero import Variable, test_mode
from typed_dezero.errors import ShapeError

from .harness import COUNTS

EXTREMES: Final = [1e4, 1e300]


def logits(scale: float) -> Variable:
    """Rows of logits mixing +-scale, 0 and moderate values, so that every row has a clear winner
    by a margin of `scale` and some rows are all extreme."""
    return Variable(
        np.array(
            [
                [scale, -scale, 0.0],
                [-scale, -scale, -scale],
                [scale, scale, -scale],
                [1.0, -scale, 2.0],
            ]
        )
    )


def finite_value_and_gradient(f: Callable[[Variable], Variable], x: Variable) -> Variable:
    y = f(x)
    assert np.isfinite(y.data).all(), y.data
    x.cleargrad()
    F.sum(y).backward()
    assert x.grad is not None
    assert np.isfinite(x.grad.data).all(), x.grad.data
    COUNTS["numerical_cases"] += 1
    return y


LABELS: Final = np.array([0, 1, 2, 1])
BINARY: Final = np.array([[1], [0], [1], [0]])

ACTIVATIONS: Final[dict[str, Callable[[Variable], Variable]]] = {
    "softmax": lambda x: F.softmax(x, axis=1),
    "log_softmax": lambda x: F.log_softmax(x, axis=1),
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "relu": F.relu,
    "softmax_cross_entropy": lambda x: F.softmax_cross_entropy(x, LABELS),
    "sigmoid_cross_entropy": lambda x: F.sigmoid_cross_entropy(x[:, :1], BINARY),
    "binary_cross_entropy of a sigmoid": lambda x: F.binary_cross_entropy(F.sigmoid(x[:, :1]), BINARY),
}


@pytest.mark.parametrize("scale", EXTREMES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_extreme_logits_give_finite_values_and_gradients(name: str, scale: float) -> None:
    y = finite_value_and_gradient(ACTIVATIONS[name], logits(scale))
    if name == "softmax":
        assert np.allclose(y.data.sum(axis=1), 1.0)
    if name == "log_softmax":
        assert (y.data <= 0.0).all()
        assert np.allclose(np.exp(y.data).sum(axis=1), 1.0)


@pytest.mark.parametrize("scale", EXTREMES)
def test_softmax_cross_entropy_of_confident_predictions(scale: float) -> None:
    right = Variable(np.array([[scale, -scale], [-scale, scale]]))
    loss = finite_value_and_gradient(lambda x: F.softmax_cross_entropy(x, np.array([0, 1])), right)
    assert float(loss.data) == 0.0
    wrong = Variable(np.array([[scale, -scale]]))
    loss = finite_value_and_gradient(lambda x: F.softmax_cross_entropy(x, np.array([1])), wrong)
    assert float(loss.data) == pytest.approx(2 * scale)


def test_binary_cross_entropy_of_probabilities_exactly_0_and_1() -> None:
    p = Variable(np.array([[0.0], [1.0], [1.0], [0.0]]))
    loss = finite_value_and_gradient(lambda x: F.binary_cross_entropy(x, BINARY), p)
    assert float(loss.data) > 10.0  # two confident mistakes cost a lot, finitely


def test_log_and_exp_at_the_edges_of_the_float_range() -> None:
    tiny = Variable(np.array([5e-324, 1e-300, 1e300, 1.7e308]))
    y = F.log(tiny)
    assert np.isfinite(y.data).all()
    e = F.exp(Variable(np.array([-1e4, -745.0, 0.0, 709.0])))
    assert np.isfinite(e.data).all()
    finite_value_and_gradient(F.exp, Variable(np.array([-1e4, 700.0])))
    finite_value_and_gradient(F.log, Variable(np.array([1e-300, 1e300])))


@pytest.mark.parametrize("scale", [1e-300, 1e-8, 1.0, 1e150])
@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_batch_norm_at_tiny_and_huge_scales_and_zero_variance(scale: float, train: bool) -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((8, 3, 2, 2)) * scale
    # A constant channel (zero variance); 5 * 2**k, so that its mean is exact at every scale.
    data[:, 1] = 5.0 * 2.0 ** np.round(np.log2(scale))
    mean, var = np.zeros(3), np.zeros(3)  # zero running variance for test mode
    gamma, beta = Variable(np.ones(3)), Variable(np.zeros(3))

    def normalize(x: Variable) -> Variable:
        if train:
            return F.batch_norm(x, gamma, beta, mean, var)
        with test_mode():
            return F.batch_norm(x, gamma, beta, mean, var)

    y = finite_value_and_gradient(normalize, Variable(data))
    assert np.isfinite(mean).all()
    assert np.isfinite(var).all()
    if train:
        assert np.allclose(y.data[:, 1], 0.0)  # the constant channel normalises to beta
        assert gamma.grad is not None
        assert np.isfinite(gamma.grad.data).all()


@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e150])
def test_mean_squared_error_at_tiny_and_huge_scales(scale: float) -> None:
    x0 = Variable(np.array([[1.0, -2.0], [3.0, 0.5]]) * scale)
    x1 = Variable(np.zeros((2, 2)))
    finite_value_and_gradient(lambda x: F.mean_squared_error(x, x1), x0)


EMPTY: Final[list[tuple[str, Callable[[], object]]]] = [
    ("softmax_cross_entropy", lambda: F.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))),
    (
        "sigmoid_cross_entropy",
        lambda: F.sigmoid_cross_entropy(np.zeros((0, 1)), np.zeros((0, 1), dtype=np.int64)),
    ),
    (
        "binary_cross_entropy",
        lambda: F.binary_cross_entropy(np.zeros((0, 1)), np.zeros((0, 1), dtype=np.int64)),
    ),
    ("mean_squared_error", lambda: F.mean_squared_error(np.zeros((0, 2)), np.zeros((0, 2)))),
    ("accuracy", lambda: F.accuracy(np.zeros((0, 3)), np.zeros(0, dtype=np.int64))),
    ("mean", lambda: F.mean(np.zeros((0, 3)), axis=0)),
    ("max", lambda: F.max(np.zeros((0, 3)))),
    ("min", lambda: F.min(np.zeros((0, 3)), axis=0)),
    ("softmax", lambda: F.softmax(np.zeros((2, 0)), axis=1)),
    ("log_softmax", lambda: F.log_softmax(np.zeros((2, 0)), axis=1)),
    ("batch_norm", lambda: F.batch_norm(np.zeros((0, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3))),
]


@pytest.mark.parametrize(("name", "call"), EMPTY, ids=[e[0] for e in EMPTY])
def test_empty_batches_are_refused_naming_the_function(name: str, call: Callable[[], object]) -> None:
    with pytest.raises(ShapeError, match=rf"^{name}: .*(empty|N >= 1|at least 2 values)"):
        call()


def test_functions_without_a_reduction_accept_empty_batches() -> None:
    x = Variable(np.zeros((0, 3)))
    for y in (F.exp(x), F.softmax(x, axis=1), F.sigmoid(x), F.sum(x, axis=0), x * 2.0):
        assert y.data.size == 0 or y.shape == (3,)
        assert np.isfinite(y.data).all()
    with test_mode():  # inference normalises each row on its own: an empty batch is fine
        assert F.batch_norm(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)).shape == (0, 3)
