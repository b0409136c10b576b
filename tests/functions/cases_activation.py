"""Registry rows for the activations (inputs of relu and leaky_relu kept away from the kink at 0)."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.functions.registry import Drawn, GradCase, drawn
from tests.strategies import Shape, arrays, away_from_zero, shapes
from typed_dezero.functions.activation import (
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    sigmoid_simple,
    softmax,
    softmax_simple,
)

Draw = st.DrawFn


@st.composite
def _axis_case(draw: Draw) -> Drawn:
    shape: Shape = draw(shapes(min_dims=1, max_dims=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return Drawn((draw(arrays(shape, -3.0, 3.0)),), {"axis": axis})


def _default_axis_case() -> st.SearchStrategy[Drawn]:
    return shapes(min_dims=2, max_dims=3).flatmap(lambda s: drawn(arrays(s, -3.0, 3.0)))


@st.composite
def _leaky_case(draw: Draw) -> Drawn:
    x = draw(shapes().flatmap(lambda s: away_from_zero(s)))
    if draw(st.booleans()):
        return Drawn((x,))  # the default slope
    return Drawn((x,), {"slope": draw(st.sampled_from([0.01, 0.5, -0.3, 1.5, 0.0]))})


CASES: list[GradCase] = [
    GradCase("sigmoid", sigmoid, shapes().flatmap(lambda s: drawn(arrays(s, -6.0, 6.0)))),
    GradCase("sigmoid_simple", sigmoid_simple, shapes().flatmap(lambda s: drawn(arrays(s, -6.0, 6.0)))),
    GradCase("relu", relu, shapes().flatmap(lambda s: drawn(away_from_zero(s)))),
    GradCase("leaky_relu", leaky_relu, _leaky_case()),
    GradCase("softmax", softmax, _axis_case(), "axis"),
    GradCase("softmax", softmax, _default_axis_case(), "default axis"),
    GradCase("softmax_simple", softmax_simple, _axis_case(), "axis"),
    GradCase("softmax_simple", softmax_simple, _default_axis_case(), "default axis"),
    GradCase("log_softmax", log_softmax, _axis_case(), "axis"),
    GradCase("log_softmax", log_softmax, _default_axis_case(), "default axis"),
]
