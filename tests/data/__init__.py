"""Tests of datasets, data loaders and transforms, plus helpers that write tiny MNIST IDX files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]

MNIST_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: U8) -> bytes:
    """The IDX encoding of an unsigned-byte array: magic 0x0000 08 <ndim>, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def tiny_mnist(n: int = 5, seed: int = 0) -> tuple[U8, U8]:
    """`n` random 28x28 images and digit labels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def write_mnist(root: Path, images: U8, labels: U8, *, train: bool = True, gz: bool = False) -> None:
    """Write the split's two IDX files into `root`, raw or gzipped (file name + '.gz')."""
    root.mkdir(parents=True, exist_ok=True)
    for name, array in zip(MNIST_NAMES[train], (images, labels), strict=True):
        data = idx_bytes(array)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
