"""Typed use of typed_dezero.onnx: export, a converter registered for a user Function (decorator and
two-argument forms), the registry's and the builder's types. Checked by strict mypy and pyright, and run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type, final

import numpy as np
import onnx
from typing_extensions import override

from typed_dezero import Arr, Model, UnaryFunction, Variable
from typed_dezero import onnx as tdo
from typed_dezero.models import MLP


@final
class Shift(UnaryFunction):
    def __init__(self, by: float) -> None:
        self.by = by

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x + self.by

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy


@final
class Halve(UnaryFunction):
    @override
    def forward(self, x: Arr, /) -> Arr:
        return x / 2.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy / 2.0


@tdo.register(Shift)
def convert_shift(fn: Shift, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
    assert_type(fn.by, float)  # the converter sees the Function's own type
    graph.add_node("Add", [node.inputs[0], graph.constant(fn.by, "shift")], node.outputs)


def convert_halve(fn: Halve, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
    assert_type(node.inputs, tuple[str, ...])
    assert_type(node.batch_axes, tuple[int | None, ...])
    assert_type(graph.batch_axis(node.inputs[0]), int | None)
    two = graph.constant(np.array(2.0))
    assert_type(two, str)
    graph.add_node("Div", [node.inputs[0], two], node.outputs)


def test_types_of_the_public_api(tmp_path: Path) -> None:
    assert_type(convert_shift, tdo.Converter[Shift])
    assert_type(tdo.register(Halve, convert_halve), tdo.Converter[Halve])
    assert_type(tdo.converter_for(Halve), tdo.Converter[Any] | None)
    model = MLP((3, 2), rng=np.random.default_rng(0))
    x = np.ones((2, 4))
    written = tdo.export(model, x, tmp_path / "mlp.onnx", opset=tdo.DEFAULT_OPSET, dtype="float32")
    assert_type(written, onnx.ModelProto)
    assert_type(tdo.to_model(model, x), onnx.ModelProto)
    dtype: tdo.ExportDType = "float64"
    assert_type(tdo.GraphBuilder(dtype, 18).np_dtype, type[np.float64] | type[np.float32])
    assert written.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


class Shifted(Model[[Variable | Arr], Variable]):
    def __init__(self) -> None:
        super().__init__()
        self.mlp = MLP((2,), rng=np.random.default_rng(0))

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return Halve()(Shift(1.0)(self.mlp(x)))


def test_user_functions_export() -> None:
    proto = tdo.to_model(Shifted(), np.ones((3, 2)))
    assert [n.op_type for n in proto.graph.node][-2:] == ["Add", "Div"]
