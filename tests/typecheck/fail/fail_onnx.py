"""Wrong uses of typed_dezero.onnx that both checkers must reject (never executed; see ../README.md).

tests/export/test_onnx_errors.py makes the same calls at run time and expects DezeroTypeError or
DezeroValueError where the run time can see the mistake (a converter of the wrong arity is only
found when it is called; a positional opset is Python's own TypeError).
"""

from __future__ import annotations

import numpy as np

from typed_dezero import Arr, UnaryFunction, Variable
from typed_dezero import onnx as tdo
from typed_dezero.models import MLP


class Neg2(UnaryFunction):
    def forward(self, x: Arr, /) -> Arr:
        return -x

    def backward(self, gy: Variable, /) -> Variable:
        return -gy


def convert(fn: Neg2, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
    graph.add_node("Neg", node.inputs, node.outputs)


def wrong_arity(fn: Neg2, node: tdo.Node) -> None: ...


model = MLP((2,))
x = np.ones((2, 3))
singles = np.ones((2, 3), dtype=np.float32)

tdo.export(model, x, "m.onnx", dtype="float16")  # type: ignore[arg-type]
tdo.export(model, x, "m.onnx", opset="18")  # type: ignore[arg-type]
tdo.export(model, singles, "m.onnx")  # type: ignore[arg-type]
tdo.export(model, [1.0, 2.0], "m.onnx")  # type: ignore[arg-type]
tdo.export(lambda v: v, x, "m.onnx")  # type: ignore[arg-type]
tdo.export(model, x, 3)  # type: ignore[arg-type]
tdo.export(model, x, "m.onnx", 18)  # type: ignore[call-arg]
tdo.register(int)  # type: ignore[type-var]
tdo.register(Neg2, 3)  # type: ignore[call-overload]
tdo.register(Neg2, wrong_arity)  # type: ignore[arg-type]
tdo.register(Neg2)(wrong_arity)  # type: ignore[arg-type]
ok: tdo.Converter[Neg2] = tdo.register(Neg2, convert)
