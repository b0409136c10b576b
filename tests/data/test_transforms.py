"""Transforms: Compose, Normalize, Flatten, AsType, ToFloat, ToInt."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import arrays, shapes
from typed_dezero import Arr, DezeroError
from typed_dezero.transforms import AsType, Compose, Flatten, Normalize, ToFloat, ToInt, Transform


def _double(x: Arr) -> Arr:
    return x * 2.0


def _shift(x: Arr) -> Arr:
    return x + 1.0


def _to_ints(x: Arr) -> Any:
    return x.astype(np.int64)


def _unchecked(method: Callable[..., None]) -> Callable[..., None]:
    """`method` without its beartype wrapper: the hand-written checks behind it stay on when
    runtime type checking is switched off, and must raise the same errors."""
    unwrapped: Callable[..., None] = inspect.unwrap(method)
    return unwrapped


# -- Compose -------------------------------------------------------------------------------------


def test_compose_applies_steps_in_order() -> None:
    x = np.array([1.0, -2.0, 3.5])
    np.testing.assert_array_equal(Compose([_double, _shift])(x), x * 2.0 + 1.0)
    np.testing.assert_array_equal(Compose([_shift, _double])(x), (x + 1.0) * 2.0)


@pytest.mark.parametrize("steps", [None, []])
def test_compose_without_steps_is_the_identity(steps: list[Transform] | None) -> None:
    x = np.array([[1.0, 2.0]])
    compose = Compose(steps)
    np.testing.assert_array_equal(compose(x), np.array([[1.0, 2.0]]))
    assert len(compose) == 0
    assert compose.transforms == ()
    assert repr(compose) == "Compose([])"


def test_compose_copies_its_steps() -> None:
    steps: list[Transform] = [_double]
    compose = Compose(steps)
    steps.append(_shift)
    assert compose.transforms == (_double,)
    assert len(compose) == 1
    np.testing.assert_array_equal(compose(np.array([3.0])), np.array([6.0]))


def test_compose_repr_lists_its_steps() -> None:
    assert repr(Compose([Flatten(), ToFloat(), Normalize(0.0, 255.0)])) == (
        "Compose([Flatten(), ToFloat(), Normalize(mean=0.0, std=255.0)])"
    )


def test_compose_rejects_uncallable_steps() -> None:
    with pytest.raises(TypeError, match="transforms") as info:
        Compose([3])  # type: ignore[list-item]
    assert isinstance(info.value, DezeroError)
    compose = object.__new__(Compose)
    with pytest.raises(TypeError, match=r"Compose: transforms\[1\] must be callable, got int \(3\)") as info:
        _unchecked(Compose.__init__)(compose, [_double, 3])
    assert isinstance(info.value, DezeroError)


def test_compose_names_a_step_that_changes_the_dtype() -> None:
    with pytest.raises(
        TypeError, match=r"Compose: step 1 \(.*_to_ints.*\) must return a float64 .*dtype int64"
    ):
        Compose([_double, _to_ints])(np.array([1.0]))


def test_compose_rejects_non_float64_input() -> None:
    singles = np.ones(2, dtype=np.float32)
    with pytest.raises(TypeError, match=r"Compose: input must be a float64 numpy.ndarray, got .*float32"):
        Compose([_double])(singles)  # type: ignore[arg-type]


# -- Normalize -----------------------------------------------------------------------------------


def test_normalize_with_scalars() -> None:
    x = np.array([[0.0, 51.0], [255.0, 127.5]])
    np.testing.assert_allclose(Normalize(0.0, 255.0)(x), x / 255.0)
    np.testing.assert_allclose(Normalize(1.0, 2.0)(x), (x - 1.0) / 2.0)
    np.testing.assert_array_equal(Normalize()(x), x)


def test_normalize_per_channel_uses_the_first_axis() -> None:
    x = np.arange(12.0).reshape(3, 2, 2)
    mean, std = [1.0, 2.0, 3.0], [0.5, 1.0, 4.0]
    expected = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(Normalize(mean, std)(x), expected)
    np.testing.assert_allclose(Normalize(np.array(mean), np.array(std))(x), expected)


def test_normalize_mixes_scalar_and_per_channel_values() -> None:
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(Normalize([1.0, 2.0], 2.0)(x), (x - np.array([[1.0], [2.0]])) / 2.0)
    np.testing.assert_allclose(Normalize(1.0, [1.0, 4.0])(x), (x - 1.0) / np.array([[1.0], [4.0]]))


def test_normalize_one_element_sequences_apply_to_every_channel() -> None:
    x = np.arange(4.0).reshape(4, 1)
    np.testing.assert_allclose(Normalize([2.0], [0.5])(x), (x - 2.0) / 0.5)


def test_normalize_0d_sample_gives_a_0d_array() -> None:
    y = Normalize(1.0, 2.0)(np.array(5.0))
    assert isinstance(y, np.ndarray)
    assert y.shape == ()
    assert y.dtype == np.float64
    assert float(y) == 2.0


def test_normalize_does_not_modify_its_input() -> None:
    x = np.array([2.0, 4.0])
    Normalize(1.0, 2.0)(x)
    np.testing.assert_array_equal(x, [2.0, 4.0])


def test_normalize_exposes_copies_of_mean_and_std() -> None:
    normalize = Normalize([1.0, 2.0], 3.0)
    np.testing.assert_array_equal(normalize.mean, [1.0, 2.0])
    assert normalize.std.shape == ()
    normalize.mean[0] = 100.0
    np.testing.assert_allclose(normalize(np.array([1.0, 2.0])), [0.0, 0.0])
    assert repr(normalize) == "Normalize(mean=[1.0, 2.0], std=3.0)"


@pytest.mark.parametrize(
    ("mean", "std", "error", "message"),
    [
        (0.0, 0.0, ValueError, r"std must be positive, got 0.0"),
        (0.0, [1.0, -1.0], ValueError, r"std must be positive, got \[1.0, -1.0\]"),
        (float("nan"), 1.0, ValueError, "mean must be finite"),
        (0.0, float("inf"), ValueError, "std must be finite"),
        (
            np.ones((1, 2)),
            1.0,
            ValueError,
            r"mean must be a number or a non-empty 1-d sequence, got shape \(1, 2\)",
        ),
        ([], 1.0, ValueError, r"mean must be a number or a non-empty 1-d sequence, got shape \(0,\)"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], ValueError, "got 2 means and 3 stds"),
    ],
)
def test_normalize_rejects_bad_parameters(mean: Any, std: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=f"^Normalize: .*{message}") as info:
        Normalize(mean, std)
    assert isinstance(info.value, DezeroError)


@pytest.mark.parametrize("mean", [["a"], [[1.0, 2.0]], "0"])
def test_normalize_rejects_non_numbers(mean: Any) -> None:
    with pytest.raises(TypeError, match="mean") as info:
        Normalize(mean)
    assert isinstance(info.value, DezeroError)


@pytest.mark.parametrize("std", ["2", ["a"], True, [[1.0], [1.0, 2.0]], [None]])
def test_normalize_hand_checks_catch_what_the_type_checker_would(std: Any) -> None:
    normalize = object.__new__(Normalize)
    with pytest.raises(TypeError, match="Normalize: std must be a number or a sequence of numbers"):
        _unchecked(Normalize.__init__)(normalize, 0.0, std)


def test_normalize_per_channel_needs_matching_channels() -> None:
    normalize = Normalize([1.0, 2.0, 3.0], 1.0)
    with pytest.raises(
        ValueError, match=r"3 per-channel mean values need a sample of shape \(3, ...\).*\(1, 28, 28\)"
    ):
        normalize(np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match=r"per-channel std values need .* got x.shape=\(\)"):
        Normalize(0.0, [1.0, 2.0])(np.array(1.0))


def test_normalize_needs_float64_input() -> None:
    with pytest.raises(
        TypeError, match=r"Normalize: input must be a float64 .*int64.*put ToFloat\(\) before"
    ):
        Normalize()(np.array([1, 2]))


@given(arrays(shapes(min_dims=1)), st.floats(-3.0, 3.0), st.floats(0.5, 4.0))
def test_normalize_is_undone_by_scaling_back(x: Arr, mean: float, std: float) -> None:
    np.testing.assert_allclose(Normalize(mean, std)(x) * std + mean, x, atol=1e-12)


# -- Flatten -------------------------------------------------------------------------------------


def test_flatten_gives_a_c_order_copy_with_the_same_dtype() -> None:
    x = np.arange(24).reshape(2, 3, 4)
    y = Flatten()(x)
    np.testing.assert_array_equal(y, np.arange(24))
    assert y.dtype == np.int64
    y[0] = 99
    assert x[0, 0, 0] == 0
    assert repr(Flatten()) == "Flatten()"


def test_flatten_turns_a_0d_sample_into_shape_1() -> None:
    assert Flatten()(np.array(3.0)).shape == (1,)


def test_flatten_rejects_non_arrays() -> None:
    with pytest.raises(TypeError, match=r"Flatten: input must be a numpy.ndarray, got list \(\[1, 2\]\)"):
        Flatten()([1, 2])  # type: ignore[arg-type]


@given(arrays(shapes()))
def test_flatten_keeps_every_element_in_order(x: Arr) -> None:
    np.testing.assert_array_equal(Flatten()(x), np.ravel(x, order="C"))


# -- AsType, ToFloat, ToInt ----------------------------------------------------------------------


def test_astype_defaults_to_float64() -> None:
    convert = AsType()
    assert convert.dtype is np.float64
    y = convert(np.array([1, 2], dtype=np.uint8))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [1.0, 2.0])
    assert repr(convert) == "AsType(float64)"


def test_astype_to_other_types() -> None:
    assert AsType(np.float32)(np.array([1.5])).dtype == np.float32
    assert AsType(np.int16)(np.array([True, False])).tolist() == [1, 0]
    assert AsType(np.bool_)(np.array([0.0, 2.0])).tolist() == [False, True]
    assert repr(AsType(np.int16)) == "AsType(int16)"


def test_astype_returns_a_copy() -> None:
    x = np.array([1.0, 2.0])
    y = AsType()(x)
    y[0] = 5.0
    assert x[0] == 1.0


def test_float_to_int_truncates_toward_zero() -> None:
    x = np.array([1.9, -1.9, 0.5, -0.5, 127.9, -128.9])
    np.testing.assert_array_equal(AsType(np.int8)(x), np.trunc(x).astype(np.int8))
    np.testing.assert_array_equal(AsType(np.uint8)(np.array([-0.9, 255.9])), [0, 255])


@pytest.mark.parametrize(
    ("dtype", "values", "message"),
    [
        (np.int64, [1.0, float("nan")], "cannot convert NaN or infinity to int64"),
        (np.int32, [float("-inf")], "cannot convert NaN or infinity to int32"),
        (np.int8, [128.0], r"values in \[128.0, 128.0\] do not fit in int8"),
        (np.int8, [-129.0, 0.0], r"values in \[-129.0, 0.0\] do not fit in int8"),
        (np.uint8, [-1.0], "do not fit in uint8"),
        (np.int64, [2.0**63], "do not fit in int64"),
        (np.float32, [1e300], "do not fit in float32"),
        (np.float32, [-1e39, 1.0], "do not fit in float32"),
    ],
)
def test_astype_refuses_values_the_target_cannot_hold(
    dtype: type[Any], values: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^AsType: .*{message}") as info:
        AsType(dtype)(np.array(values))
    assert isinstance(info.value, DezeroError)


def test_astype_checks_integer_ranges_too() -> None:
    with pytest.raises(ValueError, match=r"AsType: values in \[0, 300\] do not fit in int8"):
        AsType(np.int8)(np.array([0, 300]))
    np.testing.assert_array_equal(AsType(np.int8)(np.array([-128, 127])), [-128, 127])
    with pytest.raises(ValueError, match="do not fit in uint8"):
        AsType(np.uint8)(np.array([-1, 0]))


def test_astype_keeps_nan_and_infinity_between_floating_types() -> None:
    y = AsType(np.float32)(np.array([np.nan, np.inf, -np.inf, 1.0]))
    assert np.isnan(y[0])
    assert y[1:].tolist() == [np.inf, -np.inf, 1.0]
    y16 = AsType(np.float16)(np.array([np.nan, np.nan]))
    assert bool(np.all(np.isnan(y16)))


def test_astype_limits_are_exact() -> None:
    assert AsType(np.int64)(np.array([-(2.0**63)])).tolist() == [-(2**63)]
    assert AsType(np.float16)(np.array([65504])).tolist() == [65504.0]
    with pytest.raises(ValueError, match="do not fit in float16"):
        AsType(np.float16)(np.array([70000]))


def test_astype_accepts_empty_arrays() -> None:
    assert AsType(np.int8)(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize(
    ("x", "named"),
    [
        (np.array([1j]), "complex128"),
        (np.array(["a"]), "<U1"),
        (np.array([None]), "object"),
        ([1.0], r"list \(\[1.0\]\)"),
    ],
)
def test_astype_rejects_non_real_input(x: Any, named: str) -> None:
    with pytest.raises(
        TypeError,
        match=f"AsType: input must be a numpy.ndarray of bool, integer or floating dtype, got .*{named}",
    ):
        AsType()(x)


@pytest.mark.parametrize("dtype", [float, int, np.complex128, np.object_, np.str_, np.datetime64])
def test_astype_rejects_non_real_numpy_types(dtype: Any) -> None:
    with pytest.raises(TypeError, match=r"AsType: dtype must be a real NumPy scalar type such as"):
        AsType(dtype)


def test_astype_rejects_dtype_strings() -> None:
    with pytest.raises(TypeError, match="dtype"):
        AsType("float32")  # type: ignore[call-overload]


def test_to_float_converts_to_float64() -> None:
    y = ToFloat()(np.array([[1, 2]], dtype=np.uint8))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[1.0, 2.0]])
    assert ToFloat().dtype is np.float64
    assert repr(ToFloat()) == "ToFloat()"


def test_to_int_converts_to_int64_or_a_given_integer_type() -> None:
    y = ToInt()(np.array([3.0, 7.9]))
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [3, 7])
    assert ToInt(np.int32)(np.array([1.0])).dtype == np.int32
    assert repr(ToInt(np.uint8)) == "ToInt(uint8)"
    with pytest.raises(ValueError, match="ToInt: cannot convert NaN"):
        ToInt()(np.array([np.nan]))


@pytest.mark.parametrize("dtype", [np.float64, np.bool_, int, "int64"])
def test_to_int_needs_an_integer_type(dtype: Any) -> None:
    with pytest.raises(TypeError, match="dtype"):
        ToInt(dtype)
    to_int = object.__new__(ToInt)
    with pytest.raises(TypeError, match=r"ToInt: dtype must be a NumPy integer type such as np\.int64, got"):
        _unchecked(ToInt.__init__)(to_int, dtype)
