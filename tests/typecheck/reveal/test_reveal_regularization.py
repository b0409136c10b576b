"""Pinned static types of dropout, batch_norm, embed_id, clip and graph drawing (checked by mypy and
pyright, executed by pytest)."""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

import numpy as np
import pytest

from typed_dezero import Variable, test_mode
from typed_dezero.functions.regularization import batch_norm, clip, dropout, embed_id
from typed_dezero.utils.dot import GraphvizNotFoundError, get_dot_graph, plot_dot_graph


def test_regularization_types() -> None:
    a = np.ones((4, 3), dtype=np.float64)
    x = Variable(a)
    c = np.ones(3, dtype=np.float64)
    assert_type(dropout(x), Variable)
    assert_type(dropout(a, 0.2, np.random.default_rng(0)), Variable)
    with test_mode():
        assert_type(dropout(x, 0.5), Variable)
        assert_type(batch_norm(x, c, c, np.zeros(3), np.ones(3)), Variable)
    assert_type(batch_norm(a, Variable(c), Variable(c), np.zeros(3), np.ones(3), 0.9, 1e-5), Variable)
    assert_type(embed_id(np.array([0, 1, 3], dtype=np.int64), x), Variable)
    assert_type(embed_id(np.array([[2]], dtype=np.uint8), a), Variable)
    assert_type(clip(x, -1.0, 1), Variable)
    assert_type(clip(a, 0, 1), Variable)


def test_dot_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x = Variable(np.ones(2, dtype=np.float64))
    y = clip(x, 0.0, 1.0)
    assert_type(get_dot_graph(y), str)
    assert_type(get_dot_graph(y, verbose=False), str)
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz here: the call raises, its type stands
    with pytest.raises(GraphvizNotFoundError):
        assert_type(plot_dot_graph(y, True, tmp_path / "g.png"), None)
    with pytest.raises(GraphvizNotFoundError):
        assert_type(plot_dot_graph(y, to_file=str(tmp_path / "g.svg")), None)
