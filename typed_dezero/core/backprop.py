"""What the backward walk (Variable.backward) asks of each Function: its output gradients, with
zeros for outputs that got none, and its input gradients, checked against the inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from typed_dezero._typing import describe, is_tuple
from typed_dezero.errors import DezeroTypeError, ShapeError

if TYPE_CHECKING:
    from typed_dezero.core.function import Function

__all__ = ["call_backward", "output_grads"]


def output_grads(f: Function[Any, Any]) -> list[Variable]:
    """The gradient of each output of `f`; zeros for an output that got none (unused or dropped)."""
    gys: list[Variable] = []
    for i, ref in enumerate(f.outputs):
        y = ref()
        gy = None if y is None else y.grad
        if gy is None:
            shape = f.output_shapes[i] if y is None else y.shape
            gy = Variable(np.zeros(shape, dtype=np.float64))
        gys.append(gy)
    return gys


def call_backward(f: Function[Any, Any], gys: list[Variable]) -> tuple[Variable, ...]:
    """Run ``f.backward`` and check that it returned one Variable of the right shape per input."""
    result: object = f.backward(*gys)
    gxs = result if is_tuple(result) else (result,)
    name = type(f).__name__
    if len(gxs) != len(f.inputs):
        msg = f"{name}.backward returned {len(gxs)} gradient(s) for {len(f.inputs)} input(s)"
        raise DezeroTypeError(msg)
    checked: list[Variable] = []
    for i, (x, gx) in enumerate(zip(f.inputs, gxs, strict=True)):
        if not is_variable(gx):
            msg = (
                f"{name}.backward must return a Variable per input, returned {describe(gx)} for input {i}; "
                "compute gradients with Variables (e.g. gy * x) so they stay differentiable"
            )
            raise DezeroTypeError(msg)
        if gx.shape != x.shape:
            msg = f"{name}.backward returned a gradient of shape {gx.shape} for input {i} of shape {x.shape}"
            raise ShapeError(msg)
        checked.append(gx)
    return tuple(checked)


from typed_dezero.core.variable import Variable, is_variable  # noqa: E402  (variable.py imports this module)
