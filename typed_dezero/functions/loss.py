"""Losses: mean_squared_error, softmax_cross_entropy, sigmoid_cross_entropy, binary_cross_entropy,
the accuracy metric, and the book's teaching compositions mean_squared_error_simple and
softmax_cross_entropy_simple (plain compositions of primitives, no backward of their own).

Every loss averages over the batch: it sums over all elements and divides by N, the length of the
first axis (as DeZero does), and returns a 0-d Variable, finite whenever every element's term and
that mean are (a sum that would overflow is taken over the terms divided by N). The cross entropies
are fused Functions computed from log-sum-exp / softplus forms, so they stay finite for scores of
any finite magnitude; their backwards are built from differentiable functions, so they can be
differentiated twice.
"""

from __future__ import annotations

from typing import Final, final

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, IntArr, Shape, describe, is_f64_array, is_int_array
from typed_dezero.core.function import BinaryFunction, UnaryFunction
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError
from typed_dezero.functions._util import as_f64, check_operand, mean_of_terms, sum_to_array
from typed_dezero.functions.activation import sigmoid, softmax
from typed_dezero.functions.math import log
from typed_dezero.functions.reduction import sum as reduce_sum
from typed_dezero.functions.regularization import clip
from typed_dezero.functions.shape import get_item, sum_to

__all__ = [
    "accuracy",
    "binary_cross_entropy",
    "mean_squared_error",
    "mean_squared_error_simple",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "softmax_cross_entropy_simple",
]

_SHOWN: Final = 5
"""How many offending values an error message lists."""


def _listing(values: npt.NDArray[np.generic]) -> str:
    """The distinct `values`, at most a few of them, for an error message."""
    distinct = np.unique(values)
    shown = ", ".join(str(v) for v in distinct[:_SHOWN].tolist())
    more = f" and {distinct.size - _SHOWN} more" if distinct.size > _SHOWN else ""
    return f"[{shown}]{more}"


def _batch_size(where: str, name: str, shape: Shape) -> int:
    """N, the length of the first (batch) axis of `shape`, which must exist and be non-empty."""
    if not shape:
        msg = f"{where}: {name} needs a batch axis (the mean is over its first axis); got a 0-d input"
        raise ShapeError(msg)
    if shape[0] == 0:
        msg = f"{where}: {name} has an empty batch (shape {shape}); the mean over N needs N >= 1"
        raise ShapeError(msg)
    return shape[0]


def _class_labels(where: str, x: Variable, t: IntArr) -> IntArr:
    """`t` as intp labels, after checking x is (N, C) scores and t holds N labels in [0, C)."""
    labels: object = t  # re-checked at run time: the runtime checker may be switched off
    if not is_int_array(labels):
        msg = f"{where}: t must be an integer ndarray of class labels (any integer dtype), got {describe(t)}"
        raise DezeroTypeError(msg)
    if x.ndim != 2:
        msg = f"{where}: x must be 2-D scores of shape (N, C); got x.shape={x.shape}"
        raise ShapeError(msg)
    n = _batch_size(where, "x", x.shape)
    c = x.shape[1]
    if labels.shape != (n,):
        msg = f"{where}: t must have shape (N,) = ({n},) to match x.shape={x.shape}; got t.shape={t.shape}"
        raise ShapeError(msg)
    bad = (labels < 0) | (labels >= c)
    if bad.any():
        msg = (
            f"{where}: labels must lie in [0, C) = [0, {c}) for x.shape={x.shape}; "
            f"got out-of-range label(s) {_listing(labels[bad])}"
        )
        raise DezeroValueError(msg)
    return labels.astype(np.intp)


def _binary_targets(where: str, name: str, x: Variable, t: IntArr | Arr) -> Arr:
    """`t` as float64 of x's shape, after checking it holds 0/1 labels or probabilities in [0, 1]
    and has x's shape, or shape (N,) when x is (N, 1)."""
    target: object = t  # re-checked at run time: the runtime checker may be switched off
    if is_int_array(target):
        bad = (target != 0) & (target != 1)
        allowed = "0 or 1"
    elif is_f64_array(target):
        bad = ~((target >= 0.0) & (target <= 1.0))  # written so that NaN is caught too
        allowed = "in [0, 1]"
    else:
        msg = (
            f"{where}: t must be an integer ndarray of 0/1 labels or a float64 ndarray of targets in "
            f"[0, 1], got {describe(t)}"
        )
        raise DezeroTypeError(msg)
    n = _batch_size(where, name, x.shape)
    column = x.ndim == 2 and x.shape[1] == 1
    if target.shape != x.shape and not (column and target.shape == (n,)):
        also = f" or (N,) = ({n},)" if column else ""
        msg = (
            f"{where}: t must have {name}'s shape {x.shape}{also}; got t.shape={target.shape}, "
            f"{name}.shape={x.shape}"
        )
        raise ShapeError(msg)
    if bad.any():
        msg = f"{where}: every target must be {allowed}; got {_listing(target[bad])}"
        raise DezeroValueError(msg)
    return target.astype(np.float64).reshape(x.shape)


def _mse_batch(where: str, s0: Shape, s1: Shape) -> int:
    """N of ``x0 - x1``, after checking that one shape broadcasts to the other and N >= 1."""
    try:
        shape = np.broadcast_shapes(s0, s1)
    except ValueError:
        shape = None
    if shape is None or shape not in (s0, s1):
        msg = (
            f"{where}: x0 and x1 must have the same shape, or one must broadcast to the "
            f"other's shape; got x0.shape={s0}, x1.shape={s1}"
        )
        if shape is not None:
            msg += f" (broadcasting both would give {shape}: reshape one of them)"
        raise ShapeError(msg)
    return _batch_size(where, "x0 - x1", shape)


@final
class MeanSquaredError(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        n = _mse_batch("mean_squared_error", x0.shape, x1.shape)
        diff = x0 - x1
        return mean_of_terms(diff * diff, n)

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        diff = x0 - x1
        gx0 = gy * diff * (2.0 / len(diff))
        return sum_to(gx0, x0.shape), sum_to(-gx0, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        diff = x0 - x1
        gx0 = gy * diff * (2.0 / len(diff))
        return sum_to_array(gx0, x0.shape), sum_to_array(-gx0, x1.shape)


@typechecked
def mean_squared_error(x0: Variable | Arr, x1: Variable | Arr) -> Variable:
    """``sum((x0 - x1) ** 2) / N`` with N the length of the first axis of ``x0 - x1`` (DeZero's
    reduction: a mean over the batch, not over all elements). Returns a 0-d Variable.

    One input may broadcast to the other's shape (e.g. (C,) against (N, C)); its gradient is summed
    back to its shape. Raises ShapeError for any other mismatch, such as (N, 1) against (N,), which
    NumPy would silently broadcast to (N, N), and for a 0-d or empty difference.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> y = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> F.mean_squared_error(y, np.zeros((2, 2)))  # (1 + 4 + 9 + 16) / N with N = 2
        variable(15.0)
        >>> F.mean_squared_error(np.zeros((3, 1)), np.zeros(3))
        Traceback (most recent call last):
        ...
        typed_dezero.errors.ShapeError: mean_squared_error: x0 and x1 must have the same shape, ...
    """
    return MeanSquaredError()(x0, x1)


@typechecked
def mean_squared_error_simple(x0: Variable | Arr, x1: Variable | Arr) -> Variable:
    """``sum((x0 - x1) ** 2) / len(x0 - x1)`` composed from primitives, as the book first writes it:
    the values and derivatives of :func:`mean_squared_error` (same errors), which is fused only to
    save the intermediate nodes (and to stay finite where this plain sum overflows)."""
    x0 = to_variable("mean_squared_error_simple", x0, "x0")
    x1 = to_variable("mean_squared_error_simple", x1, "x1")
    n = _mse_batch("mean_squared_error_simple", x0.shape, x1.shape)
    diff = x0 - x1
    return reduce_sum(diff**2) / float(n)


@final
class SoftmaxCrossEntropy(UnaryFunction):
    """Fused for stability: ``log(softmax(x))`` via log-sum-exp never takes the log of 0."""

    def __init__(self, labels: IntArr) -> None:
        self.labels = labels

    @override
    def forward(self, x: Arr, /) -> Arr:
        shifted = x - as_f64(x.max(axis=1, keepdims=True))
        # exp(shifted) and its row sums stay for backward_data, which needs softmax(x) = e / s.
        self._e = np.exp(shifted)
        self._s = as_f64(self._e.sum(axis=1, keepdims=True))
        log_p = as_f64(shifted[np.arange(len(x)), self.labels]) - np.log(self._s[:, 0])
        return -mean_of_terms(log_p, len(x))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        n = len(x)
        onehot = np.zeros(x.shape, dtype=np.float64)
        onehot[np.arange(n), self.labels] = 1.0
        return (softmax(x, axis=1) - onehot) * (gy * (1.0 / n))

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        n = len(self._e)
        gx = self._e / self._s
        gx[np.arange(n), self.labels] -= 1.0
        gx *= gy * (1.0 / n)
        return gx


def softmax_cross_entropy(x: Variable | Arr, t: IntArr) -> Variable:
    """Mean over the batch of ``-log(softmax(x)[i, t[i]])``, a 0-d Variable.

    Arguments:
        x: scores (logits) of shape (N, C); finite values of any magnitude are fine.
        t: class labels of shape (N,), an ndarray of any integer dtype, each in [0, C).

    Raises DezeroTypeError when `t` is not an integer array, ShapeError when `x` is not (N, C) with
    N >= 1 or `t` is not (N,), and DezeroValueError (naming them) for labels outside [0, C).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> scores = Variable(np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]))
        >>> loss = F.softmax_cross_entropy(scores, np.array([0, 2]))
        >>> loss
        variable(0.1609)
        >>> loss.backward()
        >>> scores.grad  # (softmax(scores) - onehot(t)) / N
        variable([[-0.0781  0.0571  0.0210]
                  [ 0.0353  0.0353 -0.0705]])
        >>> F.softmax_cross_entropy(scores, np.array([0, 3]))
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroValueError: softmax_cross_entropy: labels must lie in [0, C) = [0, 3) ...
    """
    check_operand("softmax_cross_entropy", x)
    x = to_variable("softmax_cross_entropy", x, "x")
    return SoftmaxCrossEntropy(_class_labels("softmax_cross_entropy", x, t))(x)


_CLIP_LOW: Final = 1e-15
"""DeZero's lower clip of the probabilities in softmax_cross_entropy_simple (log(0) is -inf)."""


def softmax_cross_entropy_simple(x: Variable | Arr, t: IntArr) -> Variable:
    """``-sum(log(clip(softmax(x), 1e-15, 1))[i, t[i]]) / N`` composed from primitives, as the book
    first writes it: the values and derivatives of :func:`softmax_cross_entropy` (same arguments and
    errors) while every probability is above 1e-15; below it, the clip caps the loss at about 34.5
    per row and its gradient is 0.
    """
    check_operand("softmax_cross_entropy_simple", x)
    x = to_variable("softmax_cross_entropy_simple", x, "x")
    labels = _class_labels("softmax_cross_entropy_simple", x, t)
    n = len(x)
    log_p = log(clip(softmax(x, axis=1), _CLIP_LOW, 1.0))
    return -reduce_sum(get_item(log_p, (np.arange(n), labels))) / float(n)


@final
class SigmoidCrossEntropy(UnaryFunction):
    """Fused for stability: from logits, ``-(t log p + (1-t) log(1-p)) = softplus(x) - t x`` with
    ``softplus(x) = max(x, 0) + log1p(exp(-|x|))``, which never overflows nor takes the log of 0."""

    def __init__(self, t: Arr) -> None:
        self.t = t

    @override
    def forward(self, x: Arr, /) -> Arr:
        losses = np.maximum(x, 0.0) - self.t * x + np.log1p(np.exp(-np.abs(x)))
        return mean_of_terms(losses, len(x))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return (sigmoid(x) - self.t) * (gy * (1.0 / len(x)))

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        x = self.inputs[0].data
        return (sigmoid(x).data - self.t) * (gy * (1.0 / len(x)))


@typechecked
def sigmoid_cross_entropy(x: Variable | Arr, t: IntArr | Arr) -> Variable:
    """``-sum(t log p + (1 - t) log(1 - p)) / N`` with ``p = sigmoid(x)`` and N = len(x), a 0-d
    Variable, computed from the logits so that it is finite for logits of any finite magnitude.

    Arguments:
        x: logits, with a batch axis first: shape (N, ...).
        t: targets of x's shape (or of shape (N,) when x is (N, 1)): an integer ndarray of 0/1
            labels, or a float64 ndarray of probabilities in [0, 1].

    Raises DezeroTypeError for another kind of `t`, ShapeError for a 0-d or empty `x` or a `t` of
    another shape, and DezeroValueError (naming them) for targets outside {0, 1} / [0, 1].

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> logits = np.array([[0.0], [1000.0]])  # a huge logit is fine: no overflow, no log(0)
        >>> F.sigmoid_cross_entropy(logits, np.array([1, 1]))  # (log 2 + 0) / 2
        variable(0.3466)
    """
    x = to_variable("sigmoid_cross_entropy", x, "x")
    return SigmoidCrossEntropy(_binary_targets("sigmoid_cross_entropy", "x", x, t))(x)


_EPS: Final = 1e-15
_LOW: Final = _EPS
_HIGH: Final = 1.0 - _EPS


@final
class BinaryCrossEntropy(UnaryFunction):
    def __init__(self, t: Arr) -> None:
        self.t = t

    @override
    def forward(self, x: Arr, /) -> Arr:
        p = np.clip(x, _LOW, _HIGH)
        losses = self.t * np.log(p) + (1.0 - self.t) * np.log(1.0 - p)
        return -mean_of_terms(losses, len(x))

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        inside = as_f64((x.data >= _LOW) & (x.data <= _HIGH))
        # The clipped probability as a graph node: p itself where clipping is inactive, the (constant)
        # bound elsewhere, so higher derivatives see the same zero gradient there.
        p = x * inside + (1.0 - inside) * np.clip(x.data, _LOW, _HIGH)
        t = self.t
        return ((1.0 - t) / (1.0 - p) - t / p) * inside * (gy * (1.0 / len(x)))


@typechecked
def binary_cross_entropy(p: Variable | Arr, t: IntArr | Arr) -> Variable:
    """``-sum(t log p + (1 - t) log(1 - p)) / N`` with N = len(p), a 0-d Variable.

    `p` is clipped to ``[1e-15, 1 - 1e-15]`` first, so the loss stays finite when `p` is exactly 0
    or 1 (as ``sigmoid`` of large logits rounds to); DeZero clipped to ``[1e-15, 0.999]``, which
    distorts the loss of confident correct predictions. Where clipping is active the gradient is 0.
    Prefer :func:`sigmoid_cross_entropy` on logits, which needs no clipping.

    Arguments:
        p: probabilities in [0, 1], with a batch axis first: shape (N, ...).
        t: targets as for :func:`sigmoid_cross_entropy`: p's shape (or (N,) when p is (N, 1)), an
            integer ndarray of 0/1 labels or a float64 ndarray of probabilities in [0, 1].

    Raises DezeroValueError for values of `p` outside [0, 1] and as :func:`sigmoid_cross_entropy`.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> F.binary_cross_entropy(np.array([0.5, 0.5]), np.array([1, 0]))  # log 2
        variable(0.6931)
        >>> F.binary_cross_entropy(np.array([1.5]), np.array([1]))
        Traceback (most recent call last):
        ...
        typed_dezero.errors.DezeroValueError: binary_cross_entropy: p must hold probabilities in [0, 1]; ...
    """
    p = to_variable("binary_cross_entropy", p, "p")
    t_checked = _binary_targets("binary_cross_entropy", "p", p, t)
    outside = ~((p.data >= 0.0) & (p.data <= 1.0))  # written so that NaN is caught too
    if outside.any():
        msg = f"binary_cross_entropy: p must hold probabilities in [0, 1]; got {_listing(p.data[outside])}"
        raise DezeroValueError(msg)
    return BinaryCrossEntropy(t_checked)(p)


@typechecked
def accuracy(y: Variable | Arr, t: IntArr) -> Variable:
    """The fraction of rows whose highest score is at the label: a 0-d float64 Variable with no
    creator (a metric, not differentiable). Ties go to the first maximal class, as ``argmax``.

    Arguments:
        y: scores of shape (N, C).
        t: class labels of shape (N,), as for :func:`softmax_cross_entropy` (same errors).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> acc = F.accuracy(scores, np.array([0, 1, 1]))
        >>> acc, acc.creator is None
        (variable(0.6667), True)
    """
    y = to_variable("accuracy", y, "y")
    labels = _class_labels("accuracy", y, t)
    predicted: IntArr = np.argmax(y.data, axis=1)
    return Variable(as_f64(np.mean(np.equal(predicted, labels))))
