"""Regularisation and lookup: dropout, batch normalisation, embedding lookup and clipping.

``dropout`` and ``batch_norm`` behave differently in training and in inference: they read
``Config.train`` (set it with :func:`typed_dezero.test_mode`).
"""

from __future__ import annotations

import sys
import warnings
from typing import Final, final

import numpy as np
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, IntArr, Shape, describe, is_f64_array, is_int_array
from typed_dezero.config import flags
from typed_dezero.core.function import TernaryFunction, UnaryFunction
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError
from typed_dezero.functions._util import as_f64
from typed_dezero.functions.shape import get_item, reshape

__all__ = ["batch_norm", "batch_nrom", "clip", "dropout", "embed_id"]

_default_rng: Final = np.random.default_rng()
"""dropout's own generator when none is given: NumPy's global random state is never touched."""


@final
class Dropout(UnaryFunction):
    """``x * scale`` for a fixed array `scale` (0 where dropped, ``1 / (1 - ratio)`` where kept)."""

    def __init__(self, scale: Arr) -> None:
        self.scale = scale

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * self.scale

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * self.scale

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * self.scale


@typechecked
def dropout(
    x: Variable | Arr, dropout_ratio: float = 0.5, rng: np.random.Generator | None = None
) -> Variable:
    """Inverted dropout: in training, zero each element with probability `dropout_ratio` and scale the
    others by ``1 / (1 - dropout_ratio)``, so the expectation is unchanged; in test mode return `x`
    (as a Variable) untouched.

    Arguments:
        x: any shape.
        dropout_ratio: the drop probability, in [0, 1); anything else raises DezeroValueError.
        rng: the generator that draws the mask (pass a seeded one for reproducible masks); by default
            a generator private to this module, never NumPy's global random state.
    Returns:
        a Variable of the shape of `x`; the gradient is masked and scaled the same way.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import test_mode
        >>> y = F.dropout(np.ones(1000), 0.5, rng=np.random.default_rng(0))
        >>> sorted(set(y.data.tolist()))  # dropped, or kept and scaled by 1 / (1 - 0.5)
        [0.0, 2.0]
        >>> with test_mode():
        ...     F.dropout(np.ones(3), 0.5)
        variable([1. 1. 1.])
    """
    x = to_variable("dropout", x, "x")
    if not 0.0 <= dropout_ratio < 1.0:
        msg = f"dropout: dropout_ratio must be in [0, 1), got {dropout_ratio!r}"
        raise DezeroValueError(msg)
    if not flags().train:
        return x
    gen = _default_rng if rng is None else rng
    state = gen.bit_generator.state
    try:
        keep = np.asarray(gen.random(x.shape)) >= dropout_ratio
        return Dropout(as_f64(keep / (1.0 - dropout_ratio)))(x)
    except BaseException:
        gen.bit_generator.state = state  # a failed call draws no mask
        raise


def _check_running(name: str, stat: object, channels: int) -> None:
    """A running statistic must be a float64 ndarray of shape (C,) (it is updated in place)."""
    if not is_f64_array(stat):
        msg = f"batch_norm: {name} must be a float64 numpy.ndarray of shape (C,), got {describe(stat)}"
        raise DezeroTypeError(msg)
    if stat.shape != (channels,):
        msg = f"batch_norm: {name} must have shape (C,) = ({channels},); got {name}.shape={stat.shape}"
        raise ShapeError(msg)


@final
class BatchNorm(TernaryFunction):
    """``gamma * x_hat + beta`` per channel (axis 1), with ``x_hat = (x - mean) * inv_std`` from the
    batch statistics (training, which also updates the running statistics in place) or from the
    running statistics (inference)."""

    stats: tuple[Arr, Arr]
    """(mean, inv_std) as used by forward, shaped to broadcast against x; constants for backward."""
    running_update: tuple[Arr, Arr] | None = None
    """In training: the new running (mean, var), applied by :meth:`commit` once the call succeeded."""

    def __init__(self, mean: Arr, var: Arr, momentum: float, eps: float, train: bool) -> None:
        self.running_mean = mean
        self.running_var = var
        self.momentum = momentum
        self.eps = eps
        self.train = train
        self.axes: tuple[int, ...] = ()
        self.param_shape: Shape = ()

    @override
    def forward(self, x: Arr, gamma: Arr, beta: Arr, /) -> Arr:
        # Statistics are per channel (axis 1): reduce over the batch and spatial axes.
        self.axes = axes = (0, *range(2, x.ndim))
        self.param_shape = shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if self.train:
            mu = as_f64(np.mean(x, axis=axes, keepdims=True))
            xc = x - mu
            var = as_f64(np.mean(xc * xc, axis=axes, keepdims=True))
            m = x.size // x.shape[1]
            keep, new = self.momentum, 1.0 - self.momentum
            self.running_update = (
                keep * self.running_mean + new * mu.reshape(-1),
                keep * self.running_var + new * (m / (m - 1)) * var.reshape(-1),
            )
        else:
            # Copies: the running arrays may be updated by a training call before this backward runs.
            mu, var = self.running_mean.reshape(shape).copy(), self.running_var.reshape(shape)
        self.stats = (mu, as_f64(1.0 / np.sqrt(var + self.eps)))
        x_hat = (x - mu) * self.stats[1]
        return gamma.reshape(shape) * x_hat + beta.reshape(shape)

    def commit(self) -> None:
        """Store the new running statistics in place; called after the call succeeded, so that a
        failed call (an anomaly, an interrupt) leaves them as they were."""
        update = self.running_update
        if update is not None:
            # Last, after everything that can fail; both arrays are written by plain assignments.
            self.running_mean[...], self.running_var[...] = update

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable, Variable]:
        x, gamma, _ = self.inputs
        axes, channels = self.axes, (x.shape[1],)
        g = reshape(gamma, self.param_shape)
        gy_sum = gy.sum(axis=axes, keepdims=True)
        if self.train:
            # The batch statistics depend on x: recomputed from Variables, so that the gradients
            # can be differentiated again.
            xc = x - x.mean(axis=axes, keepdims=True)
            inv_std = ((xc * xc).mean(axis=axes, keepdims=True) + self.eps) ** -0.5
            x_hat = xc * inv_std
            gyx_sum = (gy * x_hat).sum(axis=axes, keepdims=True)
            m = x.size // x.shape[1]
            gx = (g * inv_std) * (gy - (gy_sum + x_hat * gyx_sum) * (1.0 / m))
        else:
            mu, inv_std_c = self.stats
            gyx_sum = (gy * ((x - mu) * inv_std_c)).sum(axis=axes, keepdims=True)
            gx = gy * (g * inv_std_c)
        return gx, reshape(gyx_sum, channels), reshape(gy_sum, channels)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr, Arr]:
        x, gamma = self.inputs[0].data, self.inputs[1].data
        axes = self.axes
        mu, inv_std = self.stats
        x_hat = (x - mu) * inv_std
        gy_sum = as_f64(np.sum(gy, axis=axes, keepdims=True))
        gyx_sum = as_f64(np.sum(gy * x_hat, axis=axes, keepdims=True))
        g = gamma.reshape(self.param_shape) * inv_std
        if self.train:
            m = x.size // x.shape[1]
            gx = g * (gy - (gy_sum + x_hat * gyx_sum) * (1.0 / m))
        else:
            gx = gy * g
        return gx, gyx_sum.reshape(-1), gy_sum.reshape(-1)


@typechecked
def batch_norm(  # noqa: PLR0917 - DeZero's positional signature
    x: Variable | Arr,
    gamma: Variable | Arr,
    beta: Variable | Arr,
    mean: Arr,
    var: Arr,
    momentum: float = 0.9,
    eps: float = 2e-5,
) -> Variable:
    """Batch normalisation over the channel axis 1: ``gamma * (x - mu) / sqrt(v + eps) + beta``.

    In training (``Config.train``), ``mu`` and ``v`` are the batch mean and (biased) variance of each
    channel, and the running statistics are updated in place:
    ``mean = momentum * mean + (1 - momentum) * mu`` and
    ``var = momentum * var + (1 - momentum) * m / (m - 1) * v`` (unbiased), m the number of values per
    channel. In test mode ``mu`` and ``v`` are `mean` and `var`, which are left untouched.
    DeZero called this function ``batch_nrom`` and `momentum` ``decay`` (same positions, same defaults).

    Arguments:
        x: (N, C) or (N, C, H, W).
        gamma, beta: (C,) scale and shift.
        mean, var: (C,) float64 arrays of running statistics (updated in place in training).
        momentum: in [0, 1], the weight of the old running statistics.
        eps: > 0, added to the variance.
    Returns:
        a Variable of the shape of `x`, differentiable (twice) w.r.t. `x`, `gamma` and `beta`.
    Raises:
        ShapeError for other shapes, or for fewer than 2 values per channel in training;
        DezeroTypeError when `mean`/`var` are not float64 arrays; DezeroValueError for `momentum`,
        `eps`, or `mean`/`var` that are read-only or share memory in training.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import test_mode
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])  # N = 2 samples, C = 2 channels
        >>> gamma, beta = np.ones(2), np.zeros(2)
        >>> mean, var = np.zeros(2), np.ones(2)  # running statistics, updated in place
        >>> F.batch_norm(x, gamma, beta, mean, var, momentum=0.9)
        variable([[-1.0000 -1.0000]
                  [ 1.0000  1.0000]])
        >>> mean, var  # 0.9 * old + 0.1 * batch (the variance unbiased: m / (m - 1))
        (array([0.2, 2. ]), array([ 1.1, 20.9]))
        >>> with test_mode():  # inference: the running statistics, left untouched
        ...     y = F.batch_norm(x, gamma, beta, mean, var)
        >>> mean
        array([0.2, 2. ])
    """
    x = to_variable("batch_norm", x, "x")
    gamma = to_variable("batch_norm", gamma, "gamma")
    beta = to_variable("batch_norm", beta, "beta")
    if x.ndim not in (2, 4):
        msg = f"batch_norm: x must be (N, C) or (N, C, H, W); got x.shape={x.shape}"
        raise ShapeError(msg)
    channels = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.shape != (channels,):
            msg = (
                f"batch_norm: {name} must have shape (C,) = ({channels},) to match x.shape[1]; "
                f"got {name}.shape={p.shape}, x.shape={x.shape}"
            )
            raise ShapeError(msg)
    _check_running("mean", mean, channels)
    _check_running("var", var, channels)
    if not 0.0 <= momentum <= 1.0:
        msg = f"batch_norm: momentum must be in [0, 1], got {momentum!r}"
        raise DezeroValueError(msg)
    if not 0.0 < eps <= sys.float_info.max:  # exact for ints beyond the float range, False for NaN
        msg = f"batch_norm: eps must be a finite number > 0, got {eps!r}"
        raise DezeroValueError(msg)
    train = flags().train
    if train:
        m = x.size // channels if channels else 0
        if m < 2:
            msg = (
                "batch_norm: training needs at least 2 values per channel (N * H * W >= 2) for the "
                f"unbiased variance; got x.shape={x.shape}. Use a larger batch, or test_mode()"
            )
            raise ShapeError(msg)
        if not (mean.flags.writeable and var.flags.writeable):
            msg = "batch_norm: mean and var must be writable arrays (they are updated in place in training)"
            raise DezeroValueError(msg)
        if np.shares_memory(mean, var):
            msg = "batch_norm: mean and var must be separate arrays (they are updated in place in training)"
            raise DezeroValueError(msg)
    elif np.any(var < 0.0):
        msg = f"batch_norm: the running variance must be >= 0 in test mode, got var={var}"
        raise DezeroValueError(msg)
    normalize = BatchNorm(mean, var, momentum, eps, train)
    y = normalize(x, gamma, beta)
    normalize.commit()
    return y


def batch_nrom(  # noqa: PLR0917 - DeZero's positional signature
    x: Variable | Arr,
    gamma: Variable | Arr,
    beta: Variable | Arr,
    mean: Arr,
    var: Arr,
    momentum: float = 0.9,
    eps: float = 2e-5,
) -> Variable:
    """Deprecated: DeZero's misspelt alias of :func:`batch_norm`; warns, then calls it."""
    warnings.warn(
        "batch_nrom is DeZero's misspelling of batch_norm and is deprecated: use batch_norm",
        DeprecationWarning,
        stacklevel=2,
    )
    return batch_norm(x, gamma, beta, mean, var, momentum, eps)


def _check_ids(x: object) -> None:
    # Takes `object`: the static type already says IntArr, this re-checks it at run time.
    if not is_int_array(x):
        msg = f"embed_id: x must be an integer numpy.ndarray of ids, got {describe(x)}"
        raise DezeroTypeError(msg)


@typechecked
def embed_id(x: IntArr, W: Variable | Arr) -> Variable:
    """Embedding lookup ``W[x]``: the rows of `W` (V, D) named by the integer ids `x` (any shape, any
    integer dtype), of shape ``x.shape + (D,)``. The gradient w.r.t. `W` scatter-adds, so repeated ids
    accumulate. Raises DezeroTypeError for non-integer ids, ShapeError when `W` is not 2-D and
    DezeroValueError for ids outside [0, V).

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> W = Variable(np.arange(6.0).reshape(3, 2))  # 3 ids, vectors of size 2
        >>> y = F.embed_id(np.array([2, 0, 2]), W)
        >>> y
        variable([[4. 5.]
                  [0. 1.]
                  [4. 5.]])
        >>> y.backward()
        >>> W.grad  # id 2 was looked up twice
        variable([[1. 1.]
                  [0. 0.]
                  [2. 2.]])
    """
    _check_ids(x)
    weights = to_variable("embed_id", W, "W")
    if weights.ndim != 2:
        msg = f"embed_id: W must be 2-D (V, D); got W.shape={weights.shape}"
        raise ShapeError(msg)
    vocab = weights.shape[0]
    bad = (x < 0) | (x >= vocab)
    if np.any(bad):
        wrong = np.unique(x[bad])
        shown = ", ".join(str(int(i)) for i in wrong[:10]) + (", ..." if wrong.size > 10 else "")
        msg = f"embed_id: ids must be in [0, {vocab}) for W.shape={weights.shape}; got {shown}"
        raise DezeroValueError(msg)
    return get_item(weights, x)


@final
class Clip(UnaryFunction):
    def __init__(self, x_min: float, x_max: float) -> None:
        self.x_min = x_min
        self.x_max = x_max

    @override
    def forward(self, x: Arr, /) -> Arr:
        return np.clip(x, self.x_min, self.x_max)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * self._inside()

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * self._inside()

    def _inside(self) -> Arr:
        x = self.inputs[0].data
        return as_f64((x >= self.x_min) & (x <= self.x_max))


@typechecked
def clip(x: Variable | Arr, x_min: float, x_max: float) -> Variable:
    """`x` clipped to [x_min, x_max] elementwise. The gradient passes where
    ``x_min <= x <= x_max`` (bounds included, as DeZero) and is 0 elsewhere. Infinite bounds are
    allowed; ``x_min > x_max`` or a NaN bound raises DezeroValueError.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> x = Variable(np.array([-2.0, 0.5, 1.0, 3.0]))
        >>> y = F.clip(x, 0.0, 1.0)
        >>> y.backward()
        >>> y, x.grad
        (variable([0.  0.5 1.  1. ]), variable([0. 1. 1. 0.]))
    """
    if not x_min <= x_max:
        msg = f"clip: x_min must be <= x_max (and not NaN); got x_min={x_min!r}, x_max={x_max!r}"
        raise DezeroValueError(msg)
    return Clip(_float_bound("x_min", x_min), _float_bound("x_max", x_max))(x)


def _float_bound(name: str, value: float) -> float:
    try:
        return float(value)
    except OverflowError:  # a Python int beyond the float64 range
        msg = f"clip: {name} must be a float64 number, got an int beyond its range ({describe(value)})"
        raise DezeroValueError(msg) from None
