"""The wrong calls of tests/typecheck/fail/fail_data.py also fail at run time, with TypeError.

Two lines there are static only: annotating a variable with the wrong label type
(``t: Arr = spiral[0][1]``) has no run-time counterpart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from typing_extensions import override

from typed_dezero import Arr, IntArr
from typed_dezero.dataloaders import DataLoader, SeqDataLoader
from typed_dezero.datasets import MNIST, Dataset, Spiral, get_spiral
from typed_dezero.transforms import AsType, Compose, Flatten, Normalize, ToInt

spiral = Spiral()
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


DATA_CALLS: list[tuple[str, Callable[[], object]]] = [
    ("NoPrepare()", lambda: NoPrepare()),  # type: ignore[abstract]
    ("StrLabels()", lambda: StrLabels()),
    ("FloatLabelsForInt()", lambda: FloatLabelsForInt()),
    ("IntData()", lambda: IntData()),
    ("Spiral(train='yes')", lambda: Spiral(train="yes")),  # type: ignore[arg-type]
    # A transform's result is checked on access, when it is known.
    ("Spiral(transform=ToInt())", lambda: Spiral(transform=ToInt())[0]),  # type: ignore[arg-type]
    ("Spiral(target_transform=_halve)", lambda: Spiral(target_transform=_halve)[0]),  # type: ignore[arg-type]
    ("get_spiral(train=None)", lambda: get_spiral(train=None)),  # type: ignore[arg-type]
    ("spiral['0']", lambda: spiral["0"]),  # type: ignore[index]
    ("spiral[0:2]", lambda: spiral[0:2]),  # type: ignore[index]
    ("spiral[1.0]", lambda: spiral[1.0]),  # type: ignore[index]
    ("MNIST(root=3)", lambda: MNIST(root=3)),  # type: ignore[arg-type]
    ("MNIST(download='yes')", lambda: MNIST(download="yes")),  # type: ignore[arg-type]
    ("MNIST(checksums=list)", lambda: MNIST(checksums=["abc"])),  # type: ignore[arg-type]
    ("MNIST(positional root)", lambda: MNIST(True, None, None, "data")),  # type: ignore[call-arg]
    ("DataLoader(batch_size=2.0)", lambda: DataLoader(spiral, batch_size=2.0)),  # type: ignore[arg-type]
    ("DataLoader(rng='0')", lambda: DataLoader(spiral, 2, rng="0")),  # type: ignore[arg-type]
    ("DataLoader(shuffle='no')", lambda: DataLoader(spiral, 2, shuffle="no")),  # type: ignore[arg-type]
    ("DataLoader(list)", lambda: DataLoader([(floats, ints)], 2)),  # type: ignore[arg-type]
    ("SeqDataLoader(batch_size='2')", lambda: SeqDataLoader(spiral, "2")),  # type: ignore[arg-type]
    ("SeqDataLoader(shuffle=True)", lambda: SeqDataLoader(spiral, 2, shuffle=True)),  # type: ignore[call-arg]
    ("Compose([1])", lambda: Compose([1])),  # type: ignore[list-item]
    ("Compose(function)", lambda: Compose(_halve)),  # type: ignore[arg-type]
    ("Normalize(mean='0')", lambda: Normalize(mean="0")),  # type: ignore[arg-type]
    ("Normalize()(ints)", lambda: Normalize()(ints)),  # type: ignore[arg-type]
    ("Flatten()(list)", lambda: Flatten()([1, 2])),  # type: ignore[arg-type]
    ("AsType('float32')", lambda: AsType("float32")),  # type: ignore[call-overload]
    ("ToInt(np.float64)", lambda: ToInt(np.float64)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), DATA_CALLS, ids=[c[0] for c in DATA_CALLS])
def test_wrong_data_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()
