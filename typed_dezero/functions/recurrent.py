"""Recurrent cells: :func:`lstm_step`, one LSTM time step fused into one graph node, and
:func:`lstm_step_simple`, the same step composed from primitives as the book writes it.

Fused for speed: a step of the composed form is 21 nodes (eight products, four sums, five
activations, four products and sums of the cell), each with its own Variable, gradient and
bookkeeping; training an LSTM spent most of its time there, not in the arithmetic. The fused
forward computes the four gates with one matrix product (so its values agree with the composed
form's to rounding, not bit for bit), its first-order backward runs on arrays in one pass, and its
differentiable backward is built from primitives, so the step can be differentiated any number of
times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypeAlias, TypeVar, cast, final

import numpy as np
from typing_extensions import override

from typed_dezero._typing import Arr, Shape, describe, is_f64_array
from typed_dezero.core.function import SKIPPED_GRAD, Function
from typed_dezero.core.variable import Variable, to_variable
from typed_dezero.errors import DezeroTypeError, ShapeError
from typed_dezero.functions._recycling import empty_result, work_buffer
from typed_dezero.functions._util import as_f64, check_operand
from typed_dezero.functions.activation import sigmoid
from typed_dezero.functions.linalg import linear, matmul
from typed_dezero.functions.math import tanh
from typed_dezero.functions.reduction import sum as reduce_sum

__all__ = ["lstm_step", "lstm_step_simple"]

Input: TypeAlias = Variable | Arr
GateWeights: TypeAlias = tuple[Input, Input, Input, Input]
"""One weight (or bias) per gate, in the order (f, i, o, u): forget, input, output, update."""
GATES: Final = ("f", "i", "o", "u")

T = TypeVar("T")
_Gate: TypeAlias = "tuple[T, T, T | None]"
"""One gate's (W_x, b, W_h); W_h is None without a hidden state."""


def split_inputs(xs: Sequence[T], has_h: bool, has_c: bool) -> tuple[T, T | None, T | None, list[_Gate[T]]]:
    """The inputs of :class:`LSTMStep` (arrays, Variables, or their names in an export) in their
    layout: x, [h], [c], then per gate (W_x, b, [W_h]) for the gates f (only with c: without a cell
    there is nothing to forget), i, o, u."""
    x = xs[0]
    k = 1
    h = xs[k] if has_h else None
    k += has_h
    c = xs[k] if has_c else None
    k += has_c
    step = 3 if has_h else 2
    gates: list[_Gate[T]] = [
        (xs[j], xs[j + 1], xs[j + 2] if has_h else None) for j in range(k, len(xs), step)
    ]
    return x, h, c, gates


@final
class LSTMStep(Function):
    """``(h_new, c_new)`` of one LSTM step, a Function of 7 to 15 inputs laid out as
    :func:`split_inputs` reads them."""

    def __init__(self, has_h: bool, has_c: bool) -> None:
        self.has_h = has_h
        self.has_c = has_c

    @override
    def forward(self, *xs: Arr) -> tuple[Arr, Arr]:
        x, h, c, gates = split_inputs(xs, self.has_h, self.has_c)
        n, in_size = x.shape
        hidden = gates[0][1].shape[0]
        # All gates in one product, transposed: [W_x; W_h; b].T (G * H, I + H + 1) @ [x, h, 1].T
        # (I + H + 1, N), gate k in rows k * H:(k + 1) * H. One GEMM instead of 2 G small ones and
        # a bias pass, in the shape (more rows than columns) that OpenBLAS runs in about half the
        # time of its transpose. The stacked weights are rebuilt per step: parameters may change.
        xh1 = np.empty((in_size + (hidden if h is not None else 0) + 1, n))
        xh1[:in_size] = x.T
        if h is not None:
            xh1[in_size:-1] = h.T
        xh1[-1] = 1.0
        acts = _stacked_weights(gates, bias=True).T @ xh1
        sig = acts[:-hidden]  # f, i, o (or i, o): sigmoid as F.sigmoid computes it; u: tanh
        np.negative(sig, out=sig)
        with np.errstate(over="ignore"):  # exp(-x) = inf for x < -709 gives exactly 0, as it should
            np.exp(sig, out=sig)
        sig += 1.0
        np.divide(1.0, sig, out=sig)
        np.tanh(acts[-hidden:], out=acts[-hidden:])
        # The cell and the state in the callers' (N, H) layout, from the gates' transposed rows.
        i, o, u = acts[-3 * hidden : -2 * hidden].T, acts[-2 * hidden : -hidden].T, acts[-hidden:].T
        c_new = np.multiply(i, u, out=np.empty((n, hidden)))
        if c is not None:
            c_new += acts[:hidden].T * c
        tanh_c = np.tanh(c_new)
        self._acts, self._tanh_c = acts, tanh_c
        return np.multiply(o, tanh_c, out=np.empty((n, hidden))), c_new

    @override
    def backward(self, gh: Variable, gc: Variable, /) -> tuple[Variable, ...]:
        # Differentiable: the gates are recomputed as graph nodes of the inputs (the forward keeps
        # only arrays), then the chain rule is written with primitives.
        x, h, c, gates = split_inputs(self.inputs, self.has_h, self.has_c)
        acts = _composed_gates(x, h, gates)
        i, o, u = acts[-3:]
        c_new = i * u if c is None else acts[0] * c + i * u
        tanh_c = tanh(c_new)
        gc_new = gc + gh * o * (1.0 - tanh_c * tanh_c)
        g_pre = [gc_new * u * i * (1.0 - i), gh * tanh_c * o * (1.0 - o), gc_new * i * (1.0 - u * u)]
        grads: list[Variable] = []
        if c is not None:
            f = acts[0]
            g_pre.insert(0, gc_new * c * f * (1.0 - f))
        pairs = list(zip(g_pre, gates, strict=True))
        grads.append(_sum([matmul(g, W_x.T) for g, (W_x, _, _) in pairs]))
        if h is not None:
            grads.append(_sum([matmul(g, W_h.T) for g, (_, _, W_h) in pairs if W_h is not None]))
        if c is not None:
            grads.append(gc_new * acts[0])
        for g, (_, _, W_h) in pairs:
            grads.extend((matmul(x.T, g), reduce_sum(g, axis=0)))
            if h is not None and W_h is not None:
                grads.append(matmul(h.T, g))
        return tuple(grads)

    @override
    def backward_data(self, gh: Arr, gc: Arr, /) -> tuple[Arr, ...]:
        x, h, c, gates = split_inputs(self.inputs, self.has_h, self.has_c)
        acts, tanh_c = self._acts, self._tanh_c
        hidden = tanh_c.shape[1]
        i, o, u = acts[-3 * hidden : -2 * hidden], acts[-2 * hidden : -hidden], acts[-hidden:]
        # The gradient of c_new, transposed: through h_new = o * tanh(c_new), plus the next step's.
        # (Work buffers: the temporaries of this call, large enough to page-fault if new each step.)
        gc_new = np.multiply(tanh_c.T, tanh_c.T, out=work_buffer("lstm g_c", i.shape))
        np.subtract(1.0, gc_new, out=gc_new)
        gc_new *= o
        gc_new *= gh.T
        gc_new += gc.T
        # The gradients of the gates' pre-activations, laid out as `acts`: sigmoid' = s (1 - s),
        # tanh' = 1 - u^2, times what each gate multiplies.
        g_pre = np.subtract(1.0, acts, out=work_buffer("lstm g_pre", acts.shape))
        g_pre[:-hidden] *= acts[:-hidden]
        g_i, g_o, g_u = g_pre[-3 * hidden : -2 * hidden], g_pre[-2 * hidden : -hidden], g_pre[-hidden:]
        np.multiply(u, u, out=g_u)
        np.subtract(1.0, g_u, out=g_u)
        g_i *= gc_new
        g_i *= u
        g_o *= gh.T
        g_o *= tanh_c.T
        g_u *= gc_new
        g_u *= i
        if c is not None:
            g_f = g_pre[:hidden]
            g_f *= gc_new
            g_f *= c.data.T
        in_size = x.shape[1]
        grads: list[Arr] = [SKIPPED_GRAD]
        need_x, need_h = x.requires_grad, h is not None and h.requires_grad
        if need_x or need_h:
            # [gx, gh].T = [W_x; W_h] @ g_pre (the fast shape again); h's rows alone for a constant x.
            rows = slice(0 if need_x else in_size, -1)
            g_xh = _stacked_weights(_arrays(gates), bias=False)[rows] @ g_pre
            if need_x:
                grads[0] = g_xh[:in_size].T
            if h is not None:
                grads.append(g_xh[-hidden:].T if need_h else SKIPPED_GRAD)
        elif h is not None:
            grads.append(SKIPPED_GRAD)
        if c is not None:
            grads.append((gc_new * acts[:hidden]).T if c.requires_grad else SKIPPED_GRAD)
        # The weights' gradients, transposed, gate k's in rows k * H:(k + 1) * H of one product per
        # family: each is then a contiguous (Fortran-ordered) array, quick to accumulate.
        g_w_x = as_f64(g_pre @ x.data)
        g_w_h = None
        if h is not None:  # (recycled memory: a fresh array this large page-faults every step)
            g_w_h = np.matmul(g_pre, h.data, out=empty_result((g_pre.shape[0], hidden)))
        g_b = as_f64(g_pre.sum(axis=1))  # the method: np.sum adds a Python layer per call
        for k in range(len(gates)):
            rows_k = slice(k * hidden, (k + 1) * hidden)
            grads.extend((g_w_x[rows_k].T, g_b[rows_k]))
            if g_w_h is not None:
                grads.append(g_w_h[rows_k].T)
        return tuple(grads)


def _arrays(gates: Sequence[_Gate[Variable]]) -> list[_Gate[Arr]]:
    """The gates' (W_x, b, W_h) Variables as their arrays."""
    return [(W_x.data, b.data, None if W_h is None else W_h.data) for W_x, b, W_h in gates]


def _stacked_weights(gates: Sequence[_Gate[Arr]], *, bias: bool) -> Arr:
    """The gates' weights as one (I + H + 1, G * H) matrix, gate k in columns k * H:(k + 1) * H:
    W_x above W_h (none without h), above the biases (their row filled when `bias`)."""
    W_x0, _, W_h0 = gates[0]
    in_size, hidden = W_x0.shape
    stacked = empty_result((in_size + (hidden if W_h0 is not None else 0) + 1, len(gates) * hidden))
    for k, (W_x, b, W_h) in enumerate(gates):
        cols = slice(k * hidden, (k + 1) * hidden)
        stacked[:in_size, cols] = W_x
        if W_h is not None:
            stacked[in_size:-1, cols] = W_h
        if bias:
            stacked[-1, cols] = b
    return stacked


def _sum(terms: list[Variable]) -> Variable:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _composed_gates(x: Variable, h: Variable | None, gates: Sequence[_Gate[Input]]) -> list[Variable]:
    """The gates' activations as graph nodes: sigmoid for all but the last (u), tanh for u."""
    acts: list[Variable] = []
    for k, (W_x, b, W_h) in enumerate(gates):
        pre = linear(x, W_x, b)
        if h is not None and W_h is not None:
            pre = pre + matmul(h, W_h)
        acts.append(tanh(pre) if k == len(gates) - 1 else sigmoid(pre))
    return acts


def _family(where: str, name: str, family: object) -> tuple[Input, ...]:
    """`family` (one array per gate) as a tuple of 4 checked operands."""
    members = _as_list(family)
    if members is None or len(members) != len(GATES):
        msg = (
            f"{where}: {name} must be a tuple of 4 (one per gate, in the order f, i, o, u), "
            f"got {describe(family)}"
        )
        raise DezeroTypeError(msg)
    for k, v in enumerate(members):
        check_operand(where, v, f"{name}[{k}]")
    return tuple([v for v in members if isinstance(v, Variable) or is_f64_array(v)])


def _as_list(family: object) -> list[object] | None:
    """The items of a tuple or list, else None."""
    if isinstance(family, tuple):
        return list(cast("tuple[object, ...]", family))
    if isinstance(family, list):
        return list(cast("list[object]", family))
    return None


def _expect(where: str, name: str, got: Shape, expected: Shape, meaning: str) -> None:
    if got != expected:
        msg = f"{where}: {name} must have shape {meaning} = {expected}, got {got}"
        raise ShapeError(msg)


def _check_step(  # noqa: PLR0917 - the step's own arguments
    where: str,
    x: Input,
    h: Input | None,
    c: Input | None,
    W_x: object,
    b: object,
    W_h: object,
) -> list[_Gate[Input]]:
    """Check the arguments of an LSTM step; the gates' (W_x, b, W_h) that the step uses."""
    check_operand(where, x)
    for name, v in (("h", h), ("c", c)):
        if v is not None:
            check_operand(where, v, name)
    weights_x, biases = _family(where, "W_x", W_x), _family(where, "b", b)
    weights_h = _family(where, "W_h", W_h)
    if x.ndim != 2:
        msg = f"{where}: x must be 2-D (N, in_size), got shape {x.shape}"
        raise ShapeError(msg)
    (n, in_size), first = x.shape, weights_x[0].shape
    if len(first) != 2 or first[0] != in_size:
        msg = (
            f"{where}: W_x[0] must have shape (in_size, H) with in_size = x.shape[1] = {in_size}, got {first}"
        )
        raise ShapeError(msg)
    hidden = first[1]
    for k in range(len(GATES)):
        _expect(where, f"W_x[{k}]", weights_x[k].shape, (in_size, hidden), "(in_size, H)")
        _expect(where, f"b[{k}]", biases[k].shape, (hidden,), "(H,)")
        _expect(where, f"W_h[{k}]", weights_h[k].shape, (hidden, hidden), "(H, H)")
    for name, v in (("h", h), ("c", c)):
        if v is not None:
            _expect(where, name, v.shape, (n, hidden), "(N, H)")
    used = range(len(GATES)) if c is not None else range(1, len(GATES))
    return [(weights_x[k], biases[k], weights_h[k] if h is not None else None) for k in used]


def lstm_step(  # noqa: PLR0917 - the step's state and weights, in the order of the formulas
    x: Variable | Arr,
    h: Variable | Arr | None,
    c: Variable | Arr | None,
    W_x: GateWeights,
    b: GateWeights,
    W_h: GateWeights,
) -> tuple[Variable, Variable]:
    """One LSTM time step, fused into one graph node; returns ``(h_new, c_new)``.

    Per gate g of (f, i, o, u): ``a_g = x @ W_x[g] + b[g] + h @ W_h[g]``; ``f, i, o = sigmoid(a)``,
    ``u = tanh(a_u)``; ``c_new = f * c + i * u`` and ``h_new = o * tanh(c_new)``. The values (to
    rounding: the gates come from one matrix product) and derivatives of :func:`lstm_step_simple`.

    Arguments:
        x: (N, I) inputs.
        h: (N, H) hidden state, or None at the start of a sequence (then the ``h @ W_h`` terms
            are left out, and W_h gets no gradient).
        c: (N, H) cell, or None at the start of a sequence (then ``f * c`` is left out, and the
            forget gate's weights get no gradient, as they take no part).
        W_x: four (I, H) input weights, in the order (f, i, o, u).
        b: four (H,) biases.
        W_h: four (H, H) hidden weights.

    Raises DezeroTypeError for an operand that is not a Variable or a float64 array, or a family
    that is not four of them, and ShapeError for mismatched shapes.
    """
    gates = _check_step("lstm_step", x, h, c, W_x, b, W_h)
    inputs: list[Input] = [x]
    if h is not None:
        inputs.append(h)
    if c is not None:
        inputs.append(c)
    for W_xk, b_k, W_hk in gates:
        inputs.extend((W_xk, b_k) if W_hk is None else (W_xk, b_k, W_hk))
    h_new, c_new = LSTMStep(h is not None, c is not None)(*inputs)
    return h_new, c_new


def lstm_step_simple(  # noqa: PLR0917 - as lstm_step
    x: Variable | Arr,
    h: Variable | Arr | None,
    c: Variable | Arr | None,
    W_x: GateWeights,
    b: GateWeights,
    W_h: GateWeights,
) -> tuple[Variable, Variable]:
    """:func:`lstm_step` composed from primitives (linear, matmul, sigmoid, tanh, arithmetic), as
    the book writes an LSTM step: the same values and derivatives, 21 graph nodes instead of one.
    Same arguments and errors."""
    gates = _check_step("lstm_step_simple", x, h, c, W_x, b, W_h)
    xv = x if isinstance(x, Variable) else to_variable("lstm_step_simple", x, "x")
    hv = None if h is None else to_variable("lstm_step_simple", h, "h")
    acts = _composed_gates(xv, hv, gates)
    i, o, u = acts[-3:]
    c_new = i * u if c is None else acts[0] * c + i * u
    return o * tanh(c_new), c_new
