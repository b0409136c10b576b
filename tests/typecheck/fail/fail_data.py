"""Wrong uses of datasets, data loaders and transforms that both checkers must reject (never
executed; see ../README.md). tests/data/test_runtime_types_data.py makes the same calls at run time
and expects TypeError."""

from __future__ import annotations

import numpy as np
from typing_extensions import override

from typed_dezero import Arr, IntArr
from typed_dezero.dataloaders import DataLoader, SeqDataLoader
from typed_dezero.datasets import MNIST, Dataset, SinCurve, Spiral, get_spiral
from typed_dezero.transforms import AsType, Compose, Flatten, Normalize, ToInt

spiral = Spiral()
# mypy misses a dtype mismatch when the array expression flows straight into a typed context, so
# the wrong arrays are named first (pyright catches both spellings).
floats = np.zeros(3, dtype=np.float64)
ints = np.zeros(3, dtype=np.int64)


class StrLabels(Dataset[str]):  # type: ignore[type-var]
    @override
    def prepare(self) -> None:
        self.data = np.zeros((3, 1))
        self.label = "abc"


class FloatLabelsForInt(Dataset[IntArr]):
    @override
    def prepare(self) -> None:
        self.data = np.zeros((3, 1))
        self.label = floats  # type: ignore[assignment]


class IntData(Dataset[None]):
    @override
    def prepare(self) -> None:
        self.data = ints  # type: ignore[assignment]
        self.label = None


class NoPrepare(Dataset[None]):
    pass


def _halve(x: Arr) -> Arr:
    return x / 2.0


NoPrepare()  # type: ignore[abstract]
Spiral(train="yes")  # type: ignore[arg-type]
Spiral(transform=ToInt())  # type: ignore[arg-type]
Spiral(target_transform=_halve)  # type: ignore[arg-type]
get_spiral(train=None)  # type: ignore[arg-type]
spiral["0"]  # type: ignore[index]
spiral[0:2]  # type: ignore[index]
spiral[1.0]  # type: ignore[index]
t_spiral: Arr = spiral[0][1]  # type: ignore[assignment]
t_curve: IntArr = SinCurve()[0][1]  # type: ignore[assignment]
MNIST(root=3)  # type: ignore[arg-type]
MNIST(download="yes")  # type: ignore[arg-type]
MNIST(checksums=["abc"])  # type: ignore[arg-type]
MNIST(True, None, None, "data")  # type: ignore[call-arg]

DataLoader(spiral, batch_size=2.0)  # type: ignore[arg-type]
DataLoader(spiral, 2, rng="0")  # type: ignore[arg-type]
DataLoader(spiral, 2, shuffle="no")  # type: ignore[arg-type]
DataLoader([(floats, ints)], 2)  # type: ignore[arg-type]
SeqDataLoader(spiral, "2")  # type: ignore[arg-type]
SeqDataLoader(spiral, 2, shuffle=True)  # type: ignore[call-arg]
loaded_t: Arr = next(iter(DataLoader(spiral, 2)))[1]  # type: ignore[assignment]

Compose([1])  # type: ignore[list-item]
Compose(_halve)  # type: ignore[arg-type]
Normalize(mean="0")  # type: ignore[arg-type]
Normalize()(ints)  # type: ignore[arg-type]
Flatten()([1, 2])  # type: ignore[arg-type]
AsType("float32")  # type: ignore[call-overload]
ToInt(np.float64)  # type: ignore[arg-type]
