"""Oracle cases for activations, losses, regularisation and convolution.

Conventions mirrored in the torch references (typed_dezero's, documented in its docstrings):

* every loss is a mean over the batch, ``sum(terms) / N`` with N = len(x) (DeZero's), not torch's
  mean over all elements: the references use ``reduction="sum"`` and divide by N;
* max pooling's default stride is 1 (torch's is the kernel size): strides are always passed;
* average pooling counts the zero padding (``count_include_pad=True``);
* batch_norm's momentum weighs the old running statistics (``avg = m * avg + (1 - m) * batch``),
  torch's weighs the batch: torch's momentum is ``1 - m``; both update the running variance with
  the unbiased batch variance;
* leaky_relu's default slope is 0.2 (torch's 0.01).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import typed_dezero.functions as F
from tests.functions.cases_conv import col2im_cases, conv_cases, deconv_cases, image_shapes, windows
from tests.functions.cases_loss import INT_DTYPES, binary_case
from tests.functions.cases_recurrent import flat, lstm_case
from tests.functions.registry import Drawn, drawn
from tests.oracle._torch import Pair, Tensor, array, tensor, torch
from tests.oracle.cases_core import any_shapes, huge, one, plain, with_zeros
from tests.oracle.harness import OracleCase, ref1
from tests.strategies import Shape, arrays, away_from_zero, distinct, shapes
from typed_dezero import Arr, Variable, using_config
from typed_dezero._typing import IntArr

Draw = st.DrawFn
nnf = torch.nn.functional


def labels(t: IntArr) -> Tensor:
    """Class labels as the int64 tensor torch wants (typed_dezero takes any integer dtype)."""
    return tensor(t.astype(np.int64))


# -- activations ----------------------------------------------------------------------------------


@st.composite
def _softmax_case(draw: Draw, default_axis: bool) -> Drawn:
    shape: Shape = draw(shapes(2 if default_axis else 1, 3, 1, 3))
    x = draw(arrays(shape, -3.0, 3.0))
    if default_axis:
        return Drawn((x,))
    return Drawn((x,), {"axis": draw(st.integers(-len(shape), len(shape) - 1))})


def _softmax_ref(x: Tensor, axis: int = 1) -> Tensor:
    return nnf.softmax(x, axis)


def _log_softmax_ref(x: Tensor, axis: int = 1) -> Tensor:
    return nnf.log_softmax(x, axis)


@st.composite
def _leaky_case(draw: Draw) -> Drawn:
    x = draw(with_zeros()(draw(any_shapes())))
    if draw(st.booleans()):
        return Drawn((x,))
    return Drawn((x,), {"slope": draw(st.sampled_from([0.01, 0.5, -0.3, 1.5, 0.0]))})


def _leaky_ref(x: Tensor, slope: float = 0.2) -> Tensor:
    return nnf.leaky_relu(x, slope)


def _activations() -> list[OracleCase]:
    return [
        OracleCase("sigmoid", one(plain(-6.0, 6.0)), F.sigmoid, ref1(lambda a: a.sigmoid())),
        OracleCase("sigmoid_simple", one(plain(-6.0, 6.0)), F.sigmoid_simple, ref1(lambda a: a.sigmoid())),
        # At 0 relu's gradient is 0 and leaky_relu's is the slope, in both libraries.
        OracleCase("relu", one(with_zeros()), F.relu, nnf.relu),
        OracleCase("leaky_relu", _leaky_case(), F.leaky_relu, _leaky_ref),
        OracleCase("softmax", _softmax_case(False), F.softmax, _softmax_ref, "axis"),
        OracleCase("softmax", _softmax_case(True), F.softmax, _softmax_ref, "default axis"),
        OracleCase("softmax_simple", _softmax_case(False), F.softmax_simple, _softmax_ref, "axis"),
        OracleCase("softmax_simple", _softmax_case(True), F.softmax_simple, _softmax_ref, "default axis"),
        OracleCase("log_softmax", _softmax_case(False), F.log_softmax, _log_softmax_ref, "axis"),
        OracleCase("log_softmax", _softmax_case(True), F.log_softmax, _log_softmax_ref, "default axis"),
    ]


# -- losses ---------------------------------------------------------------------------------------


@st.composite
def _mse_case(draw: Draw) -> Drawn:
    full: Shape = draw(shapes(1, 3, 1, 3))
    keep = draw(st.integers(0, len(full)))
    small = tuple(draw(st.sampled_from([1, n])) for n in full[len(full) - keep :])
    s0, s1 = draw(st.sampled_from([(full, full), (full, small), (small, full)]))
    return Drawn((draw(arrays(s0)), draw(arrays(s1))))


def _mse_ref(x0: Tensor, x1: Tensor) -> Tensor:
    shape = _broadcast(x0.shape, x1.shape)
    return nnf.mse_loss(x0.broadcast_to(shape), x1.broadcast_to(shape), reduction="sum") / shape[0]


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(n) for n in np.broadcast_shapes(tuple(a), tuple(b)))


@st.composite
def _labels_case(draw: Draw) -> Drawn:
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(INT_DTYPES))
    t = draw(hnp.arrays(dtype, (n,), elements=st.integers(0, c - 1)))
    return Drawn((draw(arrays((n, c), -3.0, 3.0)),), {"t": t})


def _softmax_ce_ref(x: Tensor, t: IntArr) -> Tensor:
    return nnf.cross_entropy(x, labels(t), reduction="sum") / x.shape[0]


def _targets(x: Tensor, t: IntArr | Arr) -> Tensor:
    return tensor(t.astype(np.float64).reshape(x.shape))


def _sigmoid_ce_ref(x: Tensor, t: IntArr | Arr) -> Tensor:
    return nnf.binary_cross_entropy_with_logits(x, _targets(x, t), reduction="sum") / x.shape[0]


def _bce_ref(p: Tensor, t: IntArr | Arr) -> Tensor:
    return nnf.binary_cross_entropy(p, _targets(p, t), reduction="sum") / p.shape[0]


@st.composite
def _accuracy_case(draw: Draw) -> Drawn:
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    # Small integers: ties, which both argmaxes break towards the first class.
    y = draw(hnp.arrays(np.float64, (n, c), elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0])))
    t = draw(hnp.arrays(draw(st.sampled_from(INT_DTYPES)), (n,), elements=st.integers(0, c - 1)))
    return Drawn((y,), {"t": t})


def _accuracy_ref(y: Tensor, t: IntArr) -> Tensor:
    return torch.eq(y.argmax(1), labels(t)).double().mean()


# Huge values: every term of the loss is finite, but their plain sum overflows. The references sum
# the per-element torch losses divided by N, the same mean, finite.


def _signed_huge(shape: Shape) -> st.SearchStrategy[Arr]:
    signs = hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))
    return st.tuples(huge(shape), signs).map(lambda p: p[0] * p[1])


@st.composite
def _huge_logits_case(draw: Draw) -> Drawn:
    # One logit per row: each row's term is at most 1.7e308, so the mean over the batch is finite
    # (with several columns sum / N may exceed float64's range, legitimately infinite).
    shape: Shape = draw(st.sampled_from([(2,), (3,), (2, 1), (4, 1)]))
    t: Any = draw(
        st.one_of(
            hnp.arrays(np.int64, shape, elements=st.integers(0, 1)),
            hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 0.25, 1.0])),
        )
    )
    return Drawn((draw(_signed_huge(shape)),), {"t": t})


def _sigmoid_ce_huge_ref(x: Tensor, t: IntArr | Arr) -> Tensor:
    terms = nnf.binary_cross_entropy_with_logits(x, _targets(x, t), reduction="none")
    return (terms / x.shape[0]).sum()


@st.composite
def _huge_mse_case(draw: Draw) -> Drawn:
    # Differences near 1.3e154 / sqrt(k) for k columns: each row's sum of squares is finite (so is
    # the mean over the batch), the sum over two rows or more is not.
    shape: Shape = (draw(st.integers(2, 4)), draw(st.integers(1, 3)))
    hi = 1.3e154 / math.sqrt(shape[1])
    diffs = hnp.arrays(np.float64, shape, elements=st.floats(0.9 * hi, hi))
    return Drawn((draw(diffs), draw(arrays(shape, -1.0, 1.0))))


def _mse_huge_ref(x0: Tensor, x1: Tensor) -> Tensor:
    return (nnf.mse_loss(x0, x1, reduction="none") / x0.shape[0]).sum()


@st.composite
def _huge_scores_case(draw: Draw) -> Drawn:
    # Scores 0 in column 0 and in [-8e307, -6e307] elsewhere, labels off column 0: x - max(x) stays
    # finite, each row's loss is 6e307 to 8e307, and the sum of 4 or more rows overflows.
    n, c = draw(st.integers(4, 5)), draw(st.integers(2, 3))
    x = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-8e307, -6e307)))
    x[:, 0] = 0.0
    return Drawn((x,), {"t": draw(hnp.arrays(np.int64, (n,), elements=st.integers(1, c - 1)))})


def _softmax_ce_huge_ref(x: Tensor, t: IntArr) -> Tensor:
    return (nnf.cross_entropy(x, labels(t), reduction="none") / x.shape[0]).sum()


def _losses() -> list[OracleCase]:
    return [
        OracleCase(
            "mean_squared_error", _mse_case(), F.mean_squared_error, _mse_ref, "broadcast to one input"
        ),
        OracleCase("softmax_cross_entropy", _labels_case(), F.softmax_cross_entropy, _softmax_ce_ref),
        # Scores in [-3, 3] over at most 4 classes: every probability is far above the 1e-15 clip.
        OracleCase(
            "softmax_cross_entropy_simple", _labels_case(), F.softmax_cross_entropy_simple, _softmax_ce_ref
        ),
        OracleCase("mean_squared_error_simple", _mse_case(), F.mean_squared_error_simple, _mse_ref),
        OracleCase(
            "sigmoid_cross_entropy",
            binary_case(-6.0, 6.0, max_side=3),
            F.sigmoid_cross_entropy,
            _sigmoid_ce_ref,
        ),
        # Inside (0.05, 0.95): away from the clipping at 1e-15 (typed_dezero) / log >= -100 (torch).
        # rtol 1e-9: the libraries' derivative formulas differ ((1-t)/(1-p) - t/p against torch's
        # (p-t)/(p(1-p))), and third derivatives sum terms of 1/p**3 (up to 8000) that cancel.
        OracleCase(
            "binary_cross_entropy",
            binary_case(0.05, 0.95, max_side=3),
            F.binary_cross_entropy,
            _bce_ref,
            rtol=1e-9,
        ),
        OracleCase("accuracy", _accuracy_case(), F.accuracy, _accuracy_ref, orders=0),
        # binary_cross_entropy's terms are at most -log(1e-15) = 34.5: its sum cannot overflow.
        OracleCase(
            "sigmoid_cross_entropy",
            _huge_logits_case(),
            F.sigmoid_cross_entropy,
            _sigmoid_ce_huge_ref,
            "huge logits",
            unit_weights=True,
        ),
        OracleCase(
            "mean_squared_error",
            _huge_mse_case(),
            F.mean_squared_error,
            _mse_huge_ref,
            "huge",
            unit_weights=True,
        ),
        OracleCase(
            "softmax_cross_entropy",
            _huge_scores_case(),
            F.softmax_cross_entropy,
            _softmax_ce_huge_ref,
            "huge scores",
            unit_weights=True,
        ),
    ]


# -- regularisation -------------------------------------------------------------------------------


@st.composite
def _dropout_case(draw: Draw) -> Drawn:
    x = draw(away_from_zero(draw(any_shapes()), 0.2, 2.0))
    return Drawn(
        (x,), {"ratio": draw(st.sampled_from([0.0, 0.3, 0.5, 0.9])), "seed": draw(st.integers(0, 2**16))}
    )


def _dropout(x: Variable, *, ratio: float, seed: int) -> Variable:
    return F.dropout(x, ratio, np.random.default_rng(seed))


def _dropout_ref(x: Tensor, *, ratio: float, seed: int) -> Tensor:
    # torch cannot draw the same mask: the reference reads it off the output of typed_dezero's
    # dropout with the same seed (x has no zeros, so an element is kept where that output is not 0),
    # then computes x * mask / (1 - ratio). The forward comparison checks the kept values and their
    # scale, the gradients the rest; that the mask follows the generator is tested in
    # tests/functions/test_regularization.py.
    with using_config("enable_backprop", False):
        kept = F.dropout(array(x), ratio, np.random.default_rng(seed)).data != 0.0
    return x * tensor(kept / (1.0 - ratio))


def _dropout_test_mode(x: Variable, *, ratio: float, seed: int) -> Variable:
    with using_config("train", False):
        return F.dropout(x, ratio, np.random.default_rng(seed))


def _identity_ref(x: Tensor, **_: object) -> Tensor:
    return x * 1.0


@st.composite
def bn_case(draw: Draw, spatial: bool) -> Drawn:
    """x (N, C) or (N, C, H, W) spread over [-1.5, 1.5] per channel (a batch variance away from 0,
    where normalisation's derivatives are huge), gamma, beta, running statistics, momentum, eps."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hw: Shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if spatial else ()
    if n * int(np.prod(hw)) < 2:
        n = 2
    m = n * int(np.prod(hw))
    gen = np.random.default_rng(draw(st.integers(0, 2**16)))
    spread = np.stack([gen.permutation(np.linspace(-1.5, 1.5, m)) for _ in range(c)])
    x = draw(arrays((n, c, *hw), -0.3, 0.3)) + np.moveaxis(spread.reshape((c, n, *hw)), 0, 1)
    gamma, beta = draw(arrays((c,))), draw(arrays((c,)))
    mean, var = draw(arrays((c,))), draw(arrays((c,), 0.5, 2.0))
    momentum = draw(st.sampled_from([0.0, 0.9, 0.5, 1.0]))
    eps = draw(st.sampled_from([2e-5, 1e-3, 0.5]))
    return Drawn((x, gamma, beta), {"mean": mean, "var": var, "momentum": momentum, "eps": eps})


def _batch_norm(
    x: Variable,
    gamma: Variable,
    beta: Variable,
    *,
    mean: Arr,
    var: Arr,
    momentum: float,
    eps: float,
    train: bool,
) -> Variable:
    with using_config("train", train):
        return F.batch_norm(x, gamma, beta, mean.copy(), var.copy(), momentum, eps)


def _batch_norm_ref(
    x: Tensor, gamma: Tensor, beta: Tensor, *, mean: Arr, var: Arr, momentum: float, eps: float, train: bool
) -> Tensor:
    return nnf.batch_norm(x, tensor(mean), tensor(var), gamma, beta, train, 1.0 - momentum, eps)


def _bn_train(x: Variable, gamma: Variable, beta: Variable, **kwargs: Any) -> Variable:
    return _batch_norm(x, gamma, beta, train=True, **kwargs)


def _bn_train_ref(x: Tensor, gamma: Tensor, beta: Tensor, **kwargs: Any) -> Tensor:
    return _batch_norm_ref(x, gamma, beta, train=True, **kwargs)


def _bn_train_composed_ref(x: Tensor, gamma: Tensor, beta: Tensor, *, eps: float, **_: Any) -> Tensor:
    # Training-mode batch norm from torch primitives, for the third order: torch 2.13's native
    # batch_norm gets its own third derivative wrong (x = [[-1.5], [1.5]], gamma 0.3, beta 0.1: it
    # gives -0.070 where central differences of its own second derivative give -3.8e-07, as
    # typed_dezero does).
    axes = (0, *range(2, x.ndim))
    shape = (1, x.shape[1], *(1,) * (x.ndim - 2))
    xc = x - x.mean(axes, True)
    x_hat = xc / ((xc * xc).mean(axes, True) + eps).sqrt()
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


def _bn_nrom_train(
    x: Variable, gamma: Variable, beta: Variable, *, mean: Arr, var: Arr, momentum: float, eps: float
) -> Variable:
    # DeZero's misspelt name: batch_norm's values and gradients, with a DeprecationWarning.
    with pytest.warns(DeprecationWarning, match="batch_norm"):
        return F.batch_nrom(x, gamma, beta, mean.copy(), var.copy(), momentum, eps)


def _bn_test(x: Variable, gamma: Variable, beta: Variable, **kwargs: Any) -> Variable:
    return _batch_norm(x, gamma, beta, train=False, **kwargs)


def _bn_test_ref(x: Tensor, gamma: Tensor, beta: Tensor, **kwargs: Any) -> Tensor:
    return _batch_norm_ref(x, gamma, beta, train=False, **kwargs)


@st.composite
def _embed_case(draw: Draw) -> Drawn:
    vocab, dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    id_shape: Shape = draw(shapes(0, 2, 0, 3))
    ids = draw(hnp.arrays(draw(st.sampled_from(INT_DTYPES)), id_shape, elements=st.integers(0, vocab - 1)))
    return Drawn((draw(arrays((vocab, dim))),), {"ids": ids})


def _embed_id(W: Variable, *, ids: IntArr) -> Variable:
    return F.embed_id(ids, W)


def _embed_id_ref(W: Tensor, *, ids: IntArr) -> Tensor:
    return nnf.embedding(labels(ids), W)


def _clip_values(at_bounds: bool) -> st.SearchStrategy[Drawn]:
    # Away from the bounds -1 and 1 (0.2 or more), or exactly on them: both libraries let the
    # gradient through at the bounds (inclusive).
    inside_or_outside = st.one_of(st.floats(-0.8, 0.8), st.floats(1.2, 2.0), st.floats(-2.0, -1.2))
    elements = st.one_of(inside_or_outside, st.sampled_from([-1.0, 1.0])) if at_bounds else inside_or_outside
    return any_shapes().flatmap(lambda s: drawn(hnp.arrays(np.float64, s, elements=elements)))


def _clip(x: Variable) -> Variable:
    return F.clip(x, -1.0, 1.0)


def _clip_ref(x: Tensor) -> Tensor:
    return x.clamp(min=-1.0, max=1.0)


def _regularization() -> list[OracleCase]:
    return [
        OracleCase("dropout", _dropout_case(), _dropout, _dropout_ref, "train"),
        OracleCase("dropout", _dropout_case(), _dropout_test_mode, _identity_ref, "test mode"),
        OracleCase("batch_norm", bn_case(spatial=False), _bn_train, _bn_train_composed_ref, "train (N, C)"),
        OracleCase(
            "batch_norm", bn_case(spatial=True), _bn_train, _bn_train_composed_ref, "train (N, C, H, W)"
        ),
        OracleCase(
            "batch_norm", bn_case(spatial=True), _bn_train, _bn_train_ref, "train, native torch", orders=2
        ),
        OracleCase("batch_norm", bn_case(spatial=True), _bn_test, _bn_test_ref, "test mode"),
        OracleCase(
            "batch_nrom", bn_case(spatial=True), _bn_nrom_train, _bn_train_composed_ref, "deprecated alias"
        ),
        OracleCase("embed_id", _embed_case(), _embed_id, _embed_id_ref),
        OracleCase("clip", _clip_values(False), _clip, _clip_ref, "away from the bounds"),
        OracleCase("clip", _clip_values(True), _clip, _clip_ref, "at the bounds"),
    ]


# -- convolution ----------------------------------------------------------------------------------


def _conv2d(x: Variable, W: Variable, b: Variable | None = None, *, stride: Pair, pad: Pair) -> Variable:
    return F.conv2d(x, W, b, stride, pad)


def _conv2d_simple(
    x: Variable, W: Variable, b: Variable | None = None, *, stride: Pair, pad: Pair
) -> Variable:
    return F.conv2d_simple(x, W, b, stride, pad)


def _conv2d_ref(x: Tensor, W: Tensor, b: Tensor | None = None, *, stride: Pair, pad: Pair) -> Tensor:
    return nnf.conv2d(x, W, b, stride, pad)


def _deconv2d(
    x: Variable,
    W: Variable,
    b: Variable | None = None,
    *,
    stride: Pair,
    pad: Pair,
    outsize: tuple[int, int] | None,
) -> Variable:
    return F.deconv2d(x, W, b, stride, pad, outsize)


def _pair(v: Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def _deconv2d_ref(
    x: Tensor, W: Tensor, b: Tensor | None = None, *, stride: Pair, pad: Pair, outsize: tuple[int, int] | None
) -> Tensor:
    # typed_dezero's outsize picks one of the sizes [lo, lo + stride - 1] a strided conv2d maps
    # back from; torch's output_padding is the excess over lo.
    (sh, sw), (ph, pw) = _pair(stride), _pair(pad)
    kh, kw = W.shape[2], W.shape[3]
    lo = (sh * (x.shape[2] - 1) + kh - 2 * ph, sw * (x.shape[3] - 1) + kw - 2 * pw)
    if outsize is None or outsize == lo:
        return nnf.conv_transpose2d(x, W, b, stride, pad)
    # With an output_padding, torch cannot differentiate conv_transpose2d three times ("output_padding
    # is not supported for non-transposed convolutions"): the same map composed from primitives, the
    # unpadded full output (size stride * (H - 1) + K), zero-extended at the end, then cropped.
    oh, ow = outsize
    full = nnf.conv_transpose2d(x, W, None, stride, 0)
    full = nnf.pad(full, (0, max(0, pw + ow - full.shape[3]), 0, max(0, ph + oh - full.shape[2])))
    y = full[:, :, ph : ph + oh, pw : pw + ow]
    return y if b is None else y + b.reshape((1, b.shape[0], 1, 1))


@st.composite
def _pooling_case(draw: Draw, max_pool: bool) -> Drawn:
    # torch allows a pad of at most half the kernel: pad_below_kernel with pads <= 1 ensures it.
    win = draw(windows(pad_below_kernel=True))
    shape = draw(image_shapes(win))
    x = draw(distinct(shape) if max_pool else arrays(shape))  # distinct: no ties for max pooling
    return Drawn((x,), {"kernel_size": win.kernel_arg, "stride": win.stride_arg, "pad": win.pad_arg})


def _pooling(x: Variable, *, kernel_size: Pair, stride: Pair, pad: Pair) -> Variable:
    return F.pooling(x, kernel_size, stride, pad)


def _pooling_simple(x: Variable, *, kernel_size: Pair, stride: Pair, pad: Pair) -> Variable:
    return F.pooling_simple(x, kernel_size, stride, pad)


def _pooling_ref(x: Tensor, *, kernel_size: Pair, stride: Pair, pad: Pair) -> Tensor:
    return nnf.max_pool2d(x, kernel_size, stride, pad)


def _average_pooling(x: Variable, *, kernel_size: Pair, stride: Pair, pad: Pair) -> Variable:
    return F.average_pooling(x, kernel_size, stride, pad)


def _average_pooling_ref(x: Tensor, *, kernel_size: Pair, stride: Pair, pad: Pair) -> Tensor:
    return nnf.avg_pool2d(x, kernel_size, stride, pad, count_include_pad=True)


@st.composite
def _im2col_case(draw: Draw) -> Drawn:
    win = draw(windows())
    x = draw(arrays(draw(image_shapes(win))))
    kwargs = {"kernel_size": win.kernel_arg, "stride": win.stride_arg, "pad": win.pad_arg}
    return Drawn((x,), {**kwargs, "to_matrix": draw(st.booleans())})


def _im2col(x: Variable, *, kernel_size: Pair, stride: Pair, pad: Pair, to_matrix: bool) -> Variable:
    return F.im2col(x, kernel_size, stride, pad, to_matrix)


def _im2col_ref(x: Tensor, *, kernel_size: Pair, stride: Pair, pad: Pair, to_matrix: bool) -> Tensor:
    # unfold gives (N, C*KH*KW, OH*OW); typed_dezero's matrix is (N*OH*OW, C*KH*KW), its
    # array (N, C, KH, KW, OH, OW).
    n, c, h, w = x.shape
    cols = nnf.unfold(x, kernel_size, padding=pad, stride=stride)
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(pad)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    if to_matrix:
        return cols.transpose(1, 2).reshape((n * oh * ow, c * kh * kw))
    return cols.reshape((n, c, kh, kw, oh, ow))


def _col2im(
    x: Variable, *, input_shape: Shape, kernel_size: Pair, stride: Pair, pad: Pair, to_matrix: bool
) -> Variable:
    return F.col2im(x, input_shape, kernel_size, stride, pad, to_matrix)


def _col2im_ref(
    x: Tensor, *, input_shape: Shape, kernel_size: Pair, stride: Pair, pad: Pair, to_matrix: bool
) -> Tensor:
    # fold is col2im on unfold's layout (N, C*KH*KW, OH*OW).
    n, c, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(pad)
    blocks = ((h + 2 * ph - kh) // sh + 1) * ((w + 2 * pw - kw) // sw + 1)
    cols = (
        x.reshape((n, blocks, c * kh * kw)).transpose(1, 2)
        if to_matrix
        else x.reshape((n, c * kh * kw, blocks))
    )
    return nnf.fold(cols, (h, w), kernel_size, padding=pad, stride=stride)


def _conv() -> list[OracleCase]:
    # The convolutions are bilinear and the pooling/im2col family linear or piecewise linear: the
    # "squared" rows make their higher derivatives non-zero.
    cases: list[OracleCase] = []
    for head in ("linear", "square"):
        label = "" if head == "linear" else "squared"
        cases += [
            OracleCase("conv2d", conv_cases(), _conv2d, _conv2d_ref, label, head=head),
            OracleCase("deconv2d", deconv_cases(), _deconv2d, _deconv2d_ref, label, head=head),
            OracleCase("conv2d_simple", conv_cases(), _conv2d_simple, _conv2d_ref, label, head=head),
            OracleCase("pooling", _pooling_case(True), _pooling, _pooling_ref, label, head=head),
            OracleCase(
                "pooling_simple", _pooling_case(True), _pooling_simple, _pooling_ref, label, head=head
            ),
            OracleCase(
                "average_pooling",
                _pooling_case(False),
                _average_pooling,
                _average_pooling_ref,
                label,
                head=head,
            ),
            OracleCase("im2col", _im2col_case(), _im2col, _im2col_ref, label, head=head),
            OracleCase("col2im", col2im_cases(), _col2im, _col2im_ref, label, head=head),
        ]
    return cases


C_WEIGHT = 0.5
"""The cell's share of an LSTM case's one output, ``h_new + C_WEIGHT * c_new`` (both checked)."""


def _lstm(name: str) -> Any:
    step = flat(getattr(F, name))

    def dz(*xs: Variable, has_h: bool, has_c: bool) -> Variable:
        h, c = step(*xs, has_h=has_h, has_c=has_c)
        return h + c * C_WEIGHT

    return dz


def _lstm_ref(*ts: Tensor, has_h: bool, has_c: bool) -> Tensor:
    # The LSTM step written out with torch's primitives, gates (f, i, o, u) as drawn.
    x, rest = ts[0], list(ts[1:])
    h = rest.pop(0) if has_h else None
    c = rest.pop(0) if has_c else None
    acts: list[Tensor] = []
    while rest:
        W_x, b = rest.pop(0), rest.pop(0)
        pre = x @ W_x + b
        if h is not None:
            pre = pre + h @ rest.pop(0)
        acts.append(pre)
    i, o, u = acts[-3].sigmoid(), acts[-2].sigmoid(), acts[-1].tanh()
    c_new = i * u if c is None else acts[0].sigmoid() * c + i * u
    return o * c_new.tanh() + c_new * C_WEIGHT


def _recurrent() -> list[OracleCase]:
    return [
        OracleCase(name, lstm_case(), _lstm(name), _lstm_ref) for name in ("lstm_step", "lstm_step_simple")
    ]


CASES: list[OracleCase] = [*_activations(), *_losses(), *_regularization(), *_conv(), *_recurrent()]
