"""DataLoader and SeqDataLoader: batch sizes, epochs, shuffling, dtypes and errors."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from typing_extensions import override

from typed_dezero import Arr, DezeroError, IntArr
from typed_dezero.dataloaders import DataLoader, SeqDataLoader
from typed_dezero.datasets import Dataset, SinCurve, Spiral


class Numbered(Dataset[IntArr]):
    """Sample i is [i, -i] (float64), its label 100 + i (int32): batches show which samples they hold."""

    size = 10

    @override
    def prepare(self) -> None:
        i = np.arange(self.size, dtype=np.float64)
        self.data = np.stack([i, -i], axis=1)
        self.label = (100 + np.arange(self.size)).astype(np.int32)


class Twenty(Numbered):
    size = 20


class Empty(Numbered):
    size = 0


class Curve(Dataset[Arr]):
    @override
    def prepare(self) -> None:
        self.data = np.arange(7.0).reshape(7, 1)
        self.label = np.arange(7.0).reshape(7, 1) + 0.5


class Unlabeled(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.data = np.arange(5.0)
        self.label = None


def _ids(x: Arr) -> list[int]:
    return [int(v) for v in x[:, 0]]


def _epoch_ids(loader: DataLoader[Any]) -> list[list[int]]:
    return [_ids(x) for x, _ in loader]


def _flat_ids(loader: DataLoader[Any]) -> list[int]:
    return [i for ids in _epoch_ids(loader) for i in ids]


# -- DataLoader ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "batch_size", "drop_last", "sizes"),
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (10, 5, False, [5, 5]),
        (10, 5, True, [5, 5]),
        (10, 1, False, [1] * 10),
        (10, 10, False, [10]),
        (10, 25, False, [10]),
        (10, 25, True, []),
        (0, 4, False, []),
    ],
)
def test_number_and_sizes_of_batches(n: int, batch_size: int, drop_last: bool, sizes: list[int]) -> None:
    dataset = {10: Numbered, 0: Empty}[n]()
    loader = DataLoader(dataset, batch_size, shuffle=False, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(x) for x, _ in loader] == sizes


def test_unshuffled_batches_follow_the_index_order_with_their_dtypes() -> None:
    batches = list(DataLoader(Numbered(), 4, shuffle=False))
    x, t = batches[0]
    np.testing.assert_array_equal(x, [[0.0, 0.0], [1.0, -1.0], [2.0, -2.0], [3.0, -3.0]])
    assert x.dtype == np.float64
    assert t.dtype == np.int32
    np.testing.assert_array_equal(t, [100, 101, 102, 103])
    assert [_ids(x) for x, _ in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_float_and_missing_labels() -> None:
    x, t = next(iter(DataLoader(Curve(), 3, shuffle=False)))
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t, [[0.5], [1.5], [2.5]])
    assert x.shape == (3, 1)
    for x, t0 in DataLoader(Unlabeled(), 2, shuffle=False):
        assert t0 is None
        assert x.shape in ((2,), (1,))


def test_batches_hold_transformed_samples() -> None:
    loader = DataLoader(
        Numbered(transform=lambda x: x * 0.5, target_transform=lambda t: t - 100), 5, shuffle=False
    )
    x, t = next(iter(loader))
    np.testing.assert_array_equal(x[:, 0], np.arange(5) * 0.5)
    np.testing.assert_array_equal(t, np.arange(5))


def test_each_shuffled_epoch_is_a_new_permutation() -> None:
    loader = DataLoader(Twenty(), 6, rng=3)
    epochs = [_flat_ids(loader) for _ in range(3)]
    for ids in epochs:
        assert sorted(ids) == list(range(20))
    assert epochs[0] != epochs[1]
    assert epochs[1] != epochs[2]
    assert epochs[0] != list(range(20))


def test_labels_travel_with_their_samples_when_shuffled() -> None:
    for x, t in DataLoader(Twenty(), 7, rng=0):
        np.testing.assert_array_equal(t, x[:, 0].astype(np.int32) + 100)


def test_a_seed_makes_the_epochs_reproducible() -> None:
    a, b = DataLoader(Twenty(), 6, rng=11), DataLoader(Twenty(), 6, rng=11)
    assert [_epoch_ids(a) for _ in range(3)] == [_epoch_ids(b) for _ in range(3)]
    c = DataLoader(Twenty(), 6, rng=np.random.default_rng(11))
    fresh = DataLoader(Twenty(), 6, rng=11)
    assert [_epoch_ids(c) for _ in range(2)] == [_epoch_ids(fresh) for _ in range(2)]
    assert _epoch_ids(DataLoader(Twenty(), 6, rng=12)) != _epoch_ids(DataLoader(Twenty(), 6, rng=11))


def test_a_generator_is_used_and_advanced_in_place() -> None:
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    loader = DataLoader(Twenty(), 6, rng=rng)
    assert rng.bit_generator.state == before
    iter(loader)
    assert rng.bit_generator.state != before


def test_without_a_seed_epochs_are_still_permutations() -> None:
    ids = _flat_ids(DataLoader(Twenty(), 6))
    assert sorted(ids) == list(range(20))


def test_every_iter_is_a_fresh_independent_epoch() -> None:
    loader = DataLoader(Numbered(), 3, shuffle=False)
    first = iter(loader)
    second = iter(loader)
    assert first is not second
    assert iter(first) is first
    next(first)
    next(first)
    assert _ids(next(second)[0]) == [0, 1, 2]
    assert _ids(next(first)[0]) == [6, 7, 8]
    assert _epoch_ids(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    nested = [(_ids(a)[0], _ids(b)[0]) for a, _ in loader for b, _ in loader]
    assert len(nested) == 16


def test_the_order_is_drawn_when_the_iterator_is_made() -> None:
    loader = DataLoader(Twenty(), 20, rng=4)
    a, b = iter(loader), iter(loader)
    ids_b = _ids(next(b)[0])
    ids_a = _ids(next(a)[0])
    expected_rng = np.random.default_rng(4)
    first, second = expected_rng.permutation(20).tolist(), expected_rng.permutation(20).tolist()
    assert (ids_a, ids_b) == (first, second)


def test_loaders_leave_numpy_global_random_state_alone() -> None:
    np.random.seed(99)
    before = np.random.get_state(legacy=False)
    for loader in (DataLoader(Twenty(), 6), DataLoader(Twenty(), 6, rng=1), SeqDataLoader(Twenty(), 4)):
        for _ in loader:
            pass
    after = np.random.get_state(legacy=False)
    np.testing.assert_array_equal(after["state"]["key"], before["state"]["key"])
    assert after["state"]["pos"] == before["state"]["pos"]
    assert (after["has_gauss"], after["gauss"]) == (before["has_gauss"], before["gauss"])


def test_attributes_and_repr() -> None:
    dataset = Numbered()
    loader = DataLoader(dataset, 4, shuffle=False, drop_last=True)
    assert loader.dataset is dataset
    assert (loader.batch_size, loader.shuffle, loader.drop_last) == (4, False, True)
    assert (
        repr(loader)
        == "DataLoader(Numbered(train=True, 10 samples), batch_size=4, shuffle=False, drop_last=True)"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 0}, ValueError, "DataLoader: batch_size must be at least 1, got 0"),
        ({"batch_size": -3}, ValueError, "DataLoader: batch_size must be at least 1, got -3"),
        ({"batch_size": True}, TypeError, r"DataLoader: batch_size must be an int, got bool \(True\)"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        (
            {"batch_size": 2, "rng": -1},
            ValueError,
            "DataLoader: an int seed for rng must be non-negative, got -1",
        ),
        (
            {"batch_size": 2, "rng": True},
            TypeError,
            r"DataLoader: rng must be a numpy.random.Generator, .* got bool",
        ),
        ({"batch_size": 2, "rng": "0"}, TypeError, "rng"),
        ({"batch_size": 2, "rng": np.random.RandomState(0)}, TypeError, "rng"),
        ({"batch_size": 2, "shuffle": 1}, TypeError, "shuffle"),
        ({"batch_size": 2, "drop_last": None}, TypeError, "drop_last"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        DataLoader(Numbered(), **kwargs)
    assert isinstance(info.value, DezeroError)


@pytest.mark.parametrize("dataset", [[(np.ones(2), np.array(0))], np.ones((3, 2)), None])
def test_the_dataset_must_be_a_dataset(dataset: Any) -> None:
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(dataset, 2)
    # The hand-written check behind beartype's, which holds when runtime type checking is off.
    unchecked_init = inspect.unwrap(vars(DataLoader)["__init__"])
    with pytest.raises(TypeError, match="DataLoader: dataset must be a typed_dezero Dataset, got"):
        unchecked_init(object.__new__(DataLoader), dataset, 2)


def _ragged(x: Arr) -> Arr:
    return np.ones(1 + int(x[0]) % 2)


def _ragged_labels(t: IntArr) -> IntArr:
    return np.ones(1 + int(t) % 2, dtype=np.int64)


def test_samples_of_a_batch_must_share_a_shape() -> None:
    loader = DataLoader(Numbered(transform=_ragged), 4, shuffle=False)
    with pytest.raises(
        ValueError,
        match=r"DataLoader: the samples of one batch must share a shape; sample 0 has shape \(1,\), "
        r"sample 1 has shape \(2,\)",
    ) as info:
        next(iter(loader))
    assert isinstance(info.value, DezeroError)
    labels = DataLoader(Numbered(target_transform=_ragged_labels), 4, shuffle=False)
    with pytest.raises(
        ValueError, match=r"the labels of one batch must share a shape; sample 0 has shape \(1,\), sample 1"
    ):
        next(iter(labels))


# -- SeqDataLoader -------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(10, 3), (10, 1), (10, 10), (7, 2), (20, 6)])
def test_seq_batches_interleave_streams_as_dezero(n: int, batch_size: int) -> None:
    factories: dict[int, Callable[[], Dataset[Any]]] = {10: Numbered, 20: Twenty, 7: Curve}
    dataset = factories[n]()
    loader = SeqDataLoader(dataset, batch_size)
    jump = n // batch_size
    expected = [[(i * jump + k) % n for i in range(batch_size)] for k in range(-(-n // batch_size))]
    assert len(loader) == len(expected)
    batches = list(loader)
    assert [_ids(x) for x, _ in batches] == expected
    assert all(t.shape[0] == batch_size for _, t in batches)


def test_seq_labels_are_the_next_step_of_a_sin_curve() -> None:
    loader = SeqDataLoader(SinCurve(train=False), 30)
    assert len(loader) == 34
    x0, t0 = next(iter(loader))
    x1, _ = list(loader)[1]
    assert x0.shape == (30, 1)
    np.testing.assert_array_equal(t0, x1)  # row i of batch k + 1 follows row i of batch k


def test_seq_epochs_repeat_and_are_fresh() -> None:
    loader = SeqDataLoader(Numbered(), 3)
    first = iter(loader)
    next(first)
    assert _epoch_ids(loader) == _epoch_ids(loader)
    assert _ids(next(iter(loader))[0]) == [0, 3, 6]
    assert not loader.shuffle
    assert repr(loader) == "SeqDataLoader(Numbered(train=True, 10 samples), batch_size=3)"


def test_seq_batch_size_may_not_exceed_the_dataset() -> None:
    with pytest.raises(
        ValueError, match=r"SeqDataLoader: batch_size \(11\) must not exceed the dataset's length \(10\)"
    ):
        SeqDataLoader(Numbered(), 11)
    with pytest.raises(ValueError, match="SeqDataLoader: batch_size must be at least 1"):
        SeqDataLoader(Numbered(), 0)
    with pytest.raises(ValueError, match="must not exceed"):
        SeqDataLoader(Empty(), 1)


def test_loaders_over_library_datasets() -> None:
    x, t = next(iter(DataLoader(Spiral(), 30, rng=0)))
    assert x.shape == (30, 2)
    assert t.dtype == np.int64


LOADER_FACTORIES: list[Callable[[], object]] = [
    lambda: DataLoader(Numbered(), "3"),  # type: ignore[arg-type]
    lambda: SeqDataLoader(Numbered(), 2.0),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("make", LOADER_FACTORIES)
def test_batch_size_must_be_an_int(make: Callable[[], object]) -> None:
    with pytest.raises(TypeError, match="batch_size"):
        make()


class NumberedByItem(Numbered):
    """The same samples served by an overridden __getitem__: the loader must ask per sample."""

    @override
    def __getitem__(self, index: int | np.integer[Any]) -> tuple[Arr, IntArr]:
        x, t = super().__getitem__(index)
        return x * 1.0, t


@pytest.mark.parametrize("shuffle", [False, True])
def test_whole_batch_gathering_equals_per_sample_access(shuffle: bool) -> None:
    fast = DataLoader(Numbered(), 4, shuffle=shuffle, rng=3)
    slow = DataLoader(NumberedByItem(), 4, shuffle=shuffle, rng=3)
    for (x0, t0), (x1, t1) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(t0, t1)
        assert t0.dtype == t1.dtype == np.int32
        assert x0.dtype == np.float64


def test_unlabeled_batches_with_a_transform() -> None:
    dataset = Unlabeled(transform=lambda x: x * 2.0)
    batches = list(DataLoader(dataset, 2, shuffle=False))
    assert [t for _, t in batches] == [None, None, None]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), np.arange(5.0) * 2.0)
