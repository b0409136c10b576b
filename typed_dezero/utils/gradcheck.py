"""Numerical differentiation and gradient checking against central differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import overload

import numpy as np

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, Shape
from typed_dezero.core.variable import Variable, is_variable, to_variable
from typed_dezero.errors import DezeroTypeError, DezeroValueError

__all__ = ["GradientCheckResult", "gradient_check", "numerical_diff", "numerical_grad"]

Outputs = Variable | tuple[Variable, ...]
"""What a checked function returns: one Variable or a tuple of them."""


@typechecked
def numerical_diff(f: Callable[[Variable], Variable], x: Variable, eps: float = 1e-4) -> Arr:
    """Central difference ``(f(x + eps) - f(x - eps)) / (2 eps)``, elementwise (the founding notebook's
    derivative of an elementwise `f`). `x` is left unchanged.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero import Variable
        >>> from typed_dezero.utils import numerical_diff
        >>> numerical_diff(F.square, Variable(np.array([1.0, 2.0])))
        array([2., 4.])
    """
    y0 = f(Variable(np.asarray(x.data - eps)))
    y1 = f(Variable(np.asarray(x.data + eps)))
    return np.asarray((y1.data - y0.data) / (2 * eps))


def _weighted_sum(out: Outputs, weights: list[Arr]) -> float:
    outs = out if isinstance(out, tuple) else (out,)
    return float(sum(float(np.sum(o.data * w)) for o, w in zip(outs, weights, strict=True)))


def _cotangents(out: Outputs, rng: np.random.Generator) -> list[Arr]:
    outs = out if isinstance(out, tuple) else (out,)
    for i, o in enumerate(outs):
        if not is_variable(o):
            msg = f"gradient_check: the function must return Variables, output {i} is {type(o).__name__}"
            raise DezeroTypeError(msg)
    # Random weights rather than ones: a symmetric seed would hide transposed or permuted gradients.
    return [rng.uniform(0.5, 1.5, size=o.shape) for o in outs]


Input = Variable | Arr
# The overloads give a lambda's parameters the type Variable (pyright infers them from the first
# three); any number of inputs works through the last one.


@overload
def numerical_grad(f: Callable[[Variable], Outputs], x0: Input, /, *, eps: float = ...) -> list[Arr]: ...
@overload
def numerical_grad(
    f: Callable[[Variable, Variable], Outputs], x0: Input, x1: Input, /, *, eps: float = ...
) -> list[Arr]: ...
@overload
def numerical_grad(
    f: Callable[[Variable, Variable, Variable], Outputs],
    x0: Input,
    x1: Input,
    x2: Input,
    /,
    *,
    eps: float = ...,
) -> list[Arr]: ...
@overload
def numerical_grad(f: Callable[..., Outputs], *inputs: Input, eps: float = ...) -> list[Arr]: ...
@typechecked
def numerical_grad(f: Callable[..., Outputs], *inputs: Input, eps: float = 1e-4) -> list[Arr]:
    """Central-difference gradients of ``sum(f(*inputs))`` with respect to every input.

    For several outputs the sum runs over all of them. The inputs are left unchanged.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero.utils import numerical_grad
        >>> gx, gy = numerical_grad(lambda x, y: x * y, np.array(2.0), np.array(3.0))
        >>> float(gx), float(gy)
        (3.0, 2.0)
    """
    base = [to_variable("numerical_grad", x, "x").data.copy() for x in inputs]
    weights = [np.ones(o.shape) for o in _as_tuple(f(*[Variable(a.copy()) for a in base]))]
    return _central_differences(f, base, weights, eps)


def _as_tuple(out: Outputs) -> tuple[Variable, ...]:
    return out if isinstance(out, tuple) else (out,)


def _central_differences(
    f: Callable[..., Outputs], base: list[Arr], weights: list[Arr], eps: float
) -> list[Arr]:
    grads: list[Arr] = []
    for i, a in enumerate(base):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            shifted = [b.copy() for b in base]
            shifted[i][idx] = a[idx] + eps
            plus = _weighted_sum(f(*[Variable(s) for s in shifted]), weights)
            shifted[i][idx] = a[idx] - eps
            minus = _weighted_sum(f(*[Variable(s) for s in shifted]), weights)
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


@dataclass(frozen=True)
class GradientCheckResult:
    """The outcome of :func:`gradient_check`; true when every gradient matched.

    ``worst_*`` describe the element with the largest mismatch ``|analytic - numeric| - rtol*|numeric|``.

    Examples:
        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero.utils import gradient_check
        >>> result = gradient_check(F.tanh, np.array([0.3, -1.2]))
        >>> result.ok, result.order
        (True, 1)
        >>> print(result)
        gradient check (order 1) ok: worst at input ..., index (...): analytic ... vs numeric ...
    """

    ok: bool
    order: int
    worst_input: int
    worst_index: Shape
    analytic: float
    numeric: float
    max_abs_error: float

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return (
            f"gradient check (order {self.order}) {verdict}: worst at input {self.worst_input}, index "
            f"{self.worst_index}: analytic {self.analytic:.8g} vs numeric {self.numeric:.8g} "
            f"(max abs error {self.max_abs_error:.3g})"
        )


def _analytic_grads(
    f: Callable[..., Outputs], xs: list[Variable], weights: list[Arr], create_graph: bool
) -> list[Variable]:
    outs = _as_tuple(f(*xs))
    total: Variable | None = None
    for o, w in zip(outs, weights, strict=True):
        term = (o * w).sum()
        total = term if total is None else total + term
    if total is None:
        msg = "gradient_check: the function returned no outputs"
        raise DezeroValueError(msg)
    total.backward(create_graph=create_graph)
    return [x.grad if x.grad is not None else Variable(np.zeros_like(x.data)) for x in xs]


@overload
def gradient_check(
    f: Callable[[Variable], Outputs],
    x0: Input,
    /,
    *,
    order: int = ...,
    eps: float = ...,
    rtol: float = ...,
    atol: float = ...,
    seed: int = ...,
) -> GradientCheckResult: ...
@overload
def gradient_check(
    f: Callable[[Variable, Variable], Outputs],
    x0: Input,
    x1: Input,
    /,
    *,
    order: int = ...,
    eps: float = ...,
    rtol: float = ...,
    atol: float = ...,
    seed: int = ...,
) -> GradientCheckResult: ...
@overload
def gradient_check(
    f: Callable[[Variable, Variable, Variable], Outputs],
    x0: Input,
    x1: Input,
    x2: Input,
    /,
    *,
    order: int = ...,
    eps: float = ...,
    rtol: float = ...,
    atol: float = ...,
    seed: int = ...,
) -> GradientCheckResult: ...
@overload
def gradient_check(
    f: Callable[..., Outputs],
    *inputs: Input,
    order: int = ...,
    eps: float = ...,
    rtol: float = ...,
    atol: float = ...,
    seed: int = ...,
) -> GradientCheckResult: ...
@typechecked
def gradient_check(
    f: Callable[..., Outputs],
    *inputs: Input,
    order: int = 1,
    eps: float = 1e-4,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    seed: int = 0,
) -> GradientCheckResult:
    """Compare backprop gradients of `f` with central differences, for every input.

    The scalar checked is ``sum(w * f(*inputs))`` with fixed random weights ``w`` (each output of a
    multi-output `f` gets its own). With ``order=2`` the first gradients (computed with
    ``create_graph=True``) are differentiated again and checked the same way. The inputs are left
    unchanged. The result is truthy when all gradients match within ``atol + rtol * |numeric|``;
    its fields and ``str()`` report the worst mismatch.

    Examples:
        A correct derivative passes, to first and to second order:

        >>> import numpy as np
        >>> import typed_dezero.functions as F
        >>> from typed_dezero.utils import gradient_check
        >>> x = np.array([[0.5, -1.0], [2.0, 0.1]])
        >>> bool(gradient_check(lambda v: F.sin(v) * v, x))
        True
        >>> bool(gradient_check(lambda v: F.sin(v) * v, x, order=2))
        True

        Several inputs, several outputs:

        >>> W, b = np.ones((2, 3)), np.zeros(3)
        >>> bool(gradient_check(lambda v, w, c: (F.linear(v, w, c), F.exp(v)), x, W, b))
        True
    """
    if order not in (1, 2):
        msg = f"gradient_check: order must be 1 or 2, got {order}"
        raise DezeroValueError(msg)
    if not inputs:
        msg = "gradient_check: needs at least one input"
        raise DezeroValueError(msg)
    rng = np.random.default_rng(seed)
    base = [to_variable("gradient_check", x, "x").data.copy() for x in inputs]
    weights = _cotangents(f(*[Variable(a.copy()) for a in base]), rng)
    target: Callable[..., Outputs] = f
    if order == 2:
        inner_w = weights

        def first_grads(*xs: Variable) -> tuple[Variable, ...]:
            # Fresh leaves that share the arrays of xs would cut the graph: differentiate xs themselves.
            grads = _analytic_grads(f, list(xs), inner_w, create_graph=True)
            for x in xs:
                x.cleargrad()
            return tuple(grads)

        target = first_grads
        weights = [rng.uniform(0.5, 1.5, size=a.shape) for a in base]
    leaves = [Variable(a.copy()) for a in base]
    analytic = [g.data for g in _analytic_grads(target, leaves, weights, create_graph=False)]
    numeric = _central_differences(target, base, weights, eps)
    return _compare(analytic, numeric, order, rtol, atol)


def _compare(
    analytic: list[Arr], numeric: list[Arr], order: int, rtol: float, atol: float
) -> GradientCheckResult:
    worst: tuple[float, int, Shape, float, float] = (-np.inf, 0, (), 0.0, 0.0)
    ok = True
    max_abs = 0.0
    for i, (a, n) in enumerate(zip(analytic, numeric, strict=True)):
        if a.size == 0:
            continue
        err = np.abs(a - n)
        excess = err - rtol * np.abs(n)
        ok = ok and bool(np.all(excess <= atol))
        max_abs = max(max_abs, float(np.max(err)))
        idx = tuple(int(j) for j in np.unravel_index(int(np.argmax(excess)), a.shape))
        if float(excess[idx]) > worst[0]:
            worst = (float(excess[idx]), i, idx, float(a[idx]), float(n[idx]))
    _, i, idx, av, nv = worst
    return GradientCheckResult(ok, order, i, idx, av, nv, max_abs)
