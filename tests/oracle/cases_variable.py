"""Oracle cases for Variable's operators and methods, each named by its attribute ("__add__",
"T", "sum", ...): with another Variable, with a constant array and with a Python number, on
either side (``ndarray + Variable`` and ``2 + Variable`` reach ``Variable.__radd__``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from tests.functions.registry import Drawn
from tests.oracle._torch import Tensor
from tests.oracle.cases_core import (
    BINARY,
    axis_case,
    exponents,
    get_item_case,
    matmul_case,
    mixed_case,
    nonzero,
    one,
    plain,
    reduce_ref,
    reshape_case,
    t,
    torch_index,
    transpose_case,
    two,
)
from tests.oracle.harness import OracleCase, ref1, ref2
from tests.strategies import distinct
from typed_dezero import Arr, Variable
from typed_dezero._typing import Axis, Index, Shape

Draw = st.DrawFn
Constant = Arr | float

# Python's operators, spelled out: each dz function calls the operator under test.


def _add(x: Variable, *, c: Constant, left: bool) -> Variable:
    return c + x if left else x + c


def _sub(x: Variable, *, c: Constant, left: bool) -> Variable:
    return c - x if left else x - c


def _mul(x: Variable, *, c: Constant, left: bool) -> Variable:
    return c * x if left else x * c


def _div(x: Variable, *, c: Constant, left: bool) -> Variable:
    return c / x if left else x / c


def _pow(x: Variable, *, c: Constant, left: bool) -> Variable:
    return c**x if left else x**c


_OPERATORS: dict[str, tuple[str, str, Callable[..., Variable]]] = {
    "add": ("__add__", "__radd__", _add),
    "sub": ("__sub__", "__rsub__", _sub),
    "mul": ("__mul__", "__rmul__", _mul),
    "div": ("__truediv__", "__rtruediv__", _div),
    "pow": ("__pow__", "__rpow__", _pow),
}


def _constant_ref(name: str) -> Callable[..., Tensor]:
    _, ref = BINARY[name]

    def ref_fn(x: Tensor, *, c: Constant, left: bool) -> Tensor:
        ct = t(np.asarray(c, dtype=np.float64))
        return ref(ct, x) if left else ref(x, ct)

    return ref_fn


def _side(strategy: st.SearchStrategy[Drawn], left: bool) -> st.SearchStrategy[Drawn]:
    return strategy.filter(lambda d: d.kwargs["left"] is left)


def _binary_operators() -> list[OracleCase]:
    cases: list[OracleCase] = []
    two_variables = {
        "add": two(plain(), plain()),
        "sub": two(plain(), plain()),
        "mul": two(plain(), plain()),
        "div": two(plain(), nonzero()),
        "pow": two(plain(0.5, 2.0), exponents()),
    }
    for name, (dunder, rdunder, op) in _OPERATORS.items():
        _, ref = BINARY[name]

        def variables(x0: Variable, x1: Variable, op: Callable[..., Variable] = op) -> Variable:
            return op(x0, c=x1, left=False)  # x0 <op> x1, both Variables

        cases.append(OracleCase(dunder, two_variables[name], variables, ref, "Variable"))
        for kind in ("array", "number"):
            inputs = mixed_case(name, kind)
            cases.append(OracleCase(dunder, _side(inputs, False), op, _constant_ref(name), kind))
            cases.append(OracleCase(rdunder, _side(inputs, True), op, _constant_ref(name), kind))
    return cases


def _neg(x: Variable) -> Variable:
    return -x


def _matmul_variables(x0: Variable, x1: Variable) -> Variable:
    return x0 @ x1


@st.composite
def _matmul_constant(draw: Draw) -> Drawn:
    """One operand a Variable, the other a constant array: `left` says the constant is first."""
    d = draw(matmul_case())
    left = draw(st.booleans())
    a, b = d.arrays
    return Drawn((b,), {"c": a, "left": left}) if left else Drawn((a,), {"c": b, "left": left})


def _matmul_with_array(x: Variable, *, c: Arr, left: bool) -> Variable:
    return c @ x if left else x @ c


def _matmul_with_array_ref(x: Tensor, *, c: Arr, left: bool) -> Tensor:
    return t(c) @ x if left else x @ t(c)


def _matmul_method(x0: Variable, x1: Variable) -> Variable:
    return x0.matmul(x1)


def _dot_method(x0: Variable, x1: Variable) -> Variable:
    return x0.dot(x1)


def _getitem(x: Variable, *, index: Index) -> Variable:
    return x[index]


def _getitem_ref(x: Tensor, *, index: Index) -> Tensor:
    return x[torch_index(index)]


def _reshape_ints(x: Variable, *, shape: Shape) -> Variable:
    return x.reshape(*shape)


def _reshape_tuple(x: Variable, *, shape: Shape) -> Variable:
    return x.reshape(shape)


def _reshape_ref(x: Tensor, *, shape: Shape) -> Tensor:
    return x.reshape(shape)


def _transpose_method(x: Variable, *, axes: tuple[int, ...] | None) -> Variable:
    if axes is None:
        return x.transpose()
    return x.transpose(*axes) if len(axes) != 1 else x.transpose(axes)


def _transpose_method_ref(x: Tensor, *, axes: tuple[int, ...] | None) -> Tensor:
    return x.permute(tuple(reversed(range(x.ndim))) if axes is None else axes)


def _T(x: Variable) -> Variable:
    return x.T


def _T_ref(x: Tensor) -> Tensor:
    return x.permute(tuple(reversed(range(x.ndim))))


def _sum(x: Variable, *, axis: Axis, keepdims: bool) -> Variable:
    return x.sum(axis, keepdims)


def _mean(x: Variable, *, axis: Axis, keepdims: bool) -> Variable:
    return x.mean(axis=axis, keepdims=keepdims)


def _max(x: Variable, *, axis: Axis, keepdims: bool) -> Variable:
    return x.max(axis, keepdims=keepdims)


def _min(x: Variable, *, axis: Axis, keepdims: bool) -> Variable:
    return x.min(axis=axis, keepdims=keepdims)


def _methods() -> list[OracleCase]:
    return [
        OracleCase("__neg__", one(plain()), _neg, ref1(lambda a: -a)),
        OracleCase(
            "__matmul__",
            matmul_case(),
            _matmul_variables,
            ref2(lambda a, b: a @ b),
            "Variable",
            head="square",
        ),
        OracleCase(
            "__matmul__",
            _matmul_constant().filter(lambda d: not d.kwargs["left"]),
            _matmul_with_array,
            _matmul_with_array_ref,
            "array",
            head="square",
        ),
        OracleCase(
            "__rmatmul__",
            _matmul_constant().filter(lambda d: bool(d.kwargs["left"])),
            _matmul_with_array,
            _matmul_with_array_ref,
            "array",
            head="square",
        ),
        OracleCase(
            "matmul", matmul_case(), _matmul_method, ref2(lambda a, b: a @ b), "method", head="square"
        ),
        OracleCase("dot", matmul_case(), _dot_method, ref2(lambda a, b: a @ b), head="square"),
        OracleCase("__getitem__", get_item_case(), _getitem, _getitem_ref),
        OracleCase("reshape", reshape_case(), _reshape_ints, _reshape_ref, "method, ints"),
        OracleCase("reshape", reshape_case(), _reshape_tuple, _reshape_ref, "method, tuple"),
        OracleCase("transpose", transpose_case(), _transpose_method, _transpose_method_ref, "method"),
        OracleCase("T", one(plain()), _T, _T_ref),
        OracleCase("sum", axis_case(), _sum, reduce_ref("sum"), "method"),
        OracleCase("mean", axis_case(empty=False), _mean, reduce_ref("mean"), "method"),
        OracleCase("max", axis_case(distinct, empty=False), _max, reduce_ref("max"), "method"),
        OracleCase("min", axis_case(distinct, empty=False), _min, reduce_ref("min"), "method"),
    ]


def _named(cases: list[OracleCase]) -> list[OracleCase]:
    """The cases named "Variable.<attribute>", apart from the functions of the same name."""
    return [dataclasses.replace(c, name=f"Variable.{c.name}") for c in cases]


CASES: list[OracleCase] = _named([*_binary_operators(), *_methods()])
