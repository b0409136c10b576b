"""Wrong uses of the optimizers and weights-file helpers that both checkers must reject (never
executed; see README.md).

tests/test_runtime_types_optimizers.py makes the same calls at run time and expects TypeError.
"""

from __future__ import annotations

import numpy as np

from typed_dezero import Parameter
from typed_dezero._io import load_npz, save_npz
from typed_dezero.optimizers import SGD, Adam, ClipGrad, FreezeParam, MomentumSGD, WeightDecay

p = Parameter(np.ones(2, dtype=np.float64))
arr = np.ones(2, dtype=np.float64)
opt = SGD()

SGD(lr="0.1")  # type: ignore[arg-type]
MomentumSGD(momentum=None)  # type: ignore[arg-type]
Adam(alpha=[0.1])  # type: ignore[arg-type]
WeightDecay("0.1")  # type: ignore[arg-type]
ClipGrad(None)  # type: ignore[arg-type]
opt.lr = "0.1"  # type: ignore[assignment]
opt.setup([p])  # type: ignore[arg-type]
opt.setup(p)  # type: ignore[arg-type]
opt.add_hook(3)  # type: ignore[arg-type]
opt.update_one(arr)  # type: ignore[arg-type]
opt.load_state_dict({"t": 1})  # type: ignore[dict-item]
opt.save(3)  # type: ignore[arg-type]
FreezeParam(3)  # type: ignore[arg-type]
FreezeParam("W")  # type: ignore[arg-type]
WeightDecay(0.1)(p)  # type: ignore[arg-type]
save_npz("w.npz", [arr])  # type: ignore[arg-type]
save_npz(b"w.npz", {"a": arr})  # type: ignore[arg-type]
load_npz(3)  # type: ignore[arg-type]
