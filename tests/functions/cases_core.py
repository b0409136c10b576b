"""Registry rows for arithmetic, elementwise math, shape, reduction and linear algebra."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.functions.registry import Drawn, GradCase, drawn
from tests.strategies import Shape, arrays, away_from_zero, broadcastable_pair, distinct, shapes
from typed_dezero import Variable

Draw = st.DrawFn


def _pair(
    lo0: float = -2.0, hi0: float = 2.0, *, denominator: bool = False, positive_base: bool = False
) -> st.SearchStrategy[Drawn]:
    @st.composite
    def build(draw: Draw) -> Drawn:
        s0, s1 = draw(broadcastable_pair())
        x0 = draw(arrays(s0, 0.5, 2.0) if positive_base else arrays(s0, lo0, hi0))
        x1 = draw(away_from_zero(s1, 0.5, 2.0) if denominator else arrays(s1))
        return Drawn((x0, x1))

    return build()


def _same_shape_pair() -> st.SearchStrategy[Drawn]:
    return shapes().flatmap(lambda s: drawn(arrays(s), arrays(s)))


@st.composite
def _axis_case(
    draw: Draw, values: st.SearchStrategy[Any] | None = None, distinct_values: bool = False
) -> Drawn:
    shape: Shape = draw(shapes(min_dims=0, max_dims=3))
    x = draw(distinct(shape) if distinct_values else arrays(shape))
    nd = len(shape)
    choices: list[Any] = [None]
    if nd:
        choices += [draw(st.integers(-nd, nd - 1))]
        axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        choices += [tuple(axes)]
    axis = draw(st.sampled_from(choices))
    return Drawn((x,), {"axis": axis, "keepdims": draw(st.booleans())})


@st.composite
def _reshape_case(draw: Draw) -> Drawn:
    shape: Shape = draw(shapes(min_dims=0, max_dims=3))
    x = draw(arrays(shape))
    size = x.size
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = draw(st.sampled_from(divisors))
    target = draw(st.sampled_from([(size,), (d, size // d), (size // d, 1, d), (-1, d)]))
    return Drawn((x,), {"shape": target})


@st.composite
def _transpose_case(draw: Draw) -> Drawn:
    shape: Shape = draw(shapes(min_dims=1, max_dims=4))
    perm = draw(st.permutations(range(len(shape))))
    negative = draw(st.booleans())
    axes: tuple[int, ...] | None = tuple(a - len(shape) if negative else a for a in perm)
    if draw(st.booleans()):
        axes = None
    return Drawn((draw(arrays(shape)),), {"axes": axes})


@st.composite
def _get_item_case(draw: Draw) -> Drawn:
    x = draw(arrays((4, 3)))
    index = draw(
        st.sampled_from(
            [
                1,
                -1,
                (slice(1, 3), 2),
                (Ellipsis, slice(None, None, 2)),
                np.array([0, 2, 2, 3]),  # repeated indices accumulate
                (np.array([1, 1]), np.array([0, 2])),
                np.array([True, False, True, True]),
                (slice(None), None, 1),
            ]
        )
    )
    return Drawn((x,), {"index": index})


@st.composite
def _broadcast_to_case(draw: Draw) -> Drawn:
    target: Shape = draw(shapes(min_dims=1, max_dims=3))
    keep = draw(st.integers(0, len(target)))
    source = tuple(draw(st.sampled_from([1, n])) for n in target[len(target) - keep :])
    return Drawn((draw(arrays(source)),), {"shape": target})


@st.composite
def _sum_to_case(draw: Draw) -> Drawn:
    source: Shape = draw(shapes(min_dims=1, max_dims=3))
    keep = draw(st.integers(0, len(source)))
    target = tuple(draw(st.sampled_from([1, n])) for n in source[len(source) - keep :])
    return Drawn((draw(arrays(source)),), {"shape": target})


@st.composite
def _expand_dims_case(draw: Draw) -> Drawn:
    shape: Shape = draw(shapes(min_dims=0, max_dims=3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return Drawn((draw(arrays(shape)),), {"axis": axis})


@st.composite
def _squeeze_case(draw: Draw) -> Drawn:
    shape: Shape = draw(shapes(min_dims=0, max_dims=2))
    axis = draw(st.integers(0, len(shape)))
    full = (*shape[:axis], 1, *shape[axis:])
    return Drawn((draw(arrays(full)),), {"axis": axis})


_MATMUL_SHAPES: list[tuple[Shape, Shape]] = [
    ((2, 3), (3, 4)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (4, 3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)),
]


def _matmul_case() -> st.SearchStrategy[Drawn]:
    return st.sampled_from(_MATMUL_SHAPES).flatmap(lambda s: drawn(arrays(s[0]), arrays(s[1])))


@st.composite
def _linear_case(draw: Draw) -> Drawn:
    lead: Shape = draw(shapes(min_dims=0, max_dims=2))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, w = draw(arrays((*lead, n_in))), draw(arrays((n_in, n_out)))
    if draw(st.booleans()):
        return Drawn((x, w, draw(arrays((n_out,)))))
    return Drawn((x, w))


def _pow_const(x: Variable, c: float) -> Variable:
    return F.pow(x, c)


def _with_number(op: Callable[[Any, Any], Variable]) -> Callable[..., Variable]:
    """`op` with a Python number on the left or on the right of a Variable."""

    def fn(x: Variable, c: float, left: bool) -> Variable:
        return op(c, x) if left else op(x, c)

    return fn


def _number_case(lo: float = -2.0, hi: float = 2.0) -> st.SearchStrategy[Drawn]:
    numbers = st.one_of(st.integers(-3, 3).filter(bool), st.floats(0.5, 2.0), st.floats(-2.0, -0.5))
    return shapes().flatmap(lambda s: drawn(away_from_zero(s, 0.5, 2.0), c=numbers, left=st.booleans()))


CASES: list[GradCase] = [
    GradCase("add", F.add, _pair(), "broadcast"),
    GradCase("sub", F.sub, _pair(), "broadcast"),
    GradCase("mul", F.mul, _pair(), "broadcast"),
    GradCase("div", F.div, _pair(denominator=True), "broadcast"),
    GradCase("add", _with_number(F.add), _number_case(), "python number"),
    GradCase("sub", _with_number(F.sub), _number_case(), "python number"),
    GradCase("mul", _with_number(F.mul), _number_case(), "python number"),
    GradCase("div", _with_number(F.div), _number_case(), "python number"),
    GradCase("rsub", F.rsub, _same_shape_pair()),
    GradCase("rdiv", F.rdiv, shapes().flatmap(lambda s: drawn(away_from_zero(s, 0.5), arrays(s)))),
    GradCase("neg", F.neg, shapes().flatmap(lambda s: drawn(arrays(s)))),
    GradCase(
        "pow",
        _pow_const,
        shapes().flatmap(lambda s: drawn(arrays(s, 0.5, 2.0), c=st.sampled_from([2, 3, 0.5, -1.5, 1, 0]))),
        "constant exponent",
    ),
    GradCase("pow", F.pow, _pair(positive_base=True), "variable exponent, broadcast"),
    GradCase("square", F.square, shapes().flatmap(lambda s: drawn(arrays(s)))),
    GradCase("exp", F.exp, shapes().flatmap(lambda s: drawn(arrays(s)))),
    GradCase("log", F.log, shapes().flatmap(lambda s: drawn(arrays(s, 0.3, 3.0)))),
    GradCase("sin", F.sin, shapes().flatmap(lambda s: drawn(arrays(s, -3.0, 3.0)))),
    GradCase("cos", F.cos, shapes().flatmap(lambda s: drawn(arrays(s, -3.0, 3.0)))),
    GradCase("tanh", F.tanh, shapes().flatmap(lambda s: drawn(arrays(s)))),
    GradCase("sqrt", F.sqrt, shapes().flatmap(lambda s: drawn(arrays(s, 0.3, 3.0)))),
    GradCase("abs", F.abs, shapes().flatmap(lambda s: drawn(away_from_zero(s)))),
    GradCase("reshape", F.reshape, _reshape_case()),
    GradCase("transpose", F.transpose, _transpose_case()),
    GradCase("get_item", F.get_item, _get_item_case()),
    GradCase("expand_dims", F.expand_dims, _expand_dims_case()),
    GradCase("squeeze", F.squeeze, _squeeze_case()),
    GradCase("flatten", F.flatten, shapes(min_dims=1).flatmap(lambda s: drawn(arrays(s)))),
    GradCase("broadcast_to", F.broadcast_to, _broadcast_to_case()),
    GradCase("sum_to", F.sum_to, _sum_to_case()),
    GradCase("sum", F.sum, _axis_case()),
    GradCase("mean", F.mean, _axis_case()),
    GradCase("average", F.average, _axis_case()),
    GradCase("max", F.max, _axis_case(distinct_values=True)),
    GradCase("min", F.min, _axis_case(distinct_values=True)),
    GradCase("matmul", F.matmul, _matmul_case()),
    GradCase("linear", F.linear, _linear_case()),
    GradCase("linear_simple", F.linear_simple, _linear_case()),
]
