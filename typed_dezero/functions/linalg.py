"""Linear algebra: matmul with NumPy's semantics, the fused linear map ``x W + b``, and the
book's teaching composition of that map, linear_simple."""

from __future__ import annotations

from typing import final

import numpy as np
from typing_extensions import override

from typed_dezero._typing import Arr, Shape, too_large
from typed_dezero.core.function import SKIPPED_GRAD, BinaryFunction, TernaryFunction
from typed_dezero.core.variable import Variable
from typed_dezero.errors import ShapeError
from typed_dezero.functions._util import as_f64, check_operand, sum_to_array
from typed_dezero.functions.shape import reshape, sum_to, transpose

__all__ = ["linear", "linear_simple", "matmul"]


def _matmul_shape(where: str, a: Shape, b: Shape) -> Shape:
    """The shape of ``a @ b`` under NumPy's rules, or a ShapeError naming both shapes."""
    if not a or not b:
        msg = f"{where}: operands must have at least 1 dimension; got x0.shape={a}, x1.shape={b}"
        raise ShapeError(msg)
    k0 = a[-1]
    k1 = b[0] if len(b) == 1 else b[-2]
    if k0 != k1:
        dim = "x1.shape[0]" if len(b) == 1 else "x1.shape[-2]"
        msg = f"{where}: x0.shape[-1] must equal {dim}; got x0.shape={a}, x1.shape={b}"
        raise ShapeError(msg)
    try:
        batch = np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        msg = f"{where}: batch dimensions do not broadcast; got x0.shape={a}, x1.shape={b}"
        raise ShapeError(msg) from None
    rows = a[-2:-1] if len(a) > 1 else ()
    cols = b[-1:] if len(b) > 1 else ()
    shape = batch + rows + cols
    if too_large(shape):
        msg = f"{where}: the product of x0.shape={a} and x1.shape={b} would have shape {shape}, too large"
        raise ShapeError(msg)
    return shape


def _swap_last(x: Variable) -> Variable:
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, tuple(axes))


@final
class MatMul(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        _matmul_shape("matmul", x0.shape, x1.shape)
        return as_f64(np.matmul(x0, x1))

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        # Promote 1-D operands to matrices as NumPy does, differentiate the batched matrix product,
        # then sum out broadcast batch axes and drop the promoted axes again.
        a = reshape(x0, (1, x0.shape[0])) if x0.ndim == 1 else x0
        b = reshape(x1, (x1.shape[0], 1)) if x1.ndim == 1 else x1
        g = reshape(gy, _matmul_shape("matmul", a.shape, b.shape))
        ga = sum_to(matmul(g, _swap_last(b)), a.shape)
        gb = sum_to(matmul(_swap_last(a), g), b.shape)
        return reshape(ga, x0.shape), reshape(gb, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        v0, v1 = self.inputs
        x0, x1 = v0.data, v1.data
        a = x0.reshape(1, -1) if x0.ndim == 1 else x0
        b = x1.reshape(-1, 1) if x1.ndim == 1 else x1
        g = gy.reshape(_matmul_shape("matmul", a.shape, b.shape))
        ga, gb = SKIPPED_GRAD, SKIPPED_GRAD
        if v0.requires_grad:
            ga = sum_to_array(as_f64(np.matmul(g, np.swapaxes(b, -1, -2))), a.shape).reshape(x0.shape)
        if v1.requires_grad:
            gb = sum_to_array(as_f64(np.matmul(np.swapaxes(a, -1, -2), g)), b.shape).reshape(x1.shape)
        return ga, gb


def matmul(x0: Variable | Arr, x1: Variable | Arr) -> Variable:
    """Matrix product with ``numpy.matmul`` semantics: 1-D operands are vectors, leading dimensions
    are batch dimensions and broadcast. Raises ShapeError naming both shapes on a mismatch."""
    check_operand("matmul", x0, "x0")
    check_operand("matmul", x1, "x1")
    return MatMul()(x0, x1)


@final
class Linear(TernaryFunction):
    @override
    def forward(self, x: Arr, W: Arr, b: Arr, /) -> Arr:
        y = x @ W
        y += b  # in place: no temporary the size of the output
        return y

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable, Variable]:
        x, W, b = self.inputs
        return (*_linear_grads(x, W, gy), sum_to(gy, b.shape))

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr, Arr]:
        x, W, b = self.inputs
        return (*_linear_grads_data(x, W, gy), sum_to_array(gy, b.shape) if b.requires_grad else SKIPPED_GRAD)


@final
class LinearNoBias(BinaryFunction):
    @override
    def forward(self, x: Arr, W: Arr, /) -> Arr:
        return x @ W

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x, W = self.inputs
        return _linear_grads(x, W, gy)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x, W = self.inputs
        return _linear_grads_data(x, W, gy)


def _linear_grads(x: Variable, W: Variable, gy: Variable) -> tuple[Variable, Variable]:
    gx = matmul(gy, W.T)
    # Leading dimensions of x are batch dimensions: fold them into one before the weight gradient.
    x2 = reshape(x, (-1, x.shape[-1])) if x.ndim != 2 else x
    gy2 = reshape(gy, (-1, gy.shape[-1])) if gy.ndim != 2 else gy
    return gx, matmul(x2.T, gy2)


def _linear_grads_data(x: Variable, W: Variable, gy: Arr) -> tuple[Arr, Arr]:
    # The input batch is usually a constant (a raw array): then its gradient is not computed.
    gx = as_f64(gy @ W.data.T) if x.requires_grad else SKIPPED_GRAD
    if not W.requires_grad:
        return gx, SKIPPED_GRAD
    xd = x.data
    x2 = xd.reshape(-1, xd.shape[-1])
    gy2 = gy.reshape(-1, gy.shape[-1])
    return gx, as_f64(x2.T @ gy2)


def _check_linear(where: str, x: Variable | Arr, W: Variable | Arr, b: Variable | Arr | None) -> None:
    check_operand(where, x)
    check_operand(where, W, "W")
    if b is not None:
        check_operand(where, b, "b")
    if x.ndim < 1 or W.ndim != 2 or x.shape[-1] != W.shape[0]:
        msg = f"{where}: x.shape[-1] must equal W.shape[0] (W 2-D); got x.shape={x.shape}, W.shape={W.shape}"
        raise ShapeError(msg)
    if too_large((*x.shape[:-1], W.shape[1])):
        msg = f"{where}: x.shape={x.shape} and W.shape={W.shape} would give a result too large for an array"
        raise ShapeError(msg)
    if b is not None and b.shape != (W.shape[1],):
        msg = f"{where}: b must have shape (W.shape[1],); got b.shape={b.shape}, W.shape={W.shape}"
        raise ShapeError(msg)


def linear(x: Variable | Arr, W: Variable | Arr, b: Variable | Arr | None = None) -> Variable:
    """``x @ W + b`` for x of shape (..., I), W of shape (I, O) and b of shape (O,) (or None).
    Leading dimensions of `x` are kept. Raises ShapeError on mismatched shapes."""
    # Shapes are checked on the operands as given: a raw array x stays a constant of the graph.
    _check_linear("linear", x, W, b)
    if b is None:
        return LinearNoBias()(x, W)
    return Linear()(x, W, b)


def linear_simple(x: Variable | Arr, W: Variable | Arr, b: Variable | Arr | None = None) -> Variable:
    """``matmul(x, W) + b`` composed from primitives, as the book first writes it: the values and
    derivatives of :func:`linear` (same arguments and errors), which is fused to save the
    intermediate product node."""
    _check_linear("linear_simple", x, W, b)
    t = matmul(x, W)
    return t if b is None else t + b
