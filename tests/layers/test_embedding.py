"""EmbedID: lookup, gradient scatter-add, initialisation and errors."""

from __future__ import annotations

import numpy as np
import pytest

import typed_dezero.layers as L
from typed_dezero import DezeroTypeError, DezeroValueError

from .helpers import check_param_grads


def test_lookup_returns_rows_of_w() -> None:
    emb = L.EmbedID(5, 3, rng=np.random.default_rng(0))
    ids = np.array([[4, 0], [2, 2]], dtype=np.int64)
    y = emb(ids)
    assert y.shape == (2, 2, 3)
    np.testing.assert_array_equal(y.data, emb.W.data[ids])
    assert emb.W.shape == (5, 3)
    assert emb.W.dtype == np.float64
    assert [k for k, _ in emb.named_params()] == ["W"]
    np.testing.assert_array_equal(emb.W.data, np.random.default_rng(0).standard_normal((5, 3)))


def test_gradient_accumulates_repeated_ids() -> None:
    emb = L.EmbedID(4, 2, rng=np.random.default_rng(1))
    ids = np.array([1, 3, 1, 1], dtype=np.int32)
    weights = np.arange(8.0).reshape(4, 2)
    (emb(ids) * weights).sum().backward()
    expected = np.zeros((4, 2))
    np.add.at(expected, ids, weights)
    assert emb.W.grad is not None
    np.testing.assert_array_equal(emb.W.grad.data, expected)
    check_param_grads(emb, lambda: (emb(ids) * weights).sum())


def test_errors() -> None:
    with pytest.raises(DezeroValueError, match="EmbedID: in_size must be a positive int, got 0"):
        L.EmbedID(0, 2)
    with pytest.raises(DezeroValueError, match="EmbedID: out_size must be a positive int, got -1"):
        L.EmbedID(2, -1)
    emb = L.EmbedID(3, 2)
    with pytest.raises(DezeroValueError, match=r"ids must be in \[0, 3\).*got 3"):
        emb(np.array([0, 3]))
    floats = np.zeros(2, dtype=np.float64)
    with pytest.raises(DezeroTypeError):
        emb(floats)  # type: ignore[arg-type]
