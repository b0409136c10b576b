"""Mini-batch iteration over a Dataset: DataLoader (shuffled epochs) and SeqDataLoader (truncated BPTT).

Unlike DeZero's loaders, each ``iter(loader)`` is a fresh iterator over one epoch, so nested or
repeated loops never share state, and shuffling draws from the loader's own seedable Generator,
never from NumPy's global random state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Generic, cast

import numpy as np
import numpy.typing as npt
from typing_extensions import override

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, describe, is_int
from typed_dezero.datasets import Dataset, LabelT
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError

__all__ = ["DataLoader", "SeqDataLoader"]


def _check_batch_size(where: str, batch_size: object) -> int:
    if not is_int(batch_size):
        msg = f"{where}: batch_size must be an int, got {describe(batch_size)}"
        raise DezeroTypeError(msg)
    if batch_size < 1:
        msg = f"{where}: batch_size must be at least 1, got {batch_size}"
        raise DezeroValueError(msg)
    return batch_size


def _is_dataset(x: object) -> bool:
    return isinstance(x, Dataset)


def _make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if not is_int(rng):
        msg = f"DataLoader: rng must be a numpy.random.Generator, an int seed or None, got {describe(rng)}"
        raise DezeroTypeError(msg)
    if rng < 0:
        msg = f"DataLoader: an int seed for rng must be non-negative, got {rng}"
        raise DezeroValueError(msg)
    return np.random.default_rng(rng)


_PLAIN_GETITEM: object = vars(Dataset)["__getitem__"]


def _stack(
    where: str, what: str, arrays: Sequence[npt.NDArray[Any]], indices: Sequence[int]
) -> npt.NDArray[Any]:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        k = next(k for k, a in enumerate(arrays) if a.shape != first)
        msg = (
            f"{where}: the {what} of one batch must share a shape; sample {indices[0]} has shape {first}, "
            f"sample {indices[k]} has shape {arrays[k].shape}"
        )
        raise ShapeError(msg)
    return np.stack(arrays)


class DataLoader(Generic[LabelT]):
    """Iterate over `dataset` in mini-batches ``(x, t)``, one epoch per ``iter()``.

    Arguments:
        dataset: a :class:`~typed_dezero.datasets.Dataset`; samples of one batch must share a shape.
        batch_size: samples per batch, at least 1. The last batch may be smaller.
        shuffle: visit the samples in a new random order each epoch (else in index order).
        drop_last: skip a last batch smaller than `batch_size`.
        rng: the source of the shuffles: a ``numpy.random.Generator`` (used, and advanced, as
            is), an int seed, or None for fresh OS entropy. NumPy's global state is never used.

    Each batch is ``(x, t)``: ``x`` stacks the transformed samples (float64, shape
    ``(B, *sample_shape)``), ``t`` stacks the labels with their dtype (shape ``(B, *label_shape)``)
    or is None for an unlabeled dataset. ``len(loader)`` is the number of batches per epoch.

    Examples:
        >>> from typed_dezero import DataLoader
        >>> from typed_dezero.datasets import Spiral
        >>> loader = DataLoader(Spiral(), batch_size=128, shuffle=True, rng=0)
        >>> len(loader)
        3
        >>> [(x.shape, t.shape) for x, t in loader]  # a new shuffled epoch per iteration
        [((128, 2), (128,)), ((128, 2), (128,)), ((44, 2), (44,))]
        >>> len(DataLoader(Spiral(), batch_size=128, drop_last=True))
        2
    """

    @typechecked
    def __init__(
        self,
        dataset: Dataset[LabelT],
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        if not _is_dataset(dataset):
            msg = f"{type(self).__name__}: dataset must be a typed_dezero Dataset, got {describe(dataset)}"
            raise DezeroTypeError(msg)
        self.batch_size = _check_batch_size(type(self).__name__, batch_size)
        self.dataset = dataset
        self.shuffle = shuffle
        self.drop_last = drop_last
        self._rng = _make_rng(rng)

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size

    def _order(self) -> npt.NDArray[np.intp]:
        n = len(self.dataset)
        return self._rng.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self) -> Iterator[tuple[Arr, LabelT]]:
        """A new iterator over one epoch (drawing its order now, when shuffling)."""
        order = self._order()
        starts = range(0, len(self) * self.batch_size, self.batch_size)
        return (self._batch(order[s : s + self.batch_size].tolist()) for s in starts)

    def _batch(self, indices: list[int]) -> tuple[Arr, LabelT]:
        dataset = self.dataset
        if (
            dataset.transform is None
            and dataset.target_transform is None
            and type(dataset).__getitem__ is _PLAIN_GETITEM
        ):
            # Nothing to apply per sample: gather the whole batch with one indexing operation.
            rows = np.asarray(indices, dtype=np.intp)
            label = dataset.label
            # Indexing keeps the label array's dtype (the dataset's label type).
            return dataset.data[rows], label if label is None else cast(LabelT, label[rows])
        where = type(self).__name__
        items = [self.dataset[i] for i in indices]
        x = np.asarray(_stack(where, "samples", [x for x, _ in items], indices), dtype=np.float64)
        labels = [t for _, t in items]
        first = labels[0]
        if first is None:
            return x, first
        arrays = [t for t in labels if t is not None]
        # Every label came out of Dataset.__getitem__ with the dataset's label type, and stacking
        # keeps the dtype; the stubs cannot say so for a type variable.
        return x, cast(LabelT, _stack(where, "labels", arrays, indices))

    @override
    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


class SeqDataLoader(DataLoader[LabelT]):
    """Batches for truncated backpropagation through time over a sequence dataset, in order.

    The dataset is cut into `batch_size` parallel streams ``jump = len(dataset) // batch_size``
    samples apart: element ``i`` of batch ``k`` is sample ``(i * jump + k) % len(dataset)``, so
    row ``i`` of consecutive batches walks consecutive samples (DeZero's SeqDataLoader). An epoch
    has ``ceil(len(dataset) / batch_size)`` batches; `batch_size` may not exceed ``len(dataset)``.

    Examples:
        >>> import numpy as np
        >>> from typed_dezero import SeqDataLoader
        >>> from typed_dezero.datasets import SinCurve
        >>> curve = SinCurve()
        >>> loader = SeqDataLoader(curve, batch_size=3)  # streams starting at samples 0, 333, 666
        >>> first, second = [x for x, _ in list(loader)[:2]]
        >>> bool(np.array_equal(second[:, 0], curve.data[[1, 334, 667], 0]))
        True
    """

    @typechecked
    def __init__(self, dataset: Dataset[LabelT], batch_size: int) -> None:
        super().__init__(dataset, batch_size, shuffle=False)
        if self.batch_size > len(dataset):
            msg = (
                f"SeqDataLoader: batch_size ({self.batch_size}) must not exceed the dataset's length "
                f"({len(dataset)}), or the streams would coincide"
            )
            raise DezeroValueError(msg)

    @override
    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    @override
    def __iter__(self) -> Iterator[tuple[Arr, LabelT]]:
        n = len(self.dataset)
        jump = n // self.batch_size
        rows = np.arange(self.batch_size) * jump
        return (self._batch(((rows + k) % n).tolist()) for k in range(len(self)))

    @override
    def __repr__(self) -> str:
        return f"SeqDataLoader({self.dataset!r}, batch_size={self.batch_size})"
