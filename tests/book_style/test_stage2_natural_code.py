# pyright: basic, reportOptionalMemberAccess=false

# Book-style programs for DeZero steps 19-24, written as the book writes them with only
# `import dezero` replaced by `import typed_dezero as dezero` (see test_book_style.py's header).
# Strictness case kept on purpose: data must be a float64 ndarray, so the book's integer
# arrays are written with float literals.
"""Stage 2 (steps 19-24) in the book's spelling."""

import numpy as np
import pytest

import typed_dezero as dezero
from typed_dezero import Variable


def test_step_19_variable_attributes_and_repr():
    x = Variable(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    assert x.shape == (2, 3)
    assert x.ndim == 2
    assert x.size == 6
    assert x.dtype == np.float64
    assert len(x) == 2
    assert repr(x) == "variable([[1. 2. 3.]\n          [4. 5. 6.]])"
    assert repr(Variable(np.array([1.0, 2.0, 3.0]))) == "variable([1. 2. 3.])"
    # Strictness case: DeZero prints variable(None); typed_dezero has no empty Variables.
    with pytest.raises(TypeError):
        Variable(None)  # pyright: ignore[reportArgumentType]
    x.name = "x"
    assert x.name == "x"


def test_step_20_operator_overloads():
    a = Variable(np.array(3.0))
    b = Variable(np.array(2.0))
    c = Variable(np.array(1.0))
    y = a * b + c
    y.backward()
    assert y.data == 7.0
    assert a.grad.data == 2.0
    assert b.grad.data == 3.0


def test_step_21_scalars_and_ndarrays_on_either_side():
    x = Variable(np.array(2.0))
    y = x + np.array(3.0)
    assert isinstance(y, Variable)
    assert y.data == 5.0
    y = x + 3.0
    assert y.data == 5.0
    y = 3.0 * x + 1.0
    assert y.data == 7.0
    x = Variable(np.array([1.0]))
    y = np.array([2.0]) + x  # __array_priority__ makes the Variable win
    assert isinstance(y, Variable)
    assert np.array_equal(y.data, np.array([3.0]))


def test_step_22_neg_sub_div_pow():
    x = Variable(np.array(2.0))
    assert (-x).data == -2.0
    y1 = 2.0 - x
    y2 = x - 1.0
    assert y1.data == 0.0
    assert y2.data == 1.0
    assert (3.0 / x).data == 1.5
    assert (x / 4.0).data == 0.5
    y = x**3
    y.backward()
    assert y.data == 8.0
    assert x.grad.data == 12.0


def test_step_23_package_switch():
    # Steps 23-32 import from dezero.core_simple when dezero.is_simple_core is True.
    assert dezero.is_simple_core is False
    from typed_dezero import core_simple

    x = core_simple.Variable(np.array(1.0))
    y = (x + 3.0) ** 2
    y.backward()
    assert y.data == 16.0
    assert x.grad.data == 8.0


def sphere(x, y):
    z = x**2 + y**2
    return z


def matyas(x, y):
    z = 0.26 * (x**2 + y**2) - 0.48 * x * y
    return z


def goldstein(x, y):
    z = (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)) * (
        30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    )
    return z


@pytest.mark.parametrize(
    ("f", "gx", "gy"),
    [
        (sphere, 2.0, 2.0),
        (matyas, 0.040000000000000036, 0.040000000000000036),
        (goldstein, -5376.0, 8064.0),
    ],
)
def test_step_24_complex_functions(f, gx, gy):
    x = Variable(np.array(1.0))
    y = Variable(np.array(1.0))
    z = f(x, y)
    z.backward()
    assert x.grad.data == pytest.approx(gx, rel=1e-12)
    assert y.grad.data == pytest.approx(gy, rel=1e-12)
