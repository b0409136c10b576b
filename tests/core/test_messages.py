"""The messages of refusals: typed_dezero's words first (the Function or function, the method or
parameter, what came, what is expected, the fix), beartype's violation as ``__cause__`` where the
runtime checker found it, and one rule for bare numbers given to a Function."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any, Literal, Optional, Union, cast

import numpy as np
import pytest
from beartype.roar import BeartypeCallHintParamViolation, BeartypeCallHintReturnViolation
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import (
    RUNTIME_CHECKS,
    Arr,
    BinaryFunction,
    DezeroTypeError,
    Function,
    TwoOutputFunction,
    UnaryFunction,
    Variable,
)
from typed_dezero._checking import (
    TypeCheckError,
    _hint_text,  # pyright: ignore[reportPrivateUsage]
    _violation_types,  # pyright: ignore[reportPrivateUsage]
    call_violation,
    method_violation,
    typechecked,
)
from typed_dezero._typing import IntArr
from typed_dezero.functions.math import Exp

checked = pytest.mark.skipif(not RUNTIME_CHECKS, reason="needs the runtime checks (beartype) on")


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


def _refused(call: Callable[[], object]) -> DezeroTypeError:
    with pytest.raises(DezeroTypeError) as info:
        call()
    return info.value


# -- forward: annotated, so beartype checks its result ------------------------------------------


class Sq32(Function[tuple[Arr], Arr]):
    """DeZero's way (subclassing Function), annotated, returning float32."""

    @override
    def forward(self, x: Arr) -> Arr:
        return (x * x).astype(np.float32)  # pyright: ignore[reportReturnType]

    @override
    def backward(self, gy: Variable) -> Variable:
        return gy


class Returns(UnaryFunction):
    """Returns whatever it was built with."""

    def __init__(self, result: object) -> None:
        self.result = result

    @override
    def forward(self, x: Arr, /) -> Arr:
        return cast(Arr, self.result)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


class SecondIsInts(TwoOutputFunction):
    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x, x.astype(np.int64)  # pyright: ignore[reportReturnType]

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return gy0


class TakesVariable(UnaryFunction):
    """Annotates forward's input as a Variable: the engine passes arrays."""

    @override
    def forward(self, x: Variable, /) -> Arr:  # type: ignore[override]
        return np.ones(3)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


class SaysVariable(Function[tuple[Arr], Arr]):
    """Returns a fine array but annotates its result as a Variable."""

    @override
    def forward(self, x: Arr) -> Variable:
        return cast(Variable, x * 2.0)

    @override
    def backward(self, gy: Variable) -> Variable:
        return gy


@checked
def test_forward_returning_float32_names_the_function_dtype_shape_and_fix() -> None:
    error = _refused(lambda: Sq32()(np.ones(3)))
    line = _first_line(error)
    assert line.startswith("Sq32.forward must return float64 ndarrays (annotated NDArray[float64]), ")
    assert "returned numpy.ndarray of dtype float32 and shape (3,)" in line
    assert "return y.astype(np.float64) instead" in line
    assert isinstance(error.__cause__, BeartypeCallHintReturnViolation)
    assert not isinstance(error, BeartypeCallHintReturnViolation)  # ours, not beartype's text
    assert "violates type hint" in str(error.__cause__)


@checked
@pytest.mark.parametrize(
    ("result", "got", "fix"),
    [
        (np.arange(6).reshape(2, 3), "numpy.ndarray of dtype int64 and shape (2, 3)", "y.astype(np.float64)"),
        (1.5, "float (1.5)", "return np.asarray(y, dtype=np.float64) instead"),
        ([1.0, 2.0], "list ([1.0, 2.0])", "return np.asarray(y, dtype=np.float64) instead"),
        (np.float32(2.0), "numpy scalar float32", "return np.asarray(y, dtype=np.float64) instead"),
        (None, "NoneType (None)", "forward must end with a return statement"),
        ((np.ones(2), np.ones(2)), "tuple (", "return one float64 ndarray per output"),
    ],
)
def test_forward_results_of_every_wrong_kind(result: object, got: str, fix: str) -> None:
    error = _refused(lambda: Returns(result)(np.ones(2)))
    line = _first_line(error)
    assert line.startswith("Returns.forward must return float64 ndarrays"), line
    assert f"returned {got}" in line
    assert fix in line
    assert isinstance(error.__cause__, BeartypeCallHintReturnViolation)


@checked
def test_forward_output_of_a_multi_output_function_is_located() -> None:
    line = _first_line(_refused(lambda: SecondIsInts()(np.ones(3))))
    assert line.startswith("SecondIsInts.forward must return float64 ndarrays")
    assert "(annotated tuple[NDArray[float64], NDArray[float64]])" in line
    assert "returned numpy.ndarray of dtype int64 and shape (3,) as output 1" in line
    assert "y.astype(np.float64)" in line


@checked
def test_forward_parameter_annotated_wrongly() -> None:
    error = _refused(lambda: TakesVariable()(np.ones(3)))
    line = _first_line(error)
    assert line.startswith("TakesVariable.forward: parameter x is annotated Variable, ")
    assert "got numpy.ndarray of dtype float64 and shape (3,)" in line
    assert "forward receives each input's data as a float64 ndarray: annotate it Arr" in line
    assert isinstance(error.__cause__, BeartypeCallHintParamViolation)


@checked
def test_forward_result_fine_but_annotation_wrong() -> None:
    line = _first_line(_refused(lambda: SaysVariable()(np.ones(3))))
    assert "SaysVariable.forward must return float64 ndarrays (annotated Variable)" in line
    assert "its annotation is wrong: annotate it Arr" in line


class Plain(Function):
    """DeZero's way, unannotated: only the engine's own guard checks the result."""

    def __init__(self, result: object) -> None:
        self.result = result

    @override
    def forward(self, *xs: Any, **kwargs: Any) -> Any:
        return self.result

    @override
    def backward(self, *gys: Any, **kwargs: Any) -> Any:
        return gys[0].data  # an array: the engine's guard refuses it


@pytest.mark.parametrize(
    ("result", "fix"),
    [
        (np.ones(2, dtype=np.float32), "return y.astype(np.float64) instead"),
        (np.int64(3), "return np.asarray(y, dtype=np.float64) instead"),
        (np.ma.masked_array(np.ones(2)), "a masked array's mask would be lost"),
    ],
)
def test_unannotated_forward_gets_the_same_fix_from_the_engine(result: object, fix: str) -> None:
    error = _refused(lambda: Plain(result)(np.ones(2)))
    line = _first_line(error)
    assert line.startswith("Plain.forward must return float64 ndarrays, returned ")
    assert fix in line
    assert error.__cause__ is None  # the engine's guard, not beartype


# -- backward -------------------------------------------------------------------------------------


class ArrayGrad(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return cast(Variable, gy.data * 2.0)


class SecondGradIsArray(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        return x0 + x1

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        out: Any = gy.data
        return gy, out


class TakesArrayGrad(UnaryFunction):
    @override
    def backward(self, gy: Arr, /) -> Variable:  # type: ignore[override]
        return Variable(gy)

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0


@checked
def test_backward_returning_an_array_names_the_function_and_the_fix() -> None:
    x = Variable(np.ones(3))
    y = ArrayGrad()(x)
    error = _refused(y.backward)
    line = _first_line(error)
    assert line.startswith("ArrayGrad.backward must return a Variable per input (annotated Variable), ")
    assert "returned numpy.ndarray of dtype float64 and shape (3,)" in line
    assert "build gradients from Variables" in line
    assert isinstance(error.__cause__, BeartypeCallHintReturnViolation)
    assert x.grad is None  # a failed backward changes no gradient


@checked
def test_backward_gradient_of_the_second_input_is_located() -> None:
    y = SecondGradIsArray()(Variable(np.ones(2)), Variable(np.ones(2)))
    line = _first_line(_refused(y.backward))
    assert line.startswith("SecondGradIsArray.backward must return a Variable per input")
    assert "(annotated tuple[Variable, Variable])" in line
    assert "returned numpy.ndarray of dtype float64 and shape (2,) for input 1" in line


@checked
def test_backward_parameter_annotated_as_an_array() -> None:
    y = TakesArrayGrad()(Variable(np.ones(3)))
    error = _refused(y.backward)
    line = _first_line(error)
    assert line.startswith("TakesArrayGrad.backward: parameter gy is annotated NDArray[float64], ")
    assert "got Variable of dtype float64 and shape (3,)" in line
    assert "backward receives each gradient as a Variable: annotate it Variable" in line
    assert isinstance(error.__cause__, BeartypeCallHintParamViolation)


def test_unannotated_backward_returning_an_array_gets_the_same_fix() -> None:
    y = Plain(np.ones(2))(Variable(np.ones(2)))
    error = _refused(y.backward)
    line = _first_line(error)
    assert line.startswith("Plain.backward must return a Variable per input, returned numpy.ndarray")
    assert "build gradients from Variables" in line
    assert error.__cause__ is None


# -- violations of other callables are not attributed to forward/backward ---------------------------


class CallsForwardBadly(UnaryFunction):
    """Its forward calls another Function's forward directly, with float32."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return Exp().forward(x.astype(np.float32))  # pyright: ignore[reportArgumentType]

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


class BackwardCallsForwardBadly(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        Exp().forward(gy.data.astype(np.float32))  # pyright: ignore[reportArgumentType]
        return gy


@checked
def test_a_violation_inside_forward_or_backward_keeps_its_own_words() -> None:
    error = _refused(lambda: CallsForwardBadly()(np.ones(2)))
    assert isinstance(error, TypeCheckError)  # beartype's violation of Exp.forward, unchanged
    assert "Exp.forward() parameter x=" in str(error)
    y = BackwardCallsForwardBadly()(Variable(np.ones(2)))
    error = _refused(y.backward)
    assert isinstance(error, TypeCheckError)
    assert "Exp.forward() parameter x=" in str(error)


@checked
def test_a_direct_call_of_forward_raises_beartypes_violation() -> None:
    # Outside the engine nobody rewords it: still a DezeroTypeError, with beartype's message.
    error = _refused(lambda: Sq32().forward(np.ones(2)))
    assert isinstance(error, TypeCheckError)
    assert isinstance(error, BeartypeCallHintReturnViolation)
    assert "Sq32.forward() return" in str(error)


# -- public functions and constructors ----------------------------------------------------------


@checked
@pytest.mark.parametrize(
    ("call", "first"),
    [
        (lambda: L.Linear("a"), "Linear: out_size must be int, got str ('a')"),  # type: ignore[arg-type]
        (lambda: F.dropout(np.ones(3), "0.5"), "dropout: dropout_ratio must be float, got str ('0.5')"),  # type: ignore[arg-type]
    ],
)
def test_public_callables_name_the_parameter_expected_and_got(call: Callable[[], object], first: str) -> None:
    error = _refused(call)
    assert _first_line(error) == first
    assert isinstance(error, TypeError)
    assert isinstance(error.__cause__, BeartypeCallHintParamViolation)


@typechecked
def _take_shape(shape: tuple[int, ...], mode: Literal["a", "b"] = "a") -> int:
    return len(shape) + len(mode)


@typechecked
def _returns_str() -> int:
    return cast(int, "x")


@typechecked
def _returns_one() -> None:
    return cast(None, 1)


@typechecked
def _calls_forward_badly(x: Arr) -> Arr:
    return Exp().forward(x.astype(np.float32))  # pyright: ignore[reportArgumentType]


@checked
def test_container_items_results_and_literals() -> None:
    # one item: beartype checks a single random item of a variadic tuple per call
    line = _first_line(_refused(lambda: _take_shape(("b",))))  # type: ignore[arg-type]
    assert line == (
        "_take_shape: shape must be tuple[int, ...], got tuple (('b',)), whose item str ('b') does not fit"
    )
    line = _first_line(_refused(lambda: _take_shape((1,), "c")))  # type: ignore[arg-type]
    assert line == "_take_shape: mode must be Literal['a', 'b'], got str ('c')"
    error = _refused(_returns_str)
    assert _first_line(error) == "_returns_str: must return int, returned str ('x')"
    assert isinstance(error.__cause__, BeartypeCallHintReturnViolation)
    assert _first_line(_refused(_returns_one)) == "_returns_one: must return None, returned int (1)"


@checked
def test_a_violation_of_a_callee_is_not_attributed_to_the_caller() -> None:
    error = _refused(lambda: _calls_forward_badly(np.ones(2)))
    assert isinstance(error, TypeCheckError)
    assert "Exp.forward() parameter x=" in str(error)


@checked
def test_unparsed_messages_keep_beartypes_text_after_the_first_line() -> None:
    param_error: Any = _violation_types()[0]  # built by beartype as cls(message=..., culprits=...)
    odd = param_error(message=f"Function {__name__}._take_shape() something new", culprits=(1,))
    assert odd.pith is None
    error = call_violation(_take_shape, odd)
    assert error is not None
    assert str(error).splitlines() == [
        "_take_shape: an argument does not fit its annotation; beartype reports:",
        f"Function {__name__}._take_shape() something new",
    ]
    odd = param_error(message=f"Method {__name__}.Sq32.forward() something new", culprits=(1,))
    error = method_violation(Sq32(), "forward", odd)
    assert error is not None
    assert _first_line(error) == "Sq32.forward: an argument does not fit its annotation; beartype reports:"


@pytest.mark.parametrize(
    ("hint", "text"),
    [
        ("Variable | Arr", "Variable | NDArray[float64]"),
        ("IntArr | BoolArr", "NDArray[integer] | NDArray[bool]"),
        (Arr, "NDArray[float64]"),
        (IntArr, "NDArray[integer]"),
        (Optional[int], "int | None"),  # noqa: UP045 - the typing spelling on purpose
        (Union[int, str], "int | str"),  # noqa: UP007 - the typing spelling on purpose
        (int | None, "int | None"),
        (type(None), "None"),
        (None, "None"),
        (tuple[int, ...], "tuple[int, ...]"),
        (dict[str, Variable], "dict[str, Variable]"),
        (Any, "Any"),
        (Literal[1, "x"], "Literal[1, 'x']"),
    ],
)
def test_hints_are_written_readably(hint: object, text: str) -> None:
    assert _hint_text(hint) == text


def test_hints_without_a_name_fall_back_to_their_text() -> None:
    class Nameless:
        def __repr__(self) -> str:
            return "typing.Nameless"

    assert _hint_text(Nameless()) == "Nameless"


# -- one rule for bare numbers ------------------------------------------------------------------


class Double(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * 2.0


@pytest.mark.parametrize(
    ("number", "got", "fix"),
    [
        (1.0, "float (1.0)", "create one with np.asarray(x, dtype=np.float64)"),
        (3, "int (3)", "create one with np.asarray(x, dtype=np.float64)"),
        (True, "bool (True)", "create one with np.asarray(x, dtype=np.float64)"),
        (1j, "complex (1j)", "create one with np.asarray(x, dtype=np.float64)"),
        (np.float64(1.0), "numpy scalar float64", "wrap the result in np.asarray(...)"),
    ],
)
def test_a_function_refuses_bare_numbers_as_the_builtins_do(number: object, got: str, fix: str) -> None:
    line = _first_line(_refused(lambda: Double()(number)))  # type: ignore[arg-type]
    assert line.startswith(f"Double: input 0 must be a Variable or a float64 ndarray, got {got}")
    assert fix in line
    builtin = _first_line(_refused(lambda: F.exp(number)))  # type: ignore[arg-type]
    assert builtin.startswith(f"exp: x must be a Variable or a float64 ndarray, got {got}")


def test_a_function_accepts_arrays_and_variables() -> None:
    assert float(Double()(np.array(1.5)).data) == 3.0
    x = Variable(np.array(1.5))
    y = Double()(x)
    y.backward()
    assert x.grad is not None
    assert float(x.grad.data) == 2.0


def test_operators_with_numbers_still_work() -> None:
    x = Variable(np.array(2.0))
    results = [x + 1.0, 1.0 + x, x - 1, 3 - x, 2 * x, x * 2.0, x / 2.0, 1.0 / x, x**2, 2.0**x, -x]
    results.append(np.float64(2.0) * x)
    assert [float(r.data) for r in results] == [3.0, 3.0, 1.0, 1.0, 4.0, 4.0, 1.0, 0.5, 4.0, 4.0, -2.0, 4.0]
    z = 2.0**x
    z.backward()
    assert x.grad is not None
    assert float(x.grad.data) == pytest.approx(4.0 * np.log(2.0))


INTS: Any = np.ones(2, dtype=np.int64)  # Any: refused at run time, the test is not of the checkers
BOTH = " must be a Variable or a float64 ndarray when the other operand is a number too, "


@pytest.mark.parametrize(
    ("call", "first"),
    [
        (
            lambda: F.add(1.0, 2.0),
            "add: x0" + BOTH + "got float (1.0)",
        ),
        (
            lambda: F.sub(1, 2.0),
            "sub: x0" + BOTH + "got int (1)",
        ),
        (
            lambda: F.mul(3.0, 2),
            "mul: x0" + BOTH + "got float (3.0)",
        ),
        (
            lambda: F.div(2.0, 1.0),
            "div: x0" + BOTH,
        ),
        (
            lambda: F.pow(2.0, 3.0),
            "pow: x0" + BOTH,
        ),
        (
            lambda: F.pow(np.ones(2), 2.0j),  # type: ignore[arg-type]  # the refusal under test
            "pow: x1 must be a Variable, a float64 ndarray or a Python int/float, got complex (2j)",
        ),
        (
            lambda: F.add(np.ones(2), True),
            "add: x1 must be a Variable, a float64 ndarray or a Python int/float, got bool (True)",
        ),
        (
            lambda: F.rsub("a", np.ones(2)),  # type: ignore[arg-type]  # the refusal under test
            "rsub: x0 must be a Variable, a float64 ndarray or a Python int/float, got str ('a')",
        ),
        (lambda: F.neg(1.0), "neg: x must be a Variable or a float64 ndarray, got float (1.0)"),
        (
            lambda: F.add(np.ones(2), INTS),
            "Add: input 1 must be a Variable or a float64 ndarray, got numpy.ndarray of dtype int64",
        ),
    ],
)
def test_arithmetic_functions_take_a_number_for_one_operand_only(
    call: Callable[[], object], first: str
) -> None:
    # Checked by hand (the signatures accept a number for either operand): so also with checks off.
    line = _first_line(_refused(call))
    assert line.startswith(first), line
    assert "create one with np.asarray(x, dtype=np.float64)" in line or "astype(np.float64)" in line


def test_arithmetic_functions_on_arrays_and_one_number() -> None:
    a = np.array([1.0, 2.0])
    values = [F.add(a, 1.0), F.sub(1.0, a), F.mul(a, a), F.div(2, a), F.pow(2.0, a), F.neg(a)]
    values += [F.rdiv(a, 4.0), F.rdiv(4.0, a), F.rdiv(a, a), F.rsub(a, 1.0), F.rsub(1.0, a), F.rsub(a, a)]
    expected = [[2.0, 3.0], [0.0, -1.0], [1.0, 4.0], [2.0, 1.0], [2.0, 4.0], [-1.0, -2.0]]
    expected += [[4.0, 2.0], [0.25, 0.5], [1.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, 0.0]]
    assert [v.data.tolist() for v in values] == expected


RULE_PROGRAM = """
import numpy as np
import typed_dezero
import typed_dezero.functions as F
from typed_dezero import Arr, UnaryFunction, Variable

class Double(UnaryFunction):
    def forward(self, x: Arr, /) -> Arr:
        return x * 2.0
    def backward(self, gy: Variable, /) -> Variable:
        return gy * 2.0

class Half(UnaryFunction):
    def forward(self, x: Arr, /) -> Arr:
        return (x / 2.0).astype(np.float32)
    def backward(self, gy: Variable, /) -> Variable:
        return gy

def first_line(call):
    try:
        call()
    except TypeError as error:
        return type(error).__name__ + ": " + str(error).splitlines()[0]
    return "accepted"

print(typed_dezero.RUNTIME_CHECKS)
print(first_line(lambda: Double()(1.0)))
print(first_line(lambda: F.exp(1.0)))
print(first_line(lambda: Double()(np.array(1.0))))
print(first_line(lambda: Double()(Variable(np.array(1.0)))))
x = Variable(np.array(2.0))
print([float(v.data) for v in (x + 1.0, 1.0 - x, 2 * x, x / 2, x ** 2, 2.0 ** x)])
print(first_line(lambda: Half()(np.ones(3))))
"""


@pytest.mark.parametrize("switch", ["1", "0"])
def test_the_number_rule_holds_with_runtime_checks_on_and_off(switch: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RULE_PROGRAM)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TYPED_DEZERO_TYPECHECK": switch},
        timeout=120,
    )
    lines = done.stdout.splitlines()
    assert lines[0] == str(switch == "1")
    assert lines[1] == (
        "DezeroTypeError: Double: input 0 must be a Variable or a float64 ndarray, got float (1.0); "
        "create one with np.asarray(x, dtype=np.float64)"
    )
    assert lines[2].startswith(
        "DezeroTypeError: exp: x must be a Variable or a float64 ndarray, got float (1.0)"
    )
    assert lines[3:5] == ["accepted", "accepted"]
    assert lines[5] == "[3.0, -1.0, 4.0, 1.0, 4.0, 4.0]"
    # A float32 result: worded by the checker's rewording (on) or the engine's guard (off), alike.
    assert lines[6].startswith("DezeroTypeError: Half.forward must return float64 ndarrays")
    assert "returned numpy.ndarray of dtype float32 and shape (3,)" in lines[6]
    assert lines[6].endswith("return y.astype(np.float64) instead")
