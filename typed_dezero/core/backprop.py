"""One step of the backward walk (Variable.backward) for one Function: gather its output
gradients (zeros for outputs that got none), run its backward, and check one gradient of the right
shape per input. Two flavours: on Variables (`backward`, differentiable) and, when no graph of the
backward pass is wanted, on plain arrays (`backward_data`, when the Function defines it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from typed_dezero._checking import BACKWARD_FIX, TypeCheckError, method_violation
from typed_dezero._typing import Arr, describe, is_f64_array, is_tuple
from typed_dezero.errors import DezeroError, DezeroTypeError, ShapeError

if TYPE_CHECKING:
    from typed_dezero.core.function import Function

__all__ = ["array_grads_error", "backward_step", "gradient_shape_error", "zeros_for_output"]


def _output_grad(f: Function[Any, Any], i: int) -> Variable | None:
    y = f.outputs[i]()
    return None if y is None else y.grad


def zeros_for_output(f: Function[Any, Any], i: int) -> Arr:
    y = f.outputs[i]()
    # An output that got no gradient (unused or dropped) contributes zeros.
    return np.zeros(f.output_shapes[i] if y is None else y.shape, dtype=np.float64)


def _count_error(f: Function[Any, Any], method: str, n: int) -> DezeroTypeError:
    msg = f"{type(f).__name__}.{method} returned {n} gradient(s) for {len(f.inputs)} input(s)"
    return DezeroTypeError(msg)


def gradient_shape_error(f: Function[Any, Any], method: str, i: int, got: tuple[int, ...]) -> ShapeError:
    msg = (
        f"{type(f).__name__}.{method} returned a gradient of shape {got} for input {i} "
        f"of shape {f.inputs[i].shape}"
    )
    return ShapeError(msg)


def backward_step(f: Function[Any, Any]) -> tuple[Variable, ...]:
    """Run ``f.backward`` on the output gradients; one checked gradient Variable per input."""
    outputs = f.outputs
    result: object
    try:  # costs nothing unless raised (zero-cost exceptions)
        if len(outputs) == 1:
            y = outputs[0]()
            gy = None if y is None else y.grad
            result = f.backward(gy if gy is not None else Variable(zeros_for_output(f, 0)))
        else:
            gys: list[Variable] = []
            for i in range(len(outputs)):
                g = _output_grad(f, i)
                gys.append(g if g is not None else Variable(zeros_for_output(f, i)))
            result = f.backward(*gys)
    except TypeCheckError as violation:
        error = method_violation(f, "backward", violation)
        if error is None:
            raise  # not about backward's own arguments or result
        raise error from violation
    gxs = result if is_tuple(result) else (result,)
    inputs = f.inputs
    if len(gxs) != len(inputs):
        raise _count_error(f, "backward", len(gxs))
    checked: list[Variable] = []
    for i, gx in enumerate(gxs):
        if not isinstance(gx, Variable):
            msg = (
                f"{type(f).__name__}.backward must return a Variable per input, returned {describe(gx)} for "
                f"input {i}; {BACKWARD_FIX}"
            )
            raise DezeroTypeError(msg)
        if gx.shape != inputs[i].shape:
            raise gradient_shape_error(f, "backward", i, gx.shape)
        checked.append(gx)
    return tuple(checked)


def array_grads_error(f: Function[Any, Any], result: object) -> DezeroError:
    """The error to raise for a ``backward_data`` result that failed the engine's check: the first
    input that requires a gradient and got no float64 array of its shape, else a count mismatch."""
    gxs = result if is_tuple(result) else (result,)
    name = type(f).__name__
    for i, (x, gx) in enumerate(zip(f.inputs, gxs, strict=False)):
        if not x.requires_grad or isinstance(gx, np.float64):
            continue
        if not is_f64_array(gx):
            msg = (
                f"{name}.backward_data must return a float64 array per input, returned {describe(gx)} "
                f"for input {i}"
            )
            return DezeroTypeError(msg)
        if gx.shape != x.shape:
            return gradient_shape_error(f, "backward_data", i, gx.shape)
    return _count_error(f, "backward_data", len(gxs))


from typed_dezero.core.variable import Variable  # noqa: E402  (variable.py imports this module)
