"""Variable: strict construction, attributes, gradients and the helper conversions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import typed_dezero as tdz
from typed_dezero import Parameter, ShapeError, Variable, as_array, as_variable

BAD_DATA: list[tuple[object, str]] = [
    (None, "got None"),
    (1.0, "got float"),
    (3, "got int"),
    (True, "got bool"),
    ([1.0, 2.0], "got list"),
    ((1.0, 2.0), "got tuple"),
    (np.float64(2.0), "operations on 0-d arrays: wrap the result in np.asarray"),
    (np.array([1, 2, 3]), "dtype int64"),
    (np.array([True, False]), "dtype bool"),
    (np.array([1.0], dtype=np.float16), "dtype float16"),
    (np.array([1.0], dtype=np.float32), "dtype float32"),
    (np.array([1j]), "dtype complex128"),
    (np.array([1.0], dtype=object), "dtype object"),
    ("1.0", "got str"),
]


@pytest.mark.parametrize(("data", "named"), BAD_DATA, ids=[repr(d)[:30] for d, _ in BAD_DATA])
def test_variable_rejects_anything_but_float64_arrays(data: Any, named: str) -> None:
    with pytest.raises(TypeError, match="float64") as info:
        Variable(data)
    message = str(info.value)
    assert named in message
    assert "np.asarray" in message or "astype" in message or "no empty Variables" in message, message
    assert isinstance(info.value, tdz.DezeroError)


def test_np_matrix_is_rejected() -> None:
    with pytest.warns(PendingDeprecationWarning):
        m = np.asmatrix(np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"numpy.matrix of dtype float64 .* np.asarray\(x\)"):
        Variable(m)


def test_variable_none_explains_the_typed_replacement() -> None:
    with pytest.raises(TypeError, match="typed_dezero has no empty Variables"):
        Variable(None)  # type: ignore[arg-type]


def test_parameter_is_equally_strict() -> None:
    with pytest.raises(TypeError, match="Parameter: data must be"):
        Parameter(np.array([1, 2]))
    p = Parameter(np.ones(2), name="W")
    assert isinstance(p, Variable)
    assert repr(p) == "parameter([1. 1.], name='W')"


def test_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="name must be a str or None, got int"):
        Variable(np.ones(1), name=3)  # type: ignore[arg-type]


def test_accepts_every_float64_array_shape() -> None:
    for shape in [(), (0,), (3,), (2, 3), (1, 2, 3, 4)]:
        v = Variable(np.zeros(shape))
        assert v.shape == shape
        assert v.ndim == len(shape)
        assert v.size == int(np.prod(shape))
        assert v.dtype == np.float64
    big_endian = np.ones(2, dtype=">f8").astype(np.float64)
    assert Variable(big_endian).dtype == np.float64


def test_attributes_as_in_dezero() -> None:
    data = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = Variable(data, name="x")
    assert x.data is data
    assert x.name == "x"
    assert x.grad is None
    assert x.creator is None
    assert x.generation == 0
    assert len(x) == 2
    assert repr(x) == "variable([[1. 2. 3.]\n          [4. 5. 6.]], name='x')"
    assert repr(Variable(np.array(1.5))) == "variable(1.5)"


def test_len_of_0d_variable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"len\(\) of a 0-d Variable"):
        len(Variable(np.array(1.0)))


def test_data_setter_is_checked() -> None:
    x = Variable(np.ones(2))
    x.data = np.zeros(3)
    assert x.shape == (3,)
    ints = np.zeros(3, dtype=np.int64)
    with pytest.raises(TypeError, match=r"Variable.data: data must be .* dtype int64"):
        x.data = ints  # type: ignore[assignment]
    assert x.data.dtype == np.float64  # unchanged by the failed assignment


def test_grad_setter_is_checked() -> None:
    x = Variable(np.ones(2))
    with pytest.raises(TypeError, match=r"grad must be a Variable or None, got numpy\.ndarray"):
        x.grad = np.ones(2)  # type: ignore[assignment]
    with pytest.raises(ShapeError, match=r"grad.shape=\(3,\), data.shape=\(2,\)"):
        x.grad = Variable(np.ones(3))
    assert x.grad is None
    g = Variable(np.full(2, 3.0))
    x.grad = g
    assert x.grad is g
    x.cleargrad()
    assert x.grad is None


def test_as_array() -> None:
    a = np.ones(3)
    assert as_array(a) is a
    for scalar in (2.0, 2, np.float64(2.0)):
        out = as_array(scalar)
        assert isinstance(out, np.ndarray)
        assert out.shape == ()
        assert out.dtype == np.float64
        assert float(out) == 2.0
    for bad in (np.ones(2, dtype=np.float32), np.float32(1.0), True, "x", [1.0]):
        with pytest.raises(TypeError, match="as_array: expected a float64 ndarray"):
            as_array(bad)  # type: ignore[arg-type]


def test_as_variable() -> None:
    v = Variable(np.ones(2))
    assert as_variable(v) is v
    a = np.ones(2)
    w = as_variable(a)
    assert isinstance(w, Variable)
    assert w.data is a
    for bad in (1.0, np.ones(2, dtype=np.int32), None):
        with pytest.raises(TypeError, match="as_variable: expected a Variable or a float64 ndarray"):
            as_variable(bad)  # type: ignore[arg-type]


def test_numpy_ufuncs_refuse_variables_loudly() -> None:
    x = Variable(np.ones(2))
    with pytest.raises(TypeError, match="does not support ufuncs"):
        np.exp(x)  # type: ignore[call-overload]


def test_set_creator_and_unchain() -> None:
    x = Variable(np.ones(2))
    y = tdz.functions.square(x)
    assert y.creator is not None
    assert y.generation == 1
    z = Variable(np.ones(2))
    z.set_creator(y.creator)
    assert z.generation == y.creator.generation + 1
    y.unchain()
    assert y.creator is None
