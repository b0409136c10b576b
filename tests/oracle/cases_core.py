"""Oracle cases for arithmetic, elementwise math, shape, reduction and linear algebra.

Shapes are drawn by hypothesis: 0-d, size-1 axes, empty arrays where the function accepts them,
broadcasting between operands, negative and tuple axes, keepdims. Values stay in each function's
domain (away from 0 for divisors, positive bases for real exponents); the kinks of abs are
included, since both libraries take the subgradient 0 there.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import typed_dezero.functions as F
from tests.functions.registry import Drawn, drawn
from tests.oracle._torch import Tensor, tensor, torch
from tests.oracle.harness import OracleCase, ref1, ref2
from tests.strategies import Shape, arrays, away_from_zero, distinct, shapes
from typed_dezero import Arr, Variable
from typed_dezero._typing import Axis, Index
from typed_dezero.core.variable import Operand

Draw = st.DrawFn
Values = Callable[[Shape], st.SearchStrategy[Arr]]
DzBinary = Callable[[Operand, Operand], Variable]
RefBinary = Callable[[Tensor, Tensor], Tensor]

# -- strategies -------------------------------------------------------------------------------


def any_shapes(min_dims: int = 0, max_dims: int = 3) -> st.SearchStrategy[Shape]:
    """Shapes with sides 1..3 and, now and then, an empty one (a side of 0)."""
    return st.one_of(
        shapes(min_dims, max_dims, 1, 3),
        shapes(min_dims, max_dims, 1, 3),
        shapes(max(min_dims, 1), max_dims, 0, 2),
    )


def pairs() -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Two shapes that broadcast together (either may be the smaller one; 0-d and empty included)."""
    full = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
    empty = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, min_side=0, max_side=2)
    return st.one_of(full, full, empty).map(lambda s: (s.input_shapes[0], s.input_shapes[1]))


def plain(lo: float = -2.0, hi: float = 2.0) -> Values:
    return lambda s: arrays(s, lo, hi)


def nonzero(lo: float = 0.5, hi: float = 2.0) -> Values:
    return lambda s: away_from_zero(s, lo, hi)


def exponents() -> Values:
    """Exponents in [-2, 2] except exactly 0 and 1. torch special-cases a 0 exponent: its gradient
    of ``x0 ** x1`` w.r.t. the base is then the constant 0 (``where(x1 == 0, 0, ...)``), which loses
    the derivative w.r.t. the exponent (``1 / x0``, kept by typed_dezero); at x1 == 1 the same
    happens one order higher, in ``x0 ** (x1 - 1)``. Central differences of torch's own lower-order
    gradients agree with typed_dezero at both points (e.g. the third order at x0 = x1 = 1)."""
    elements = st.floats(-2.0, 2.0, allow_nan=False).filter(lambda v: v not in (0.0, 1.0))
    return lambda s: hnp.arrays(np.float64, s, elements=elements)


def with_zeros() -> Values:
    """Values in [-2, 2] with exact zeros mixed in (the kink of abs, relu and leaky_relu)."""
    elements = st.one_of(st.just(0.0), st.floats(-2.0, 2.0, allow_nan=False))
    return lambda s: hnp.arrays(np.float64, s, elements=elements)


def one(values: Values, shape: st.SearchStrategy[Shape] | None = None) -> st.SearchStrategy[Drawn]:
    return (any_shapes() if shape is None else shape).flatmap(lambda s: drawn(values(s)))


def two(v0: Values, v1: Values) -> st.SearchStrategy[Drawn]:
    return pairs().flatmap(lambda s: drawn(v0(s[0]), v1(s[1])))


def t(a: Arr) -> Tensor:
    """A constant tensor (no gradient)."""
    return tensor(a)


# -- arithmetic -----------------------------------------------------------------------------------

BINARY: dict[str, tuple[DzBinary, RefBinary]] = {
    "add": (F.add, ref2(lambda a, b: a + b)),
    "sub": (F.sub, ref2(lambda a, b: a - b)),
    "mul": (F.mul, ref2(lambda a, b: a * b)),
    "div": (F.div, ref2(lambda a, b: a / b)),
    "pow": (F.pow, ref2(lambda a, b: a**b)),
}

_NUMBERS: st.SearchStrategy[float] = st.one_of(
    st.integers(-3, 3).filter(bool), st.floats(0.5, 2.0), st.floats(-2.0, -0.5)
)
_POSITIVE_NUMBERS: st.SearchStrategy[float] = st.one_of(st.integers(1, 3), st.floats(0.5, 2.0))


def _domains(name: str, left: bool) -> tuple[Values, Values, st.SearchStrategy[float]]:
    """(values of the Variable, values of the constant, constant numbers) for ``op(x, c)``, or
    ``op(c, x)`` when `left`: divisors away from 0, bases positive."""
    if name == "div":
        return (nonzero(), plain(), _NUMBERS) if left else (plain(), nonzero(), _NUMBERS)
    if name == "pow":
        return (plain(), plain(0.5, 2.0), _POSITIVE_NUMBERS) if left else (plain(0.5, 2.0), plain(), _NUMBERS)
    return plain(), plain(), _NUMBERS


@st.composite
def mixed_case(draw: Draw, name: str, kind: str) -> Drawn:
    """A Variable and a constant (a Python number, or a float64 array broadcasting with it) on
    either side of the binary `name`."""
    left = draw(st.booleans())
    var_values, const_values, numbers = _domains(name, left)
    if kind == "number":
        x = draw(var_values(draw(any_shapes())))
        c: Arr | float = draw(numbers)
    else:
        s0, s1 = draw(pairs())
        x, c = draw(var_values(s0)), draw(const_values(s1))
    return Drawn((x,), {"c": c, "left": left})


def mixed(name: str) -> tuple[Callable[..., Variable], Callable[..., Tensor]]:
    """``op(x, c)`` / ``op(c, x)`` for a constant c in both libraries (in torch a constant tensor)."""
    dz, ref = BINARY[name]

    def dz_fn(x: Variable, *, c: Arr | float, left: bool) -> Variable:
        return dz(c, x) if left else dz(x, c)

    def ref_fn(x: Tensor, *, c: Arr | float, left: bool) -> Tensor:
        ct = t(np.asarray(c, dtype=np.float64))
        return ref(ct, x) if left else ref(x, ct)

    return dz_fn, ref_fn


def _two_variables(name: str) -> st.SearchStrategy[Drawn]:
    if name == "div":
        return two(plain(), nonzero())
    if name == "pow":
        return two(plain(0.5, 2.0), exponents())
    return two(plain(), plain())


def _arithmetic() -> list[OracleCase]:
    cases: list[OracleCase] = []
    for name, (dz, ref) in BINARY.items():
        cases.append(OracleCase(name, _two_variables(name), dz, ref, "two Variables, broadcast"))
        for kind in ("number", "array"):
            dz_fn, ref_fn = mixed(name)
            cases.append(
                OracleCase(name, mixed_case(name, kind), dz_fn, ref_fn, f"Variable and constant {kind}")
            )
    integer_exponents = any_shapes().flatmap(
        lambda s: drawn(
            away_from_zero(s, 0.5, 2.0), c=st.sampled_from([-2, -1, 0, 1, 2, 3]), left=st.just(False)
        )
    )
    pow_dz, pow_ref = mixed("pow")
    cases += [
        OracleCase("pow", integer_exponents, pow_dz, pow_ref, "integer exponent, negative bases"),
        OracleCase("rsub", two(plain(), plain()), F.rsub, ref2(lambda a, b: b - a)),
        OracleCase("rdiv", two(nonzero(), plain()), F.rdiv, ref2(lambda a, b: b / a)),
        OracleCase("neg", one(plain()), F.neg, ref1(lambda a: -a)),
    ]
    return cases


# -- elementwise math -----------------------------------------------------------------------------


def _math() -> list[OracleCase]:
    return [
        OracleCase("square", one(plain()), F.square, ref1(lambda a: a * a)),
        OracleCase("exp", one(plain()), F.exp, ref1(lambda a: a.exp())),
        OracleCase("log", one(plain(0.3, 3.0)), F.log, ref1(lambda a: a.log())),
        OracleCase("sin", one(plain(-3.0, 3.0)), F.sin, ref1(lambda a: a.sin())),
        OracleCase("cos", one(plain(-3.0, 3.0)), F.cos, ref1(lambda a: a.cos())),
        OracleCase("tanh", one(plain()), F.tanh, ref1(lambda a: a.tanh())),
        OracleCase("sqrt", one(plain(0.3, 3.0)), F.sqrt, ref1(lambda a: a.sqrt())),
        # At 0 both take the subgradient 0 (sign(0) = 0).
        OracleCase("abs", one(with_zeros()), F.abs, ref1(lambda a: a.abs())),
    ]


# -- shape ----------------------------------------------------------------------------------------


@st.composite
def reshape_case(draw: Draw) -> Drawn:
    shape: Shape = draw(any_shapes())
    x = draw(arrays(shape))
    size = x.size
    if size == 0:
        targets: list[Shape] = [(0,), (1, 0), (0, 1, 1)]
    else:
        d = draw(st.sampled_from([k for k in range(1, size + 1) if size % k == 0]))
        targets = [(size,), (d, size // d), (size // d, 1, d), (-1, d)]
        if size == 1:
            targets.append(())  # to 0-d
    return Drawn((x,), {"shape": draw(st.sampled_from(targets))})


@st.composite
def transpose_case(draw: Draw) -> Drawn:
    shape: Shape = draw(any_shapes(0, 4))
    perm = draw(st.permutations(range(len(shape))))
    axes: tuple[int, ...] | None = tuple(a - len(shape) if draw(st.booleans()) else a for a in perm)
    if draw(st.booleans()):
        axes = None
    return Drawn((draw(arrays(shape)),), {"axes": axes})


def _reverse(n: int) -> tuple[int, ...]:
    return tuple(reversed(range(n)))


def _transpose_ref(x: Tensor, *, axes: tuple[int, ...] | None) -> Tensor:
    return x.permute(_reverse(x.ndim) if axes is None else axes)


def _reshape_ref(x: Tensor, *, shape: Shape) -> Tensor:
    return x.reshape(shape)


# Every kind of index get_item accepts (all with positive slice steps: torch has no negative ones).
INDEXES: list[Index] = [
    1,
    -1,
    (slice(1, 3), 2),
    (Ellipsis, slice(None, None, 2)),
    slice(2, 2),  # empty
    np.array([0, 2, 2, 3]),  # repeated indices accumulate
    np.array([-1, 0], dtype=np.int32),
    np.array([3, 1], dtype=np.uint8),
    np.array([[0, 1], [3, 3]]),
    np.array(2),
    np.array([], dtype=np.intp),
    (np.array([1, 1]), np.array([0, 2])),
    np.array([True, False, True, True]),
    np.array([[True, False, True], [False, False, True], [True, True, True], [False, False, False]]),
    (slice(None), None, 1),
    [0, 3, 3],
    (slice(None), [2, 0]),
    (Ellipsis, None),
]


def torch_index(index: Index) -> object:
    """The same index for torch: NumPy index arrays as int64 / bool tensors (torch would read a
    uint8 tensor as a mask)."""
    if isinstance(index, tuple):
        return tuple(torch_index(part) for part in index)
    if isinstance(index, np.ndarray):
        return tensor(index if index.dtype == np.bool_ else index.astype(np.int64))
    return index


def _get_item_ref(x: Tensor, *, index: Index) -> Tensor:
    return x[torch_index(index)]


def get_item_case() -> st.SearchStrategy[Drawn]:
    return st.sampled_from(INDEXES).flatmap(lambda i: drawn(arrays((4, 3)), index=st.just(i)))


@st.composite
def _expand_dims_case(draw: Draw) -> Drawn:
    shape: Shape = draw(any_shapes())
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return Drawn((draw(arrays(shape)),), {"axis": axis})


@st.composite
def _squeeze_case(draw: Draw) -> Drawn:
    shape: Shape = draw(any_shapes(0, 2))
    axis = draw(st.integers(0, len(shape)))
    full = (*shape[:axis], 1, *shape[axis:])
    return Drawn((draw(arrays(full)),), {"axis": draw(st.sampled_from([axis, axis - len(full)]))})


@st.composite
def _broadcast_to_case(draw: Draw) -> Drawn:
    target: Shape = draw(any_shapes(1, 3))
    keep = draw(st.integers(0, len(target)))
    source = tuple(draw(st.sampled_from([1, n])) for n in target[len(target) - keep :])
    return Drawn((draw(arrays(source)),), {"shape": target})


@st.composite
def _sum_to_case(draw: Draw) -> Drawn:
    source: Shape = draw(any_shapes(1, 3))
    keep = draw(st.integers(0, len(source)))
    target = tuple(draw(st.sampled_from([1, n])) for n in source[len(source) - keep :])
    return Drawn((draw(arrays(source)),), {"shape": target})


def _expand_dims(x: Variable, *, axis: int) -> Variable:
    return F.expand_dims(x, axis)


def _expand_dims_ref(x: Tensor, *, axis: int) -> Tensor:
    return x.unsqueeze(axis)


def _squeeze(x: Variable, *, axis: int) -> Variable:
    return F.squeeze(x, axis)


def _squeeze_ref(x: Tensor, *, axis: int) -> Tensor:
    return x.squeeze(axis)


def _flatten_ref(x: Tensor) -> Tensor:
    return x.reshape((x.shape[0], math.prod(x.shape[1:])))


def _broadcast_to_ref(x: Tensor, *, shape: Shape) -> Tensor:
    return x.broadcast_to(shape)


def _sum_to_ref(x: Tensor, *, shape: Shape) -> Tensor:
    return x.sum_to_size(shape)


def _shape() -> list[OracleCase]:
    return [
        OracleCase("reshape", reshape_case(), F.reshape, _reshape_ref),
        OracleCase("transpose", transpose_case(), F.transpose, _transpose_ref),
        OracleCase("get_item", get_item_case(), F.get_item, _get_item_ref),
        OracleCase("expand_dims", _expand_dims_case(), _expand_dims, _expand_dims_ref),
        OracleCase("squeeze", _squeeze_case(), _squeeze, _squeeze_ref),
        OracleCase("flatten", one(plain(), any_shapes(1, 3)), F.flatten, _flatten_ref),
        OracleCase("broadcast_to", _broadcast_to_case(), F.broadcast_to, _broadcast_to_ref),
        OracleCase("sum_to", _sum_to_case(), F.sum_to, _sum_to_ref),
    ]


# -- reductions -----------------------------------------------------------------------------------


@st.composite
def axis_case(draw: Draw, values: Values | None = None, empty: bool = True) -> Drawn:
    """An array with an axis argument: None, an int (negative or not), a tuple in any order
    (possibly empty: no reduction, NumPy's meaning) and keepdims."""
    shape: Shape = draw(any_shapes() if empty else shapes(0, 3, 1, 3))
    nd = len(shape)
    choices: list[Axis] = [None, ()]
    if nd:
        choices.append(draw(st.integers(-nd, nd - 1)))
        axes = draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda a: a % nd))
        choices.append(tuple(axes))
    x = draw((plain() if values is None else values)(shape))
    return Drawn((x,), {"axis": draw(st.sampled_from(choices)), "keepdims": draw(st.booleans())})


def dims(axis: Axis, ndim: int) -> tuple[int, ...]:
    """`axis` as the tuple of dims torch reduces over (None: all of them)."""
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else axis


def reduce_ref(op: str) -> Callable[..., Tensor]:
    """torch's sum/mean/amax/amin with NumPy's axis meaning: torch reads ``dim=()`` as "all axes"
    where NumPy (and typed_dezero) reduce nothing, so an empty reduction is the identity here."""

    def ref(x: Tensor, *, axis: Axis, keepdims: bool) -> Tensor:
        d = dims(axis, x.ndim)
        if not d:
            return x * 1.0
        if op == "sum":
            return x.sum(d, keepdims)
        if op == "mean":
            return x.mean(d, keepdims)
        return x.amax(d, keepdims) if op == "max" else x.amin(d, keepdims)

    return ref


def tied(shape: Shape) -> st.SearchStrategy[Arr]:
    """Values from {-1, 0, 1}: ties for max and min, where both libraries share the gradient
    equally among the tied elements (torch's amax/amin)."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 0.0, 1.0]))


HUGE: st.SearchStrategy[float] = st.floats(1e307, 1.7e308)
"""Finite values whose sum of two already overflows float64."""


def huge(shape: Shape) -> st.SearchStrategy[Arr]:
    return hnp.arrays(np.float64, shape, elements=HUGE)


def _mean_of_huge_ref(x: Tensor, *, axis: Axis, keepdims: bool) -> Tensor:
    # A mean of finite values is finite: the terms are scaled before they are summed (torch's own
    # mean, a sum then a division, overflows here).
    d = dims(axis, x.ndim)
    if not d:
        return x * 1.0
    return (x / math.prod(x.shape[i] for i in d)).sum(d, keepdims)


def _reductions() -> list[OracleCase]:
    return [
        OracleCase("sum", axis_case(), F.sum, reduce_ref("sum")),
        OracleCase("mean", axis_case(empty=False), F.mean, reduce_ref("mean")),
        OracleCase(
            "mean", axis_case(huge, empty=False), F.mean, _mean_of_huge_ref, "huge values", unit_weights=True
        ),
        OracleCase("average", axis_case(empty=False), F.average, reduce_ref("mean")),
        OracleCase("max", axis_case(distinct, empty=False), F.max, reduce_ref("max"), "distinct"),
        OracleCase("max", axis_case(tied, empty=False), F.max, reduce_ref("max"), "ties"),
        OracleCase("min", axis_case(distinct, empty=False), F.min, reduce_ref("min"), "distinct"),
        OracleCase("min", axis_case(tied, empty=False), F.min, reduce_ref("min"), "ties"),
    ]


# -- linear algebra -------------------------------------------------------------------------------

MATMUL_SHAPES: list[tuple[Shape, Shape]] = [
    ((2, 3), (3, 4)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((3,), (3,)),
    ((1, 1), (1, 1)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (4, 3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((3,), (2, 3, 1)),
    ((0, 3), (3, 2)),
    ((2, 0), (0, 3)),
]


def matmul_case() -> st.SearchStrategy[Drawn]:
    return st.sampled_from(MATMUL_SHAPES).flatmap(lambda s: drawn(arrays(s[0]), arrays(s[1])))


@st.composite
def linear_case(draw: Draw) -> Drawn:
    lead: Shape = draw(shapes(0, 2, 1, 3))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x, w = draw(arrays((*lead, n_in))), draw(arrays((n_in, n_out)))
    if draw(st.booleans()):
        return Drawn((x, w, draw(arrays((n_out,)))))
    return Drawn((x, w))


def _linear_ref(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    # torch's weight is (out, in): the transpose of typed_dezero's (in, out).
    return torch.nn.functional.linear(x, W.transpose(0, 1), b)


def _linalg() -> list[OracleCase]:
    # matmul and linear are (bi)linear: the "square" head makes their 3rd derivatives non-zero.
    return [
        OracleCase("matmul", matmul_case(), F.matmul, ref2(lambda a, b: a @ b)),
        OracleCase("matmul", matmul_case(), F.matmul, ref2(lambda a, b: a @ b), "squared", head="square"),
        OracleCase("linear", linear_case(), F.linear, _linear_ref),
        OracleCase("linear", linear_case(), F.linear, _linear_ref, "squared", head="square"),
        OracleCase("linear_simple", linear_case(), F.linear_simple, _linear_ref),
        OracleCase("linear_simple", linear_case(), F.linear_simple, _linear_ref, "squared", head="square"),
    ]


CASES: list[OracleCase] = [*_arithmetic(), *_math(), *_shape(), *_reductions(), *_linalg()]
