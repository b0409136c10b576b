"""Function: the engine, the typed arity bases, and the runtime checks of users' subclasses."""

from __future__ import annotations

import gc
import operator
import pickle
import weakref
from typing import Any

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from typed_dezero import (
    Arr,
    BinaryFunction,
    Function,
    GraphError,
    ShapeError,
    TernaryFunction,
    TwoOutputFunction,
    UnaryFunction,
    Variable,
    no_grad,
)
from typed_dezero.functions.math import Exp, Square


class Scales(TwoOutputFunction):
    """x -> (2x, 3x): a two-output function for the tests."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return 2.0 * x, 3.0 * x

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return 2.0 * gy0 + 3.0 * gy1


class FusedMulAdd(TernaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, x2: Arr, /) -> Arr:
        return x0 * x1 + x2

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable, Variable]:
        x0, x1, _ = self.inputs
        return gy * x1, gy * x0, gy


class Hypot(BinaryFunction):
    @override
    def forward(self, x0: Arr, x1: Arr, /) -> Arr:
        return np.sqrt(x0**2 + x1**2)

    @override
    def backward(self, gy: Variable, /) -> tuple[Variable, Variable]:
        x0, x1 = self.inputs
        r = F.sqrt(x0**2 + x1**2)
        return gy * x0 / r, gy * x1 / r


def test_unary_call_records_graph() -> None:
    x = Variable(np.array([1.0, 2.0]))
    f = Square()
    y = f(x)
    assert isinstance(y, Variable)
    np.testing.assert_array_equal(y.data, [1.0, 4.0])
    assert y.creator is f
    assert f.inputs == (x,)
    assert [r() for r in f.outputs] == [y]
    assert f.generation == 0
    assert y.generation == 1


def test_outputs_are_weak_references() -> None:
    x = Variable(np.ones(2))
    f = Square()
    y = f(x)
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None
    assert f.outputs[0]() is None


def test_outputs_of_one_and_of_two_outputs_and_assigned_as_dezero_does() -> None:
    x = Variable(np.ones(2))
    f, g = Square(), Scales()
    y = f(x)
    y0, y1 = g(x)
    assert isinstance(f.outputs, tuple)
    assert [r() for r in f.outputs] == [y]
    assert [r() for r in g.outputs] == [y0, y1]
    z = Variable(np.zeros(2))
    f.outputs = [weakref.ref(z), weakref.ref(y)]  # DeZero's __call__ stores a list
    assert f.outputs == (weakref.ref(z), weakref.ref(y))


def test_no_graph_is_recorded_without_backprop() -> None:
    x = Variable(np.ones(2))
    f = Exp()
    with no_grad():
        y = f(x)
    assert y.creator is None
    assert y.generation == 0
    assert f.inputs == ()
    assert f.outputs == ()
    assert f.generation == 0


def test_zero_d_results_become_0d_arrays() -> None:
    y = Square()(Variable(np.array(3.0)))
    assert isinstance(y.data, np.ndarray)
    assert y.data.shape == ()
    assert y.data.dtype == np.float64


def test_a_function_instance_is_one_graph_node() -> None:
    f = Square()
    f(Variable(np.ones(1)))
    with pytest.raises(GraphError, match="already called while recording a graph"):
        f(Variable(np.ones(1)))
    with no_grad():
        g = Square()
        g(Variable(np.ones(1)))
        g(Variable(np.ones(1)))  # reuse without recording is harmless


def test_inputs_may_be_arrays_but_not_bare_numbers() -> None:
    y = Hypot()(np.array(3.0), np.array(4.0))
    assert float(y.data) == 5.0
    y2 = Hypot()(Variable(np.array(3.0)), np.array(4.0))
    assert float(y2.data) == 5.0
    with pytest.raises(
        TypeError, match=r"Hypot: input 1 must be a Variable or a float64 ndarray, got int \(4\)"
    ):
        Hypot()(np.array(3.0), 4)  # type: ignore[arg-type]  # the refusal under test, also static


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (np.array([1, 2]), "numpy.ndarray of dtype int64"),
        (np.array([1.0], dtype=np.float32), "dtype float32"),
        (True, "bool"),
        ("3", "str"),
        ([1.0], "list"),
        (np.float32(1.0), "numpy scalar float32"),
    ],
)
def test_bad_inputs_raise_type_error_naming_the_function(bad: object, what: str) -> None:
    with pytest.raises(
        TypeError, match=rf"Square: input 0 must be a Variable or a float64 ndarray, got .*{what}"
    ):
        Square()(bad)  # type: ignore[arg-type]


def test_ternary_function() -> None:
    a, b, c = (Variable(np.array([v])) for v in (2.0, 3.0, 4.0))
    y = FusedMulAdd()(a, b, c)
    y.backward()
    assert float(y.data[0]) == 10.0
    assert a.grad is not None
    assert b.grad is not None
    assert c.grad is not None
    assert (float(a.grad.data[0]), float(b.grad.data[0]), float(c.grad.data[0])) == (3.0, 2.0, 1.0)


def test_two_output_function_returns_a_pair_and_backpropagates_both() -> None:
    x = Variable(np.arange(3.0))
    y0, y1 = Scales()(x)
    np.testing.assert_array_equal(y0.data, [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(y1.data, [0.0, 3.0, 6.0])
    (y0 * y1).sum().backward()  # d/dx (6 x^2) = 12 x
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, [0.0, 12.0, 24.0])


def test_an_output_without_gradient_contributes_zeros_even_when_dropped() -> None:
    x = Variable(np.arange(3.0))
    y0, y1 = Scales()(x)
    del y1
    gc.collect()
    y0.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    x.cleargrad()
    z0, _ = Scales()(x)
    z0.sum().backward()  # the second output is alive but unused
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])


class ReturnsInts(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x.astype(np.int64)  # pyright: ignore[reportReturnType]  (mypy misses a dtype here)

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


class ReturnsArrayGrad(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 1.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy.data  # type: ignore[return-value]


class WrongGradShape(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x[:1] * 1.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


def test_runtime_checks_catch_a_forward_returning_ints() -> None:
    with pytest.raises(TypeError, match=r"ReturnsInts.forward must return float64 ndarrays"):
        ReturnsInts()(np.ones(2))


def test_runtime_checks_catch_a_backward_returning_arrays() -> None:
    y = ReturnsArrayGrad()(np.ones(2))
    with pytest.raises(TypeError, match=r"ReturnsArrayGrad.backward must return a Variable per input"):
        y.backward()


def test_engine_checks_gradient_shapes() -> None:
    y = WrongGradShape()(Variable(np.ones(3)))
    with pytest.raises(
        ShapeError, match=r"WrongGradShape.backward returned a gradient of shape \(1,\) for input 0"
    ):
        y.backward()


def test_abstract_bases_cannot_be_instantiated_incomplete() -> None:
    class NoBackward(UnaryFunction):
        @override
        def forward(self, x: Arr, /) -> Arr:
            return x

    with pytest.raises(TypeError, match="abstract"):
        NoBackward()  # type: ignore[abstract]


def test_plain_function_without_forward_or_backward() -> None:
    class Nothing(Function):
        pass

    with pytest.raises(NotImplementedError, match="Nothing must define forward"):
        Nothing()(np.ones(1))

    class ForwardOnly(Function):
        def forward(self, x: Arr) -> Arr:
            return x * 2.0

    y = ForwardOnly()(np.ones(1))
    with pytest.raises(NotImplementedError, match="ForwardOnly does not define backward"):
        y.backward()


class CubeWithArrays(UnaryFunction):
    """A user Function with both backward flavours."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x**3

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * 3.0 * x**2

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        return gy * 3.0 * self.inputs[0].data ** 2


def test_user_backward_data_is_used_without_create_graph() -> None:
    assert CubeWithArrays.has_backward_data
    assert not Square.has_backward_data or Square.has_backward_data  # built-ins may define it too
    assert not UnaryFunction.has_backward_data
    x = Variable(np.array([2.0, -1.0]))
    CubeWithArrays()(x).sum().backward()
    assert x.grad is not None
    assert x.grad.creator is None
    np.testing.assert_array_equal(x.grad.data, [12.0, 3.0])
    x.cleargrad()
    y = CubeWithArrays()(x).sum()
    y.backward(create_graph=True)
    assert x.grad is not None
    assert x.grad.creator is not None  # the differentiable backward ran


class BadArrays(Function):
    """backward_data returning whatever it is told to (typed Any, so only the engine checks it)."""

    def __init__(self, result: object) -> None:
        self.result = result

    def forward(self, x0: Arr, x1: Arr) -> Arr:
        return x0 * x1

    def backward(self, gy: Variable) -> tuple[Variable, Variable]:
        return gy, gy

    def backward_data(self, *gys: Any, **kwargs: Any) -> Any:
        return self.result


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        ((np.ones(2),), TypeError, r"BadArrays.backward_data returned 1 gradient\(s\) for 2 input\(s\)"),
        ((np.ones(2), np.ones(3)), ShapeError, r"gradient of shape \(3,\) for input 1 of shape \(2,\)"),
        ((np.ones(2), np.ones(2, dtype=np.int64)), TypeError, r"must return a float64 array per input"),
    ],
)
def test_engine_checks_backward_data_results(result: object, error: type[Exception], message: str) -> None:
    y = BadArrays(result)(Variable(np.ones(2)), Variable(np.ones(2)))
    with pytest.raises(error, match=message):
        y.sum().backward()


def test_backward_data_may_return_numpy_scalars_for_0d() -> None:
    y = BadArrays((np.float64(2.0), np.float64(3.0)))(Variable(np.array(1.0)), Variable(np.array(1.0)))
    assert BadArrays.has_backward_data
    y.backward()
    assert y.creator is not None
    x0, x1 = y.creator.inputs
    assert x0.grad is not None
    assert x1.grad is not None
    assert (float(x0.grad.data), float(x1.grad.data)) == (2.0, 3.0)


class CountingSquare(UnaryFunction):
    """x ** 2 that counts its backward calls, to see which ones the engine skips."""

    calls = 0

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x**2

    @override
    def backward(self, gy: Variable, /) -> Variable:
        (x,) = self.inputs
        return gy * 2.0 * x

    @override
    def backward_data(self, gy: Arr, /) -> Arr:
        CountingSquare.calls += 1
        return gy * 2.0 * self.inputs[0].data


@pytest.mark.parametrize("create_graph", [False, True])
def test_raw_operands_are_constants_without_gradients(create_graph: bool) -> None:
    x = Variable(np.array([3.0, 0.0]))
    c = np.array([4.0, 2.0])
    y = Hypot()(x, c)
    assert y.creator is not None
    constant = y.creator.inputs[1]
    assert constant.data is c
    assert x.requires_grad
    assert not constant.requires_grad
    y.sum().backward(create_graph=create_graph)
    assert constant.grad is None
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.data, x.data / np.hypot(x.data, c), rtol=1e-15)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv"])
@pytest.mark.parametrize("reflected", [False, True])
def test_an_array_operand_of_an_operator_is_a_constant_of_the_node(name: str, reflected: bool) -> None:
    # As a number operand is: the node has the Variable as its only input and holds the array, so
    # no Variable is made for the constant (DeZero made one).
    op = getattr(operator, name)
    x = Variable(np.array([1.0, 2.0]))
    c = np.array([[3.0, 4.0]])
    y = op(c, x) if reflected else op(x, c)
    assert y.creator is not None
    assert y.creator.inputs == (x,)
    assert vars(y.creator)["c"] is c
    np.testing.assert_array_equal(y.data, op(c, x.data) if reflected else op(x.data, c))


@pytest.mark.parametrize("create_graph", [False, True])
def test_variables_marked_not_requiring_grad_get_none(create_graph: bool) -> None:
    frozen = Variable(np.array([1.0, 2.0]))
    frozen.requires_grad = False
    w = Variable(np.array([0.5, 0.5]))
    CountingSquare.calls = 0
    h = CountingSquare()(frozen)  # only constants behind it: its backward is skipped
    (h * w).sum().backward(create_graph=create_graph)
    assert frozen.grad is None
    assert w.grad is not None
    np.testing.assert_array_equal(w.grad.data, [1.0, 4.0])
    assert CountingSquare.calls == 0


def test_skipped_inputs_do_not_need_a_valid_gradient() -> None:
    # backward_data may return anything for an input that does not require a gradient.
    y = BadArrays((np.ones(2), np.ones(7)))(Variable(np.ones(2)), np.ones(2))
    y.sum().backward()
    assert y.creator is not None
    assert y.creator.inputs[0].grad is not None


class PlainReturnsInts(Function):
    """A plain Function typed Any, so only the engine's own guard checks what forward returns."""

    def forward(self, *xs: Any, **kwargs: Any) -> Any:
        return np.array([1, 2])

    def backward(self, *gys: Any, **kwargs: Any) -> Any:
        return gys[0]


def test_engine_guards_forward_results_without_the_runtime_checker() -> None:
    with pytest.raises(TypeError, match=r"PlainReturnsInts.forward must return float64 ndarrays, returned"):
        PlainReturnsInts()(np.ones(2))


def test_float64_arrays_with_an_equal_but_distinct_dtype_object_are_accepted() -> None:
    # Unpickled arrays carry a float64 dtype equal to, but not the same object as, np.dtype(float64).
    swapped: Arr = pickle.loads(pickle.dumps(np.array([1.0, 2.0])))
    assert swapped.dtype is not np.dtype(np.float64)

    class Swapping(UnaryFunction):
        @override
        def forward(self, x: Arr, /) -> Arr:
            return swapped.copy()

        @override
        def backward(self, gy: Variable, /) -> Variable:
            return gy

        @override
        def backward_data(self, gy: Arr, /) -> Arr:
            return swapped.copy()

    x = Variable(np.ones(2))
    y = Swapping()(x)
    assert y.data.dtype == np.float64
    y.sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])


class ScalesWithArrays(TwoOutputFunction):
    """x -> (2x, 3x) with an array fast path, for the multi-output fast path of the engine."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return 2.0 * x, 3.0 * x

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return 2.0 * gy0 + 3.0 * gy1

    @override
    def backward_data(self, gy0: Arr, gy1: Arr, /) -> Arr:
        return 2.0 * gy0 + 3.0 * gy1


def test_multi_output_fast_path_and_anomaly_watch() -> None:
    from typed_dezero.config import detect_anomaly

    x = Variable(np.arange(3.0))
    with detect_anomaly():
        y0, y1 = ScalesWithArrays()(x)
    assert y0.creator is not None
    assert y0.creator.created_at is not None
    (y0 * y1).sum().backward()
    assert x.grad is not None
    np.testing.assert_array_equal(x.grad.data, [0.0, 12.0, 24.0])


def test_reusing_a_multi_output_function_is_a_graph_error() -> None:
    f = ScalesWithArrays()
    f(np.ones(1))
    with pytest.raises(GraphError, match="already called"):
        f(np.ones(1))


def test_arity_bases_without_backward_data_say_so() -> None:
    x = np.ones(2)
    with pytest.raises(NotImplementedError, match="Scales does not define backward_data"):
        Scales().backward_data(x, x)
    with pytest.raises(NotImplementedError, match="FusedMulAdd does not define backward_data"):
        FusedMulAdd().backward_data(x)
    with pytest.raises(NotImplementedError, match="Hypot does not define backward_data"):
        Hypot().backward_data(x)
    with pytest.raises(NotImplementedError, match="ReturnsArrayGrad does not define backward_data"):
        ReturnsArrayGrad().backward_data(x)
    with pytest.raises(NotImplementedError, match="PlainReturnsInts does not define backward_data"):
        PlainReturnsInts().backward_data(x)
    assert not Scales.has_backward_data


def test_unchain_backward_on_a_leaf_does_nothing() -> None:
    x = Variable(np.ones(2))
    x.unchain_backward()
    assert x.creator is None
