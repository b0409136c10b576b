"""Pinned static types of the datasets, data loaders and transforms (checked by mypy and pyright,
executed by pytest)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, assert_type

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from tests.data import tiny_mnist, write_mnist
from typed_dezero import Arr, IntArr
from typed_dezero.dataloaders import DataLoader, SeqDataLoader
from typed_dezero.datasets import MNIST, MNIST_SHA256, Dataset, Digits, SinCurve, Spiral, get_spiral
from typed_dezero.transforms import AsType, Compose, Flatten, Normalize, ToFloat, ToInt, Transform


class Points(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.data = np.zeros((4, 2))
        self.label = None


class Codes(Dataset[npt.NDArray[np.int64]]):
    @override
    def prepare(self) -> None:
        self.data = np.zeros((4, 2))
        self.label = np.arange(4, dtype=np.int64)


def test_dataset_types(tmp_path: Path) -> None:
    assert_type(get_spiral(), tuple[Arr, IntArr])
    spiral = Spiral()
    assert_type(spiral[0], tuple[Arr, IntArr])
    assert_type(spiral[np.int64(1)], tuple[Arr, IntArr])
    assert_type(spiral.data, Arr)
    assert_type(spiral.label, IntArr)
    assert_type(len(spiral), int)
    assert_type(iter(spiral), Iterator[tuple[Arr, IntArr]])
    assert_type(SinCurve()[0], tuple[Arr, Arr])
    assert_type(Digits(train=False)[0], tuple[Arr, IntArr])
    assert_type(Points()[0], tuple[Arr, None])
    assert_type(Codes()[0], tuple[Arr, npt.NDArray[np.int64]])
    images, labels = tiny_mnist(n=2)
    write_mnist(tmp_path, images, labels)
    assert_type(MNIST(root=tmp_path)[0], tuple[Arr, IntArr])
    assert_type(MNIST_SHA256, Mapping[str, str])


def test_loader_types() -> None:
    loader = DataLoader(Spiral(), 100, rng=0)
    assert_type(loader, DataLoader[IntArr])
    assert_type(len(loader), int)
    for x, t in loader:
        assert_type(x, Arr)
        assert_type(t, IntArr)
    assert_type(iter(DataLoader(SinCurve(), 10)), Iterator[tuple[Arr, Arr]])
    assert_type(next(iter(DataLoader(Points(), 2)))[1], None)
    assert_type(next(iter(DataLoader(Codes(), 2)))[1], npt.NDArray[np.int64])
    seq = SeqDataLoader(SinCurve(), 30)
    assert_type(seq, SeqDataLoader[Arr])
    assert_type(next(iter(seq)), tuple[Arr, Arr])


def test_transform_types() -> None:
    a = np.ones((1, 2, 2), dtype=np.float64)
    ints = np.ones(3, dtype=np.int64)
    assert_type(Compose([Flatten(), ToFloat(), Normalize(0.0, 255.0)])(a), Arr)
    assert_type(Normalize([0.5], [0.25])(a), Arr)
    assert_type(Flatten()(a), Arr)
    assert_type(Flatten()(ints), npt.NDArray[np.int64])
    assert_type(AsType(), AsType[np.float64])
    assert_type(AsType(np.float32)(a), npt.NDArray[np.float32])
    assert_type(AsType(np.int8).dtype, type[np.int8])
    assert_type(ToFloat()(ints), Arr)
    assert_type(ToInt()(a), npt.NDArray[np.integer[Any]])
    steps: list[Transform] = [Flatten(), ToFloat(), Normalize(), Compose(), AsType()]
    assert_type(Compose(steps).transforms, tuple[Transform, ...])
