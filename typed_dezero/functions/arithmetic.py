"""Arithmetic: what Variable's operators call. Both sides broadcast as in NumPy; each gradient is
summed back to its input's shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeGuard, final

import numpy as np
from typing_extensions import override

from typed_dezero._typing import Arr, describe, f64_hint, is_f64_array
from typed_dezero.core.function import SKIPPED_GRAD, BinaryFunction, UnaryFunction
from typed_dezero.core.variable import Operand, Variable, float_constant
from typed_dezero.errors import DezeroTypeError, ShapeError
from typed_dezero.functions._util import sum_to_array

__all__ = ["add", "div", "mul", "neg", "pow", "rdiv", "rsub", "sub"]


def _broadcast_check(name: str, x0: Arr, x1: Arr) -> None:
    if x0.shape != x1.shape:
        try:
            np.broadcast_shapes(x0.shape, x1.shape)
        except ValueError:
            msg = f"{name}: shapes do not broadcast; got x0.shape={x0.shape}, x1.shape={x1.shape}"
            raise ShapeError(msg) from None


def _reduce(gx: Variable, shape: tuple[int, ...]) -> Variable:
    return gx if gx.shape == shape else sum_to(gx, shape)


def _reduce_data(gx: Arr, shape: tuple[int, ...]) -> Arr:
    return gx if gx.shape == shape else sum_to_array(gx, shape)


@final
class Add(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        _broadcast_check("add", x0, x1)
        return x0 + x1

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        return _reduce(gy, x0.shape), _reduce(gy, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x0, x1 = self.inputs
        return _reduce_data(gy, x0.shape), _reduce_data(gy, x1.shape)


def add(x0: Operand, x1: Operand) -> Variable:
    """``x0 + x1`` with broadcasting."""
    if isinstance(x0, Variable) and isinstance(x1, Variable):  # the common case, decided first
        return Add()(x0, x1)
    return _with_number("add", x0, x1, Add, AddConst, AddConst)


@final
class Sub(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        _broadcast_check("sub", x0, x1)
        return x0 - x1

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        return _reduce(gy, x0.shape), _reduce(-gy, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x0, x1 = self.inputs
        return _reduce_data(gy, x0.shape), _reduce_data(-gy, x1.shape) if x1.requires_grad else SKIPPED_GRAD


def sub(x0: Operand, x1: Operand) -> Variable:
    """``x0 - x1`` with broadcasting."""
    if isinstance(x0, Variable) and isinstance(x1, Variable):  # the common case, decided first
        return Sub()(x0, x1)
    return _with_number("sub", x0, x1, Sub, SubConst, RSubConst)


def rsub(x0: Operand, x1: Operand) -> Variable:
    """``x1 - x0`` (DeZero's reflected subtraction)."""
    # Not sub(x1, x0): its refusals would name sub's arguments, swapped.
    if isinstance(x0, Variable) and isinstance(x1, Variable):
        return Sub()(x1, x0)
    return _with_number("rsub", x0, x1, Sub, RSubConst, SubConst, swap=True)


@final
class Mul(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        _broadcast_check("mul", x0, x1)
        return x0 * x1

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        return _reduce(gy * x1, x0.shape), _reduce(gy * x0, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        # A constant operand (a raw array) gets no gradient: half the work of x * c.
        v0, v1 = self.inputs
        x0, x1 = v0.data, v1.data
        gx0 = _reduce_data(gy * x1, x0.shape) if v0.requires_grad else SKIPPED_GRAD
        return gx0, _reduce_data(gy * x0, x1.shape) if v1.requires_grad else SKIPPED_GRAD


def mul(x0: Operand, x1: Operand) -> Variable:
    """``x0 * x1`` elementwise, with broadcasting."""
    if isinstance(x0, Variable) and isinstance(x1, Variable):  # the common case, decided first
        return Mul()(x0, x1)
    return _with_number("mul", x0, x1, Mul, MulConst, MulConst)


@final
class Div(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        _broadcast_check("div", x0, x1)
        return x0 / x1

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        gx0 = gy / x1
        gx1 = gy * (-x0 / x1**2)
        return _reduce(gx0, x0.shape), _reduce(gx1, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        v1 = self.inputs[1]
        x0, x1 = self.inputs[0].data, v1.data
        gx0 = gy / x1
        gx1 = _reduce_data(-gx0 * (x0 / x1), x1.shape) if v1.requires_grad else SKIPPED_GRAD
        return _reduce_data(gx0, x0.shape), gx1


def div(x0: Operand, x1: Operand) -> Variable:
    """``x0 / x1`` elementwise, with broadcasting."""
    if isinstance(x0, Variable) and isinstance(x1, Variable):  # the common case, decided first
        return Div()(x0, x1)
    return _with_number("div", x0, x1, Div, DivConst, RDivConst)


def rdiv(x0: Operand, x1: Operand) -> Variable:
    """``x1 / x0`` (DeZero's reflected division)."""
    # Not div(x1, x0): its refusals would name div's arguments, swapped.
    if isinstance(x0, Variable) and isinstance(x1, Variable):
        return Div()(x1, x0)
    return _with_number("rdiv", x0, x1, Div, RDivConst, DivConst, swap=True)


# With a Python number or a float64 array on one side and a Variable on the other, the number or
# array is a constant of a one-input Function: no Variable is made for it and no gradient is
# computed for it (DeZero made both): a third fewer instructions for `x * c`.

Constant: TypeAlias = float | Arr
"""The constant of a one-input arithmetic Function: a Python number, or a float64 array that
broadcasts with the Variable operand (the gradient is summed back to the Variable's shape)."""


def _is_number(x: object) -> TypeGuard[float]:
    t = type(x)
    if t is float or t is int:  # the common case, first (a union in isinstance is built per call)
        return True
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _input(where: str, x: Operand, name: str, *, binary: bool = True) -> Variable | Arr:
    """`x` as a Function input, refused in the public function's words when it cannot be one: a
    number is accepted as one operand of a binary function only (it becomes the Function's
    constant), so here, where the other operand was not the Variable or array, it is refused."""
    if isinstance(x, Variable | np.ndarray):
        return x  # an array of another dtype is refused, and named, by Function.__call__
    if not binary:
        expected = "a Variable or a float64 ndarray"
    elif _is_number(x):
        expected = "a Variable or a float64 ndarray when the other operand is a number too"
    else:
        expected = "a Variable, a float64 ndarray or a Python int/float"
    msg = f"{where}: {name} must be {expected}, got {describe(x)}; {f64_hint(x)}"
    raise DezeroTypeError(msg)


def _with_number(  # noqa: PLR0917 - one shape for the six arithmetic functions
    where: str,
    x0: Operand,
    x1: Operand,
    full: Callable[[], BinaryFunction],
    number1: Callable[[Constant], UnaryFunction],
    number0: Callable[[Constant], UnaryFunction],
    *,
    swap: bool = False,
) -> Variable:
    """`where(x0, x1)` when not both are Variables: ``number1(x1)(x0)`` for a number or float64 array
    x1 beside a Variable x0, ``number0(x0)(x1)`` for one x0 beside a Variable x1 (or a number beside
    an array), else ``full()(x0, x1)`` (``full()(x1, x0)`` with `swap`).
    A number is refused for both, and anything else than a Variable, an array or a number, in the
    words of `where` (x1 is looked at first, so that two numbers blame x0)."""
    if _is_number(x1):
        return number1(float_constant(where, x1, "x1"))(
            x0 if isinstance(x0, Variable) else _input(where, x0, "x0")
        )
    if _is_number(x0):
        return number0(float_constant(where, x0, "x0"))(
            x1 if isinstance(x1, Variable) else _input(where, x1, "x1")
        )
    if isinstance(x0, Variable):
        if is_f64_array(x1):
            _broadcast_check(where, x0.data, x1)
            return number1(x1)(x0)
    elif isinstance(x1, Variable) and is_f64_array(x0):
        _broadcast_check(where, x0, x1.data)
        return number0(x0)(x1)
    a, b = _input(where, x0, "x0"), _input(where, x1, "x1")
    return full()(b, a) if swap else full()(a, b)


@final
class AddConst(UnaryFunction):
    """``x + c`` for a constant `c` (a number or a float64 array)."""

    def __init__(self, c: Constant) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x + self.c

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _reduce(gy, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _reduce_data(gy, self.inputs[0].data.shape)


@final
class SubConst(UnaryFunction):
    """``x - c`` for a constant `c` (a number or a float64 array)."""

    def __init__(self, c: Constant) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x - self.c

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _reduce(gy, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _reduce_data(gy, self.inputs[0].data.shape)


@final
class RSubConst(UnaryFunction):
    """``c - x`` for a constant `c` (a number or a float64 array)."""

    def __init__(self, c: Constant) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return self.c - x

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _reduce(-gy, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _reduce_data(-gy, self.inputs[0].data.shape)


@final
class MulConst(UnaryFunction):
    """``x * c`` for a constant `c` (a number or a float64 array)."""

    def __init__(self, c: Constant) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * self.c

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _reduce(gy * self.c, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _reduce_data(gy * self.c, self.inputs[0].data.shape)


@final
class DivConst(UnaryFunction):
    """``x / c`` for a constant `c` (a number or a float64 array)."""

    def __init__(self, c: Constant) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x / self.c

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return _reduce(gy / self.c, self.inputs[0].shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return _reduce_data(gy / self.c, self.inputs[0].data.shape)


@final
class RDivConst(UnaryFunction):
    """``c / x`` for a constant `c` (a number or a float64 array)."""

    def __init__(self, c: Constant) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return self.c / x

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return _reduce(gy * -self.c / (x * x), x.shape)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        x = self.inputs[0].data
        return _reduce_data(gy * -self.c / (x * x), x.shape)


@final
class Neg(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return -x

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return -gy

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return -gy


def neg(x: Operand) -> Variable:
    """``-x``."""
    return Neg()(x if isinstance(x, Variable) else _input("neg", x, "x", binary=False))


@final
class PowConst(UnaryFunction):
    """``x ** c`` for a constant exponent `c`."""

    def __init__(self, c: float) -> None:
        self.c = c

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x**self.c

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        c = self.c
        if c == 0:
            return gy * 0.0
        return gy * (c * x ** (c - 1)) if c != 1 else gy

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        x, c = self.inputs[0].data, self.c
        if c == 0:
            return gy * 0.0
        return gy * (c * x ** (c - 1)) if c != 1 else gy


@final
class Pow(BinaryFunction):
    """``x0 ** x1`` where the exponent is itself an array or a Variable."""

    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        _broadcast_check("pow", x0, x1)
        return x0**x1

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        gx0 = gy * x1 * x0 ** (x1 - 1.0)
        # d(x0**x1)/dx1 = x0**x1 * log(x0), defined for x0 > 0; taken as 0 elsewhere (at x0 == 0 the
        # power is constant 0 for x1 > 0), so a constant base never produces NaN gradients.
        gx1 = gy * x0**x1 * LogWherePositive()(x0)
        return _reduce(gx0, x0.shape), _reduce(gx1, x1.shape)

    @override
    def backward_data(self, gy: Arr, /) -> tuple[Arr, Arr]:
        x0, x1 = self.inputs[0].data, self.inputs[1].data
        gx0 = gy * x1 * x0 ** (x1 - 1.0)
        gx1 = gy * x0**x1 * _log_where_positive(x0)
        return _reduce_data(gx0, x0.shape), _reduce_data(gx1, x1.shape)


def _log_where_positive(x: Arr) -> Arr:
    positive = x > 0
    return np.log(np.where(positive, x, 1.0)) * positive


@final
class LogWherePositive(UnaryFunction):
    """``log(x)`` where ``x > 0``, 0 elsewhere; used by the gradient of ``pow`` w.r.t. its exponent."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return _log_where_positive(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        # 1/x as a function of x (not a constant made from x.data), so that pow's gradients can be
        # differentiated again: a constant here made the third derivative of x0 ** x1 wrong.
        return gy * ReciprocalWherePositive()(self.inputs[0])

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * _reciprocal_where_positive(self.inputs[0].data)


def _reciprocal_where_positive(x: Arr) -> Arr:
    positive = x > 0
    return positive / np.where(positive, x, 1.0)


@final
class ReciprocalWherePositive(UnaryFunction):
    """``1 / x`` where ``x > 0``, 0 elsewhere: the derivative of :class:`LogWherePositive`. Its own
    derivative is ``-y**2`` for its output y, everywhere (0 where ``x <= 0``), so it can be
    differentiated any number of times."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return _reciprocal_where_positive(x)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        y = self._output()
        return gy * -(y * y)

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        y = self._output().data
        return gy * -(y * y)

    def _output(self) -> Variable:
        y = self.outputs[0]()
        return y if y is not None else ReciprocalWherePositive()(self.inputs[0])  # released: recompute


def pow(x0: Operand, x1: Operand) -> Variable:  # noqa: A001 - DeZero's name, shadowing the builtin on purpose
    """``x0 ** x1``. A Python int/float exponent is a constant; an array or Variable exponent is
    differentiated too (its gradient ``x0**x1 * log(x0)`` is taken as 0 where ``x0 <= 0``)."""
    if _is_number(x1):
        return PowConst(float_constant("pow", x1, "x1"))(
            x0 if isinstance(x0, Variable) else _input("pow", x0, "x0")
        )
    if _is_number(x0):  # `2.0 ** x`: Functions refuse bare numbers, so make the base an array
        return Pow()(np.array(float_constant("pow", x0, "x0"), dtype=np.float64), _input("pow", x1, "x1"))
    return Pow()(_input("pow", x0, "x0"), _input("pow", x1, "x1"))


from typed_dezero.functions.shape import sum_to  # noqa: E402  (shape builds on this module)
