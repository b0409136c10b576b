"""Wrong uses of dropout, batch_norm, embed_id, clip and graph drawing that both checkers must
reject (never executed; see ../README.md).

tests/functions/test_runtime_types_regularization.py makes the same calls at run time and expects
TypeError.
"""

from __future__ import annotations

import numpy as np

from typed_dezero import Variable
from typed_dezero.functions.regularization import batch_norm, clip, dropout, embed_id
from typed_dezero.utils.dot import get_dot_graph, plot_dot_graph

x = Variable(np.ones((4, 3), dtype=np.float64))
c = np.ones(3, dtype=np.float64)
# mypy misses a dtype mismatch when the array expression flows straight into the call, so the wrong
# arrays are named first (pyright catches both spellings).
singles = np.ones(3, dtype=np.float32)
float_ids = np.zeros(3, dtype=np.float64)
bool_ids = np.zeros(3, dtype=np.bool_)
ids = np.zeros(3, dtype=np.int64)

dropout(x, "0.5")  # type: ignore[arg-type]
dropout(x, 0.5, 0)  # type: ignore[arg-type]
dropout(singles)  # type: ignore[arg-type]
batch_norm(x, c, c, singles, c)  # type: ignore[arg-type]
batch_norm(x, c, c, c, Variable(c))  # type: ignore[arg-type]
batch_norm(x, c, c, c, c, decay=0.9)  # type: ignore[call-arg]
batch_norm(x, c, c, c, c, eps="1e-5")  # type: ignore[arg-type]
embed_id(float_ids, x)  # type: ignore[arg-type]
embed_id(bool_ids, x)  # type: ignore[arg-type]
embed_id([0, 1], x)  # type: ignore[arg-type]
embed_id(x, ids)  # type: ignore[arg-type]
clip(x, "0", 1.0)  # type: ignore[arg-type]
clip(x, None, 1.0)  # type: ignore[arg-type]
get_dot_graph(c)  # type: ignore[arg-type]
get_dot_graph(x, verbose="yes")  # type: ignore[arg-type]
plot_dot_graph(x, to_file=3)  # type: ignore[arg-type]
