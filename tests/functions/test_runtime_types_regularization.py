"""The wrong calls of tests/typecheck/fail/fail_regularization.py also fail at run time, with TypeError."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from typed_dezero import Variable
from typed_dezero.functions.regularization import batch_norm, clip, dropout, embed_id
from typed_dezero.utils.dot import get_dot_graph, plot_dot_graph

x = Variable(np.ones((4, 3)))
c = np.ones(3)
singles = np.ones(3, dtype=np.float32)
float_ids = np.zeros(3)
bool_ids = np.zeros(3, dtype=np.bool_)
ids = np.zeros(3, dtype=np.int64)

CALLS: list[tuple[str, Callable[[], object]]] = [
    ("dropout(ratio='0.5')", lambda: dropout(x, "0.5")),  # type: ignore[arg-type]
    ("dropout(rng=0)", lambda: dropout(x, 0.5, 0)),  # type: ignore[arg-type]
    ("dropout(singles)", lambda: dropout(singles)),  # type: ignore[arg-type]
    ("batch_norm(mean=singles)", lambda: batch_norm(x, c, c, singles, c)),  # type: ignore[arg-type]
    ("batch_norm(var=Variable)", lambda: batch_norm(x, c, c, c, Variable(c))),  # type: ignore[arg-type]
    ("batch_norm(decay=)", lambda: batch_norm(x, c, c, c, c, decay=0.9)),  # type: ignore[call-arg]
    ("batch_norm(eps='1e-5')", lambda: batch_norm(x, c, c, c, c, eps="1e-5")),  # type: ignore[arg-type]
    ("embed_id(float ids)", lambda: embed_id(float_ids, x)),  # type: ignore[arg-type]
    ("embed_id(bool ids)", lambda: embed_id(bool_ids, x)),  # type: ignore[arg-type]
    ("embed_id(list)", lambda: embed_id([0, 1], x)),  # type: ignore[arg-type]
    ("embed_id(swapped)", lambda: embed_id(x, ids)),  # type: ignore[arg-type]
    ("clip(x_min='0')", lambda: clip(x, "0", 1.0)),  # type: ignore[arg-type]
    ("clip(x_min=None)", lambda: clip(x, None, 1.0)),  # type: ignore[arg-type]
    ("get_dot_graph(ndarray)", lambda: get_dot_graph(c)),  # type: ignore[arg-type]
    ("get_dot_graph(verbose='yes')", lambda: get_dot_graph(x, verbose="yes")),  # type: ignore[arg-type]
    ("plot_dot_graph(to_file=3)", lambda: plot_dot_graph(x, to_file=3)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("label", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_wrong_regularization_calls_raise_type_error(label: str, call: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        call()
