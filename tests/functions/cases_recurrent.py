"""Gradient-check rows of the recurrent cells (lstm_step, lstm_step_simple), and the shared
strategy and flat-argument adapter their oracle cases and tests use.

The drawn arrays are the ones the step uses: x, h (when drawn), c (when drawn), then per gate of
(f, i, o, u) W_x, b and W_h (when h is drawn), the forget gate only with c; the adapter passes
zeros for weights the step leaves out, so that every drawn array gets a gradient."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.functions.registry import Drawn, GradCase
from tests.strategies import arrays
from typed_dezero import Arr, Variable

Draw = st.DrawFn
Step = Callable[..., tuple[Variable, Variable]]


@st.composite
def lstm_case(draw: Draw) -> Drawn:
    n, i, h = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    has_h, has_c = draw(st.booleans()), draw(st.booleans())
    xs: list[Arr] = [draw(arrays((n, i)))]
    if has_h:
        xs.append(draw(arrays((n, h))))
    if has_c:
        xs.append(draw(arrays((n, h))))
    for _ in range(4 if has_c else 3):
        xs += [draw(arrays((i, h))), draw(arrays((h,)))]
        if has_h:
            xs.append(draw(arrays((h, h))))
    return Drawn(tuple(xs), {"has_h": has_h, "has_c": has_c})


def unflatten(
    xs: Sequence[Variable], has_h: bool, has_c: bool
) -> tuple[
    Variable,
    Variable | None,
    Variable | None,
    list[Variable | Arr],
    list[Variable | Arr],
    list[Variable | Arr],
]:
    """(x, h, c, W_x, b, W_h) from the drawn arrays (see the module docstring)."""
    x, rest = xs[0], list(xs[1:])
    h = rest.pop(0) if has_h else None
    c = rest.pop(0) if has_c else None
    n_in, hidden = x.shape[1], rest[1].shape[0]
    W_x: list[Variable | Arr] = []
    b: list[Variable | Arr] = []
    W_h: list[Variable | Arr] = []
    if not has_c:  # the forget gate takes no part: its weights are constants
        W_x.append(np.zeros((n_in, hidden)))
        b.append(np.zeros(hidden))
        W_h.append(np.zeros((hidden, hidden)))
    while rest:
        W_x.append(rest.pop(0))
        b.append(rest.pop(0))
        W_h.append(rest.pop(0) if has_h else np.zeros((hidden, hidden)))
    return x, h, c, W_x, b, W_h


def flat(step: Step) -> Callable[..., tuple[Variable, Variable]]:
    """`step` called with the drawn arrays and the drawn has_h / has_c."""

    def call(*xs: Variable, has_h: bool, has_c: bool) -> tuple[Variable, Variable]:
        x, h, c, W_x, b, W_h = unflatten(xs, has_h, has_c)
        return step(
            x,
            h,
            c,
            (W_x[0], W_x[1], W_x[2], W_x[3]),
            (b[0], b[1], b[2], b[3]),
            (W_h[0], W_h[1], W_h[2], W_h[3]),
        )

    return call


CASES: list[GradCase] = [
    GradCase("lstm_step", flat(F.lstm_step), lstm_case()),
    GradCase("lstm_step_simple", flat(F.lstm_step_simple), lstm_case()),
]
