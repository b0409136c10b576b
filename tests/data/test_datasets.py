"""Dataset: the subclass contract, item access and transforms; Spiral, SinCurve and Digits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from typing_extensions import override

from typed_dezero import Arr, DezeroError, IntArr
from typed_dezero.datasets import (
    Dataset,
    Digits,
    LabelT,
    SinCurve,
    Spiral,
    get_spiral,
)
from typed_dezero.transforms import Normalize, ToInt

# Subclasses live at module level: beartype resolves the hints of their inherited __init__ here.


class Pairs(Dataset[IntArr]):
    """Five samples of shape (2,) with int labels 10 * i."""

    @override
    def prepare(self) -> None:
        self.data = np.arange(10.0).reshape(5, 2)
        self.label = np.arange(5) * 10


class Targets(Dataset[Arr]):
    @override
    def prepare(self) -> None:
        self.data = np.arange(3.0)
        self.label = np.arange(6.0).reshape(3, 2)


class Unlabeled(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((4, 3))
        self.label = None


class Anything(Dataset[LabelT]):
    """Stays generic, so the run-time check of the label kind does not apply."""

    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 1))
        self.label = np.zeros(2, dtype=np.uint8)  # type: ignore[assignment]


class NoData(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.label = None


class IntData(Dataset[None]):
    @override
    def prepare(self) -> None:
        ints = np.ones((2, 2), dtype=np.int64)
        self.data = ints  # type: ignore[assignment]
        self.label = None


class ScalarData(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.data = np.array(1.0)
        self.label = None


class NoLabel(Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))


class ListLabel(Dataset[Any]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = [0, 1]


class ScalarLabel(Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.array(1)


class ShortLabel(Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((3, 2))
        self.label = np.arange(2)


class FloatForInt(Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2)  # type: ignore[assignment]


class IntForFloat(Dataset[Arr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        ints = np.zeros(2, dtype=np.int64)
        self.label = ints  # type: ignore[assignment]


class LabelsForNone(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2, dtype=np.int64)  # type: ignore[assignment]


class NoneForInt(Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = None  # type: ignore[assignment]


class MorePairs(Pairs):
    """A subclass of a subclass keeps the declared label type."""


class MorePairsWithFloats(Pairs):
    @override
    def prepare(self) -> None:
        super().prepare()
        self.label = np.zeros(5)  # type: ignore[assignment]


class Described:
    """A mixin before the Dataset base: the declared label type is still found."""

    def describe(self) -> str:
        return "pairs"


class MixedPairs(Described, Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2)  # type: ignore[assignment]


# -- the subclass contract -----------------------------------------------------------------------


class AnyDtype(Dataset[npt.NDArray[Any]]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2, dtype=np.uint8)


class BareDtype(Dataset[np.ndarray[Any, np.dtype]]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2)


class ShapeOnly(Dataset[np.ndarray[Any]]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2, dtype=np.int16)


class Int32Labels(Dataset[npt.NDArray[np.int32]]):
    @override
    def prepare(self) -> None:
        self.data = np.ones((2, 2))
        self.label = np.zeros(2, dtype=np.int32)


class Int64ForInt32(Int32Labels):
    @override
    def prepare(self) -> None:
        super().prepare()
        ints = np.zeros(2, dtype=np.int64)
        self.label = ints  # type: ignore[assignment]


def test_label_types_without_a_dtype_accept_any_label_array() -> None:
    assert AnyDtype()[0][1].dtype == np.uint8
    assert BareDtype()[0][1].dtype == np.float64
    assert ShapeOnly()[0][1].dtype == np.int16


def test_a_precise_integer_label_type_is_checked_exactly() -> None:
    assert Int32Labels()[1][1].dtype == np.int32
    with pytest.raises(
        TypeError, match=r"Int64ForInt32 declares labels of dtype int32, got numpy\.ndarray of dtype int64"
    ):
        Int64ForInt32()


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (NoData, r"NoData.prepare\(\) must set self.data to a float64 numpy.ndarray .* got NoneType"),
        (IntData, r"IntData.prepare\(\) must set self.data .* got numpy.ndarray of dtype int64"),
        (ScalarData, r"ScalarData.prepare\(\) must set self.data .*shape \(\)"),
        (NoLabel, r"NoLabel.prepare\(\) must set self.label: an integer or float64 .* or None for unlabeled"),
        (ListLabel, r"ListLabel.prepare\(\) must set self.label to an integer or float64 .* got list"),
        (ScalarLabel, r"ScalarLabel.prepare\(\) must set self.label .*shape \(\)"),
        (FloatForInt, "FloatForInt declares labels of dtype integer, got numpy.ndarray of dtype float64"),
        (IntForFloat, "IntForFloat declares labels of dtype float64, got numpy.ndarray of dtype int64"),
        (LabelsForNone, r"LabelsForNone is a Dataset\[None\], but the label is numpy.ndarray of dtype int64"),
        (NoneForInt, "NoneForInt declares labels of dtype integer, but the label is None"),
        (MorePairsWithFloats, "MorePairsWithFloats declares labels of dtype integer"),
        (MixedPairs, "MixedPairs declares labels of dtype integer, got numpy.ndarray of dtype float64"),
    ],
)
def test_prepare_must_fill_data_and_labels_of_the_declared_kind(
    cls: Callable[[], object], message: str
) -> None:
    with pytest.raises(TypeError, match=message) as info:
        cls()
    assert isinstance(info.value, DezeroError)


def test_labels_must_match_the_samples_in_number() -> None:
    with pytest.raises(ValueError, match="ShortLabel: data holds 3 samples but label holds 2"):
        ShortLabel()


def test_generic_subclasses_accept_any_label_array() -> None:
    ds = Anything[IntArr]()
    assert ds[1][1].dtype == np.uint8
    assert len(MorePairs()) == 5


def test_dataset_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Dataset()  # type: ignore[abstract]


# -- item access ---------------------------------------------------------------------------------


def test_items_are_sample_and_label_arrays() -> None:
    ds = Pairs()
    assert ds.train
    assert len(ds) == 5
    x, t = ds[3]
    np.testing.assert_array_equal(x, [6.0, 7.0])
    assert isinstance(t, np.ndarray)
    assert t.shape == ()
    assert t.dtype == np.arange(1).dtype
    assert int(t) == 30


def test_negative_and_numpy_integer_indices() -> None:
    ds = Pairs()
    np.testing.assert_array_equal(ds[-1][0], [8.0, 9.0])
    np.testing.assert_array_equal(ds[-5][0], [0.0, 1.0])
    assert int(ds[np.int64(2)][1]) == 20
    assert int(ds[np.uint8(4)][1]) == 40


def test_1d_data_gives_0d_samples_and_float_labels_keep_their_shape() -> None:
    x, t = Targets()[2]
    assert isinstance(x, np.ndarray)
    assert x.shape == ()
    assert float(x) == 2.0
    np.testing.assert_array_equal(t, [4.0, 5.0])


def test_unlabeled_items_have_none_labels() -> None:
    x, t = Unlabeled(train=False)[0]
    np.testing.assert_array_equal(x, np.ones(3))
    assert t is None


@pytest.mark.parametrize("index", [5, -6, 10**20, np.int64(7)])
def test_index_out_of_range(index: Any) -> None:
    with pytest.raises(
        IndexError, match=r"Pairs\[index\]: index -?\d+ is out of range for 5 samples"
    ) as info:
        Pairs()[index]
    assert isinstance(info.value, DezeroError)


@pytest.mark.parametrize(
    ("index", "named"),
    [
        (1.0, r"float \(1.0\)"),
        ("0", r"str \('0'\)"),
        (True, "bool"),
        (slice(0, 2), "slice"),
        (np.array(1), "ndarray"),
    ],
)
def test_index_must_be_an_int(index: Any, named: str) -> None:
    with pytest.raises(TypeError, match=rf"Pairs\[index\]: index must be an int, got .*{named}") as info:
        Pairs()[index]
    assert isinstance(info.value, DezeroError)


def test_iteration_and_repr() -> None:
    ds = Pairs()
    items = list(ds)
    assert len(items) == 5
    assert [int(t) for _, t in items] == [0, 10, 20, 30, 40]
    np.testing.assert_array_equal(np.stack([x for x, _ in items]), np.arange(10.0).reshape(5, 2))
    assert repr(ds) == "Pairs(train=True, 5 samples)"
    assert repr(Unlabeled(train=False)) == "Unlabeled(train=False, 4 samples)"


# -- transforms ----------------------------------------------------------------------------------


def _times_ten(t: IntArr) -> IntArr:
    return t * 10


def test_transforms_apply_to_each_item() -> None:
    ds = Pairs(transform=Normalize(1.0, 2.0), target_transform=_times_ten)
    x, t = ds[2]
    np.testing.assert_allclose(x, (np.array([4.0, 5.0]) - 1.0) / 2.0)
    assert int(t) == 200
    np.testing.assert_array_equal(ds.data[2], [4.0, 5.0])  # the stored data is untouched


def _double(x: Arr) -> Arr:
    return x * 2.0


def test_numpy_scalars_from_transforms_become_0d_arrays() -> None:
    # Arithmetic on a 0-d array returns a NumPy scalar; the dataset hands out arrays regardless.
    x, t = Targets(transform=_double)[1]
    assert isinstance(x, np.ndarray)
    assert x.shape == ()
    assert float(x) == 2.0
    _, label = Pairs(target_transform=_times_ten)[4]
    assert isinstance(label, np.ndarray)
    assert label.shape == ()
    np.testing.assert_array_equal(t, [2.0, 3.0])


def _to_single(x: Arr) -> Any:
    return np.float32(x[0])


def test_transform_must_return_float64() -> None:
    with pytest.raises(
        TypeError, match=r"Pairs: transform <function _to_single .*> must return a float64 .*float32"
    ):
        Pairs(transform=_to_single)[0]
    ds = Pairs(transform=ToInt())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Pairs: transform ToInt\(int64\) must return a float64 .* int64"):
        ds[0]


def _to_float(t: Any) -> Any:
    return t.astype(np.float64)


def _to_list(t: Any) -> Any:
    return [int(t)]


def _to_bools(t: Any) -> Any:
    return t > 0


def test_target_transform_must_keep_the_label_kind() -> None:
    with pytest.raises(
        TypeError,
        match=r"Pairs declares labels of dtype integer, got .*float64 .*returned by target_transform",
    ):
        Pairs(target_transform=_to_float)[0]
    with pytest.raises(
        TypeError, match=r"Pairs declares labels of dtype integer, got list .*returned by target_transform"
    ):
        Pairs(target_transform=_to_list)[0]
    with pytest.raises(
        TypeError, match=r"labels must be integer or float64 numpy.ndarrays, got .*bool .*returned by"
    ):
        Anything[IntArr](target_transform=_to_bools)[0]


# -- Spiral --------------------------------------------------------------------------------------


def _spiral_reference(seed: int) -> tuple[Arr, IntArr]:
    """The documented construction, written out point by point."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((3, 100))
    x = np.zeros((300, 2))
    t = np.zeros(300, dtype=np.int64)
    for j in range(3):
        for i in range(100):
            r = i / 100
            theta = j * 4.0 + 4.0 * r + noise[j, i] * 0.2
            x[100 * j + i] = [r * np.sin(theta), r * np.cos(theta)]
            t[100 * j + i] = j
    order = rng.permutation(300)
    return x[order], t[order]


@pytest.mark.parametrize(("train", "seed"), [(True, 1984), (False, 2020)])
def test_spiral_matches_its_documented_construction(train: bool, seed: int) -> None:
    x, t = get_spiral(train=train)
    assert x.dtype == np.float64
    assert x.shape == (300, 2)
    assert t.dtype == np.int64
    assert t.shape == (300,)
    x_ref, t_ref = _spiral_reference(seed)
    np.testing.assert_allclose(x, x_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(t, t_ref)


def test_spiral_geometry() -> None:
    x, t = get_spiral()
    assert np.bincount(t).tolist() == [100, 100, 100]
    radius = np.hypot(x[:, 0], x[:, 1])
    for j in range(3):
        np.testing.assert_allclose(np.sort(radius[t == j]), np.arange(100) / 100, atol=1e-12)
    assert not np.array_equal(t[:100], np.repeat([0], 100))  # shuffled


def test_spiral_splits_differ_and_repeat() -> None:
    x_train, _ = get_spiral(True)
    x_test, _ = get_spiral(False)
    assert not np.allclose(x_train, x_test)
    np.testing.assert_array_equal(get_spiral(True)[0], x_train)


def test_spiral_dataset() -> None:
    ds = Spiral(train=False)
    x, t = get_spiral(train=False)
    assert len(ds) == 300
    np.testing.assert_array_equal(ds.data, x)
    np.testing.assert_array_equal(ds.label, t)
    x0, t0 = ds[0]
    np.testing.assert_array_equal(x0, x[0])
    assert int(t0) == t[0]


# -- SinCurve ------------------------------------------------------------------------------------


def test_sin_curve_train_is_a_noisy_sine_shifted_by_one_step() -> None:
    ds = SinCurve()
    grid = np.linspace(0.0, 2.0 * np.pi, 1000)
    assert ds.data.shape == (999, 1)
    assert ds.label.shape == (999, 1)
    assert ds.label.dtype == np.float64
    noise = ds.data[:, 0] - np.sin(grid[:-1])
    assert np.all(np.abs(noise) <= 0.05)
    assert np.std(noise) > 0.01
    np.testing.assert_array_equal(ds.label[:-1], ds.data[1:])
    expected_noise = np.random.default_rng(0).uniform(-0.05, 0.05, size=1000)
    np.testing.assert_allclose(ds.label[:, 0], np.sin(grid[1:]) + expected_noise[1:], atol=1e-15)


def test_sin_curve_test_is_an_exact_cosine() -> None:
    ds = SinCurve(train=False)
    grid = np.linspace(0.0, 2.0 * np.pi, 1000)
    np.testing.assert_allclose(ds.data[:, 0], np.cos(grid[:-1]), atol=1e-15)
    np.testing.assert_allclose(ds.label[:, 0], np.cos(grid[1:]), atol=1e-15)
    x, t = ds[10]
    assert x.shape == (1,)
    assert t.shape == (1,)


def test_sin_curve_is_deterministic_and_its_arrays_do_not_alias() -> None:
    a, b = SinCurve(), SinCurve()
    np.testing.assert_array_equal(a.data, b.data)
    a.data[1, 0] = 100.0
    assert a.label[0, 0] != 100.0


# -- Digits --------------------------------------------------------------------------------------


def test_digits_split_is_the_documented_permutation() -> None:
    from sklearn.datasets import load_digits

    images, digits = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(1797)
    train, test = Digits(), Digits(train=False)
    assert (len(train), len(test)) == (1437, 360)
    np.testing.assert_allclose(train.data, images[order[:1437]] / 16.0)
    np.testing.assert_array_equal(train.label, digits[order[:1437]])
    np.testing.assert_allclose(test.data, images[order[1437:]] / 16.0)
    np.testing.assert_array_equal(test.label, digits[order[1437:]])
    assert train.data.dtype == np.float64
    assert train.label.dtype == np.int64
    assert train.data.shape == (1437, 64)
    assert float(train.data.min()) == 0.0
    assert float(train.data.max()) == 1.0
    assert sorted(np.unique(train.label).tolist()) == list(range(10))


def test_digits_without_scikit_learn_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'typed-dezero\[digits\]'") as info:
        Digits()
    assert info.value.name == "sklearn"


def test_importing_the_data_modules_imports_no_optional_dependency() -> None:
    code = textwrap.dedent(
        """
        import socket, sys
        def refuse(*args, **kwargs):
            raise RuntimeError("network access at import")
        socket.socket = refuse
        import typed_dezero.datasets, typed_dezero.dataloaders, typed_dezero.transforms
        print(sorted(m for m in ("sklearn", "matplotlib", "PIL") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


# -- NumPy's global random state -----------------------------------------------------------------


def _global_state() -> Iterator[Any]:
    yield from np.random.get_state(legacy=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda: get_spiral(),
        lambda: Spiral(train=False),
        lambda: SinCurve(),
        lambda: SinCurve(train=False),
        lambda: Digits(),
    ],
    ids=["get_spiral", "Spiral", "SinCurve-train", "SinCurve-test", "Digits"],
)
def test_datasets_leave_numpy_global_random_state_alone(make: Callable[[], object]) -> None:
    np.random.seed(12345)
    before = list(_global_state())
    make()
    after = list(_global_state())
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]
