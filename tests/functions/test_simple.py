"""The book's ``_simple`` compositions against their fused counterparts (values and first
gradients), their errors, the deprecated ``batch_nrom`` and DeZero's ``functions_conv`` module.
Their derivatives of order 1 and 2 are checked by central differences with every registry row
(``cases_*.py``, ``test_gradients.py``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.functions.cases_recurrent import flat, lstm_case
from tests.functions.registry import Drawn, GradCase, all_cases
from typed_dezero import DezeroTypeError, DezeroValueError, ShapeError, Variable

SIMPLE = [c for c in all_cases() if c.name.endswith("_simple") and c.fn is getattr(F, c.name)]


def test_every_simple_function_is_compared() -> None:
    simple = {name for name in F.__all__ if name.endswith("_simple")}
    # lstm_step_simple takes tuples and returns two outputs: compared below, on its own.
    assert simple == {c.name for c in SIMPLE} | {"lstm_step_simple"}
    assert simple == {
        "conv2d_simple",
        "linear_simple",
        "lstm_step_simple",
        "mean_squared_error_simple",
        "pooling_simple",
        "sigmoid_simple",
        "softmax_cross_entropy_simple",
        "softmax_simple",
    }


@pytest.mark.parametrize("case", SIMPLE, ids=lambda c: c.id)
@given(data=st.data())
def test_simple_matches_the_fused_function(case: GradCase, data: st.DataObject) -> None:
    fused: Callable[..., Variable] = getattr(F, case.name.removesuffix("_simple"))
    d = data.draw(case.inputs)
    results: list[tuple[np.ndarray, list[np.ndarray]]] = []
    for fn in (case.fn, fused):
        xs = [Variable(a.copy()) for a in d.arrays]
        y = fn(*xs, **d.kwargs)
        assert isinstance(y, Variable)
        (y * 1.5).sum().backward()
        results.append((y.data, [x.grad.data if x.grad is not None else np.zeros(0) for x in xs]))
    (y_simple, g_simple), (y_fused, g_fused) = results
    assert y_simple.shape == y_fused.shape
    np.testing.assert_allclose(y_simple, y_fused, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_simple, g_fused, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@given(d=lstm_case())
def test_lstm_step_simple_matches_the_fused_step(d: Drawn) -> None:
    results: list[tuple[list[np.ndarray], list[np.ndarray | None]]] = []
    for step in (F.lstm_step_simple, F.lstm_step):
        xs = [Variable(a.copy()) for a in d.arrays]
        h, c = flat(step)(*xs, **d.kwargs)
        (F.sum(h * 1.5) + F.sum(c * c)).backward()
        results.append(([h.data, c.data], [None if x.grad is None else x.grad.data for x in xs]))
    (y_simple, g_simple), (y_fused, g_fused) = results
    for a, b in zip(y_simple, y_fused, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for ga, gb in zip(g_simple, g_fused, strict=True):
        assert ga is not None
        assert gb is not None
        np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-12)


def test_lstm_step_simple_is_a_composition_and_the_fused_step_one_node() -> None:
    rng = np.random.default_rng(0)
    x, h, c = (Variable(rng.standard_normal((2, 3))) for _ in range(3))
    w0, w1, w2, w3 = (rng.standard_normal((3, 3)) for _ in range(4))
    b0, b1, b2, b3 = (rng.standard_normal(3) for _ in range(4))
    W, b = (w0, w1, w2, w3), (b0, b1, b2, b3)
    h_s, _ = F.lstm_step_simple(x, h, c, W, b, W)
    assert type(h_s.creator).__module__ == "typed_dezero.functions.arithmetic"
    h_f, c_f = F.lstm_step(x, h, c, W, b, W)
    assert h_f.creator is c_f.creator
    assert h_f.creator is not None
    assert {id(v) for v in h_f.creator.inputs} >= {id(x), id(h), id(c)}


def test_simple_functions_are_compositions() -> None:
    """No Function of their own: the graph is made of the primitives (so any order works)."""
    x = Variable(np.array([[0.5, -1.0, 2.0]]))
    arithmetic = "typed_dezero.functions.arithmetic"
    assert type(F.sigmoid_simple(x).creator).__module__ == arithmetic
    assert type(F.softmax_simple(x).creator).__module__ == arithmetic
    assert type(F.linear_simple(x, np.ones((3, 2)), np.ones(2)).creator).__module__ == arithmetic
    assert type(F.linear_simple(x, np.ones((3, 2))).creator).__name__ == "MatMul"
    # the third derivative of sigmoid at 0 is -1/8
    z = Variable(np.array(0.0))
    y = F.sigmoid_simple(z)
    for _ in range(3):
        y.backward(create_graph=True)
        assert z.grad is not None
        y, z.grad = z.grad, None
    np.testing.assert_allclose(y.data, -0.125)


def test_pooling_simple_ignores_the_zero_padding() -> None:
    x = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # every pixel below the zero padding
    expected = F.pooling(x, 2, stride=2, pad=1)
    np.testing.assert_allclose(F.pooling_simple(x, 2, stride=2, pad=1).data, expected.data, atol=1e-12)
    assert float(F.pooling_simple(x, 2, stride=2, pad=1).data.max()) < 0.0


# Typed Any: the checkers would refuse these calls, which is what they test at run time.
INTS: Any = np.zeros(3, dtype=np.int64)
SINGLES: Any = np.zeros((2, 3), dtype=np.float32)


def _x() -> np.ndarray:
    return np.zeros((2, 3))


ERRORS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("sigmoid int", lambda: F.sigmoid_simple(INTS), TypeError, "sigmoid_simple: x must"),
    ("softmax axis", lambda: F.softmax_simple(_x(), axis=2), DezeroValueError, "softmax_simple: axis 2"),
    ("softmax empty", lambda: F.softmax_simple(np.zeros((2, 0))), ShapeError, "softmax_simple: axis 1"),
    (
        "mse shapes",
        lambda: F.mean_squared_error_simple(np.zeros((3, 1)), np.zeros(3)),
        ShapeError,
        r"mean_squared_error_simple: x0 and x1 must have the same shape.*x0.shape=\(3, 1\), x1.shape=\(3,\)",
    ),
    (
        "mse 0-d",
        lambda: F.mean_squared_error_simple(np.zeros(()), np.zeros(())),
        ShapeError,
        "mean_squared_error_simple: x0 - x1 needs a batch axis",
    ),
    (
        "linear shapes",
        lambda: F.linear_simple(_x(), np.zeros((4, 2))),
        ShapeError,
        r"linear_simple: x.shape\[-1\] must equal W.shape\[0\].*x.shape=\(2, 3\), W.shape=\(4, 2\)",
    ),
    (
        "linear bias",
        lambda: F.linear_simple(_x(), np.zeros((3, 2)), np.zeros(3)),
        ShapeError,
        r"linear_simple: b must have shape \(W.shape\[1\],\); got b.shape=\(3,\)",
    ),
    ("linear W", lambda: F.linear_simple(_x(), [[1.0]]), TypeError, "linear_simple: W must"),  # type: ignore[arg-type]
    ("linear b", lambda: F.linear_simple(_x(), np.zeros((3, 2)), 1.0), TypeError, "linear_simple: b must"),  # type: ignore[arg-type]
    (
        "sce labels dtype",
        lambda: F.softmax_cross_entropy_simple(_x(), np.zeros(2)),  # type: ignore[arg-type]
        TypeError,
        "softmax_cross_entropy_simple: t must be an integer ndarray",
    ),
    (
        "sce labels range",
        lambda: F.softmax_cross_entropy_simple(_x(), np.array([0, 3])),
        DezeroValueError,
        r"softmax_cross_entropy_simple: labels must lie in \[0, C\) = \[0, 3\)",
    ),
    (
        "sce x",
        lambda: F.softmax_cross_entropy_simple(SINGLES, np.array([0, 1])),
        TypeError,
        "softmax_cross_entropy_simple: x must",
    ),
    (
        "conv 3-D",
        lambda: F.conv2d_simple(np.zeros((1, 3, 3)), np.zeros((1, 1, 2, 2))),
        ShapeError,
        r"conv2d_simple: x must be 4-D \(N, C, H, W\); got x.shape=\(1, 3, 3\)",
    ),
    (
        "conv bias",
        lambda: F.conv2d_simple(np.zeros((1, 1, 3, 3)), np.zeros((2, 1, 2, 2)), np.zeros(3)),
        ShapeError,
        r"conv2d_simple: b must have shape \(OC,\) = \(2,\); got b.shape=\(3,\)",
    ),
    (
        "conv stride",
        lambda: F.conv2d_simple(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), stride=0),
        DezeroValueError,
        "conv2d_simple: stride must be >= 1",
    ),
    (
        "pool pad",
        lambda: F.pooling_simple(np.zeros((1, 1, 3, 3)), 2, pad=2),
        DezeroValueError,
        "pooling_simple: pad must be smaller than kernel_size",
    ),
    (
        "pool 3-D",
        lambda: F.pooling_simple(np.zeros((1, 3, 3)), 2),
        ShapeError,
        r"pooling_simple: x must be 4-D \(N, C, H, W\)",
    ),
    (
        "pool empty",
        lambda: F.pooling_simple(np.zeros((0, 1, 3, 3)), 2),
        ShapeError,
        r"pooling_simple: x is empty \(x.shape=\(0, 1, 3, 3\)\); use pooling",
    ),
]


@pytest.mark.parametrize(("label", "call", "error", "match"), ERRORS, ids=[e[0] for e in ERRORS])
def test_simple_functions_raise_like_their_counterparts(
    label: str, call: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name", ["mean_squared_error_simple", "conv2d_simple", "pooling_simple"])
def test_hand_checks_name_the_function_with_runtime_checks_off(name: str) -> None:
    raw: Callable[..., Any] = inspect.unwrap(getattr(F, name))  # as with runtime checks off
    with pytest.raises(DezeroTypeError, match=f"^{name}: x0? must be a Variable or a float64 ndarray"):
        raw([1.0], np.zeros((1, 1, 1, 1)))


def test_batch_nrom_is_a_deprecated_alias_of_batch_norm() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    stats = [(np.zeros(3), np.ones(3)) for _ in range(2)]
    expected = F.batch_norm(x, gamma, beta, *stats[0], momentum=0.5)
    with pytest.warns(DeprecationWarning, match="batch_nrom is DeZero's misspelling.*use batch_norm") as rec:
        y = F.batch_nrom(x, gamma, beta, *stats[1], momentum=0.5)
    assert rec[0].filename == __file__  # the warning points at the caller
    np.testing.assert_array_equal(y.data, expected.data)
    np.testing.assert_array_equal(stats[0][0], stats[1][0])  # the running statistics alike
    np.testing.assert_array_equal(stats[0][1], stats[1][1])


def test_functions_conv_is_dezeros_module_name() -> None:
    import typed_dezero.functions_conv as by_import
    from typed_dezero import functions_conv

    assert functions_conv is by_import
    names = {"conv2d", "conv2d_simple", "deconv2d", "pooling", "pooling_simple", "average_pooling"}
    assert set(functions_conv.__all__) == names | {"im2col", "col2im"}
    for name in functions_conv.__all__:
        assert getattr(functions_conv, name) is getattr(F, name)
