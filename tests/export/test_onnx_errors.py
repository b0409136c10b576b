"""typed_dezero.onnx's refusals and argument errors, the converter registry, and what export leaves
behind: the model's state, the global switches and the file at `path`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from tests.export.test_onnx_models import FLOAT32_TOL, check, run_onnx
from tests.export.test_onnx_ops import K, Op
from typed_dezero import Arr, DezeroTypeError, DezeroValueError, Model, Variable, no_grad, test_mode
from typed_dezero import onnx as tdo
from typed_dezero.config import flags, using_config
from typed_dezero.core.function import TwoOutputFunction, UnaryFunction
from typed_dezero.models import MLP

HERE = Path(__file__).resolve()


def line_of(marker: str) -> int:
    """The number of the only line of this file that ends with `marker`."""
    lines = [i for i, text in enumerate(HERE.read_text().splitlines(), start=1) if text.endswith(marker)]
    assert len(lines) == 1, (marker, lines)
    return lines[0]


def anything(x: object) -> Any:
    """`x`, typed Any: the wrong calls below must reach the run-time checks."""
    return x


def returns(forward: Callable[[Variable], object]) -> Callable[[Variable], object]:
    # A function rather than the bare lambdas: pyright infers their parameter types from it.
    return forward


def unary(fn: Callable[[Variable], Variable]) -> Callable[[Variable], Variable]:
    return fn


class Triple(UnaryFunction):
    """A user Function that has no converter unless a test registers one."""

    @override
    def forward(self, x: Arr, /) -> Arr:
        return x * 3.0

    @override
    def backward(self, gy: Variable, /) -> Variable:
        return gy * 3.0


class Halves(TwoOutputFunction):
    """Two outputs: x / 2 and x * 2."""

    @override
    def forward(self, x: Arr, /) -> tuple[Arr, Arr]:
        return x / 2.0, x * 2.0

    @override
    def backward(self, gy0: Variable, gy1: Variable, /) -> Variable:
        return gy0 / 2.0 + gy1 * 2.0


class TripleModel(Model[[Variable | Arr], Variable]):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.fc = L.Linear(4, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        h = self.fc(x)
        return F.relu(Triple()(h))  # <- Triple created here


def test_unsupported_function_names_its_type_and_the_user_line(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    with pytest.raises(tdo.UnsupportedFunctionError) as info:
        tdo.export(TripleModel(rng), rng.standard_normal((2, 3)), tmp_path / "m.onnx")
    message = str(info.value)
    assert isinstance(info.value, TypeError)
    assert "tests.export.test_onnx_errors.Triple (input shapes (2, 4))" in message
    assert f"created at {HERE}:{line_of('# <- Triple created here')}: return F.relu(Triple()(h))" in message
    assert "register one with typed_dezero.onnx.register" in message
    assert list(tmp_path.iterdir()) == []


def test_unsupported_library_function_points_at_the_user_call(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    # conv2d_simple is built on im2col, which ONNX cannot express with a dynamic batch: refused,
    # at the line that called conv2d_simple, not inside typed_dezero.
    model = Op(lambda x: F.conv2d_simple(x, K))  # <- conv2d_simple called here
    with pytest.raises(tdo.UnsupportedFunctionError) as info:
        tdo.to_model(model, rng.standard_normal((2, 3, 5, 5)))
    message = str(info.value)
    assert message.startswith("export: typed_dezero.functions.conv.Im2col (input shapes (2, 3, 5, 5))")
    assert f"created at {HERE}:{line_of('# <- conv2d_simple called here')}:" in message


def test_unsupported_local_class_and_a_function_recorded_before_export(tmp_path: Path) -> None:
    class Local(UnaryFunction):
        @override
        def forward(self, x: Arr, /) -> Arr:
            return x + 1.0

        @override
        def backward(self, gy: Variable, /) -> Variable:
            return gy

    class Offset(Model[[Variable | Arr], Variable]):
        def __init__(self) -> None:
            super().__init__()
            # Computed once, outside export (no creation line recorded), with its graph.
            self.offset = Local()(Variable(np.ones(3)))

        @override
        def forward(self, x: Variable | Arr) -> Variable:
            return x + self.offset

    with pytest.raises(tdo.UnsupportedFunctionError) as info:
        tdo.to_model(Offset(), np.zeros((2, 3)))
    message = str(info.value)
    assert (
        "test_onnx_errors.test_unsupported_local_class_and_a_function_recorded_before_export.<locals>.Local"
        in (message)
    )
    assert "created at an unknown place (before export traced the model)" in message


# -- the registry ----------------------------------------------------------------------------------


def test_register_as_decorator_then_export_runs_in_onnx_runtime(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    class Scale(UnaryFunction):
        def __init__(self, factor: float) -> None:
            self.factor = factor

        @override
        def forward(self, x: Arr, /) -> Arr:
            return x * self.factor

        @override
        def backward(self, gy: Variable, /) -> Variable:
            return gy * self.factor

    seen: list[tdo.Node] = []

    @tdo.register(Scale)
    def convert(fn: Scale, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
        seen.append(node)
        assert graph.dtype in ("float64", "float32")
        assert graph.opset == tdo.DEFAULT_OPSET
        graph.add_node("Mul", [node.inputs[0], graph.constant(fn.factor)], node.outputs)

    assert tdo.converter_for(Scale) is convert
    model = Op(lambda x: F.tanh(Scale(-1.5)(F.linear(x, np.ones((3, 2))))))
    for dtype in ("float64", "float32"):
        check(model, rng.standard_normal((2, 3)), rng.standard_normal((5, 3)), tmp_path, dtype)
    node = seen[0]
    assert (node.input_shapes, node.output_shapes, node.batch_axes) == (((2, 2),), ((2, 2),), (0,))


def test_register_two_arguments_and_a_later_registration_replaces(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    class Cube(UnaryFunction):
        @override
        def forward(self, x: Arr, /) -> Arr:
            return x**3

        @override
        def backward(self, gy: Variable, /) -> Variable:
            return gy * 3.0 * self.inputs[0] ** 2

    def wrong(fn: Cube, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
        graph.add_node("Identity", node.inputs, node.outputs)

    def right(fn: Cube, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
        squared = graph.temp("Mul", [node.inputs[0], node.inputs[0]])
        graph.add_node("Mul", [squared, node.inputs[0]], node.outputs)

    assert tdo.register(Cube, wrong) is wrong
    assert tdo.register(Cube, right) is right
    assert tdo.converter_for(Cube) is right
    check(
        Op(lambda x: Cube()(x)), rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), tmp_path, "float64"
    )


def test_a_two_output_function_with_an_output_nobody_uses(rng: np.random.Generator, tmp_path: Path) -> None:
    def convert(fn: Halves, node: tdo.Node, graph: tdo.GraphBuilder) -> None:
        half, double = node.outputs
        assert double.startswith("halves_unused")
        assert node.output_shapes == ((2, 3), (2, 3))
        graph.add_node("Div", [node.inputs[0], graph.constant(2.0, "two")], [half])
        graph.add_node("Mul", [node.inputs[0], graph.constant(2.0, "two")], [double])

    tdo.register(Halves, convert)
    model = Op(lambda x: Halves()(x)[0] + 1.0)
    check(model, rng.standard_normal((2, 3)), rng.standard_normal((3, 3)), tmp_path, "float64")
    names = {t.name for t in tdo.to_model(model, rng.standard_normal((2, 3))).graph.initializer}
    assert {"two", "two_1"} <= names  # fresh names never collide


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: tdo.register(anything(int)),
            "register: function_type must be a Function subclass, got type",
        ),
        (
            lambda: tdo.register(anything("Triple")),
            "register: function_type must be a Function subclass, got str",
        ),
        (
            lambda: tdo.register(anything(Triple()), print),
            "function_type must be a Function subclass, got Triple",
        ),
        (lambda: tdo.register(Triple, anything(3)), "register: the converter must be callable, got int"),
        (
            lambda: tdo.register(Triple)(anything(None)),
            "register: the converter must be callable, got NoneType",
        ),
    ],
)
def test_register_argument_errors(call: Callable[[], object], match: str) -> None:
    with pytest.raises(DezeroTypeError, match=match):
        call()
    assert tdo.converter_for(Triple) is None


# -- export's arguments ----------------------------------------------------------------------------


def _mlp() -> MLP:
    return MLP((4, 2), rng=np.random.default_rng(1))


X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
LATEST = onnx.defs.onnx_opset_version()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"model": returns(lambda x: x)},
            DezeroTypeError,
            "export: model must be a Layer or Model, got function",
        ),
        ({"model": MLP}, DezeroTypeError, "export: model must be a Layer or Model, got type"),
        (
            {"example_input": X.astype(np.float32)},
            DezeroTypeError,
            "example_input must be a float64 numpy.ndarray, got",
        ),
        (
            {"example_input": X.astype(np.int64)},
            DezeroTypeError,
            "example_input must be a float64 numpy.ndarray",
        ),
        (
            {"example_input": X.tolist()},
            DezeroTypeError,
            "example_input must be a float64 numpy.ndarray, got list",
        ),
        (
            {"example_input": Variable(X)},
            DezeroTypeError,
            "example_input must be a float64 numpy.ndarray, got Var",
        ),
        (
            {"example_input": np.array(1.0)},
            DezeroValueError,
            r"needs a batch dimension \(ndim >= 1\), got shape \(\)",
        ),
        ({"dtype": "float16"}, DezeroValueError, "export: dtype must be 'float64' or 'float32', got str"),
        ({"dtype": np.float64}, DezeroValueError, "export: dtype must be 'float64' or 'float32', got type"),
        ({"opset": "18"}, DezeroTypeError, "export: opset must be an int, got str"),
        ({"opset": 18.0}, DezeroTypeError, "export: opset must be an int, got float"),
        ({"opset": True}, DezeroTypeError, "export: opset must be an int, got bool"),
        ({"opset": 17}, DezeroValueError, rf"opset must be in \[18, {LATEST}\] \(onnx 1\.\d+\.\d+\), got 17"),
        ({"opset": LATEST + 1}, DezeroValueError, rf"opset must be in \[18, {LATEST}\]"),
        ({"input_name": ""}, DezeroTypeError, "export: input_name must be a non-empty str, got str"),
        ({"output_name": 1}, DezeroTypeError, "export: output_name must be a non-empty str, got int"),
        (
            {"output_name": "input"},
            DezeroValueError,
            "input_name and output_name must differ, both are 'input'",
        ),
        ({"path": 3}, DezeroTypeError, r"export: path must be a str or an os.PathLike\[str\], got int"),
        (
            {"path": b"m.onnx"},
            DezeroTypeError,
            r"export: path must be a str or an os.PathLike\[str\], got bytes",
        ),
        ({"path": "m\0.onnx"}, DezeroValueError, "export: path must not contain a NUL character"),
    ],
)
def test_export_argument_errors(
    kwargs: dict[str, object], error: type[Exception], match: str, tmp_path: Path
) -> None:
    arguments: dict[str, Any] = {"model": _mlp(), "example_input": X, "path": tmp_path / "m.onnx", **kwargs}
    before = flags()
    with pytest.raises(error, match=match):
        tdo.export(**arguments)
    assert list(tmp_path.iterdir()) == []
    assert flags() == before


def test_the_opset_range_ends_are_accepted() -> None:
    for opset in (18, LATEST):
        model = tdo.to_model(_mlp(), X, opset=opset)
        assert [(o.domain, o.version) for o in model.opset_import] == [("", opset)]


@pytest.mark.parametrize(
    ("forward", "error", "match"),
    [
        (
            returns(lambda x: x),
            DezeroValueError,
            "output was not computed by any Function .it returned its input",
        ),
        (
            returns(lambda x: Variable(np.ones(3))),
            DezeroValueError,
            "output was not computed by any Function",
        ),
        (
            returns(lambda x: (x * 2.0, x)),
            DezeroTypeError,
            "the model must return one Variable, returned tuple",
        ),
        (
            returns(lambda x: (x * 2.0).data),
            DezeroTypeError,
            "must return one Variable, returned numpy.ndarray",
        ),
        (returns(lambda x: None), DezeroTypeError, "the model must return one Variable, returned NoneType"),
    ],
)
def test_what_the_model_returns(
    forward: Callable[[Variable], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        tdo.to_model(Op(anything(forward)), X)


# -- what a dynamic batch cannot express -----------------------------------------------------------

MERGES = r"moves or merges the batch dimension"


@pytest.mark.parametrize(
    ("fn", "shape", "match"),
    [
        (
            unary(lambda x: F.reshape(x, (-1, 4))),
            (2, 3, 4),
            rf"reshape from \(2, 3, 4\) to \(6, 4\) {MERGES} \(axis 0",
        ),
        (unary(lambda x: F.reshape(x, (3, 2))), (2, 3), rf"reshape from \(2, 3\) to \(3, 2\) {MERGES}"),
        (
            unary(lambda x: F.reshape(F.transpose(x), (6,))),
            (2, 3),
            rf"from \(3, 2\) to \(6,\) {MERGES} \(axis 1",
        ),
        (
            unary(lambda x: x + np.ones((2, 3))),
            (2, 3),
            r"Add broadcasts an operand of shape \(2, 3\) that does not depend on the input against the",
        ),
        (
            unary(lambda x: x * np.ones((5, 1, 3))),
            (1, 1, 3),
            r"Mul broadcasts an operand of shape \(5, 1, 3\)",
        ),
        (
            unary(lambda x: F.matmul(x, np.ones((2, 3, 4)))),
            (2, 1, 3),
            r"matmul broadcasts .* shape \(2, 3, 4\)",
        ),
        (
            unary(lambda x: F.matmul(np.ones((2, 4, 3)), x)),
            (2, 3, 2),
            r"matmul broadcasts .* shape \(2, 4, 3\)",
        ),
        (
            unary(lambda x: F.broadcast_to(x, (5, 3))),
            (1, 3),
            r"broadcast_to from \(1, 3\) to \(5, 3\) broadcasts the batch dimension \(axis 0 of the input\)",
        ),
        (unary(lambda x: x[x.data > 0]), (2, 3), "(?s)get_item with index array.*is not supported"),
        (unary(lambda x: x[[0, 1], [1, 2]]), (2, 3), "one integer array among whole-axis slices"),
        (unary(lambda x: x[1:, [0, 2]]), (3, 3), "one integer array among whole-axis slices"),
    ],
)
def test_refused_shapes(fn: Callable[[Variable], Variable], shape: tuple[int, ...], match: str) -> None:
    signs = np.where(np.arange(np.prod(shape)) % 2, 1.0, -1.0).reshape(shape)
    x = np.linspace(0.5, 1.5, signs.size).reshape(shape) * signs
    with pytest.raises(DezeroValueError, match=match):
        tdo.to_model(Op(fn), x)


class ForcedTraining(Model[[Variable | Arr], Variable]):
    """A model that switches training on in its forward, for its batch norm or its dropout."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.bn = L.BatchNorm()

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        with using_config("train", True):
            if self.what == "batch_norm":
                return self.bn(x)
            return F.dropout(x, 0.5, rng=np.random.default_rng(0))


@pytest.mark.parametrize("what", ["batch_norm", "dropout"])
def test_training_mode_cannot_be_exported(what: str, rng: np.random.Generator) -> None:
    model = ForcedTraining(what)
    with test_mode():
        model.bn(rng.standard_normal((4, 3)))  # creates the running statistics
    before = (model.bn.state("avg_mean").copy(), model.bn.state("avg_var").copy())
    with pytest.raises(
        DezeroValueError, match=f"export: a {what} traced in training mode cannot be exported"
    ):
        tdo.to_model(model, rng.standard_normal((4, 3)) + 5.0)
    # The training-mode forward moved the running statistics; export put them back.
    np.testing.assert_array_equal(model.bn.state("avg_mean"), before[0])
    np.testing.assert_array_equal(model.bn.state("avg_var"), before[1])


# -- the file ----------------------------------------------------------------------------------------


def test_a_failed_export_leaves_the_existing_file(rng: np.random.Generator, tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the old model")
    with pytest.raises(tdo.UnsupportedFunctionError):
        tdo.export(TripleModel(rng), rng.standard_normal((2, 3)), path)
    assert path.read_bytes() == b"the old model"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_a_write_that_fails_halfway_leaves_the_existing_file(
    rng: np.random.Generator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the old model")

    def broken_write(file: Any, content: bytes) -> None:
        file.write(content[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tdo, "_write_bytes", broken_write)
    with pytest.raises(OSError, match="No space left on device"):
        tdo.export(_mlp(), X, path)
    assert path.read_bytes() == b"the old model"
    assert os.listdir(tmp_path) == ["model.onnx"]  # no temporary file left


def test_export_replaces_the_file_and_returns_what_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the old model")
    result = tdo.export(_mlp(), X, str(path))
    assert path.read_bytes() == result.SerializeToString()
    assert os.listdir(tmp_path) == ["model.onnx"]


# -- the exported graph ----------------------------------------------------------------------------


def _dims(value: onnx.ValueInfoProto) -> list[int | str | None]:
    dims = value.type.tensor_type.shape.dim
    return [
        d.dim_param if d.HasField("dim_param") else d.dim_value if d.HasField("dim_value") else None
        for d in dims
    ]


@pytest.mark.parametrize(
    ("fn", "dims"),
    [
        (unary(lambda x: x[:, 1:] * 2.0), ["batch", 2]),
        (unary(lambda x: F.transpose(x[:, 1:])), [2, "batch"]),
        (unary(lambda x: F.sum(x, axis=0)), [3]),
        # x[1:] has N - 1 rows: not the batch, not fixed either.
        (unary(lambda x: x[1:] * 2.0), [None, 3]),
    ],
)
def test_the_output_declares_the_batch_and_the_fixed_sizes(
    fn: Callable[[Variable], Variable], dims: list[int | str | None], tmp_path: Path
) -> None:
    proto = tdo.export(Op(fn), np.ones((4, 3)), tmp_path / "m.onnx")
    assert _dims(proto.graph.output[0]) == dims
    fresh = np.arange(18.0).reshape(6, 3)
    with no_grad():
        want = fn(Variable(fresh)).data
    np.testing.assert_array_equal(run_onnx(tmp_path / "m.onnx", fresh), want)


def test_dynamic_batch_and_weights_as_named_initializers(rng: np.random.Generator, tmp_path: Path) -> None:
    model = MLP((5, 2), rng=rng)
    path = tmp_path / "m.onnx"
    proto = tdo.export(model, rng.standard_normal((3, 4)), path, input_name="x", output_name="scores")
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, _dims(inp)) == ("x", ["batch", 4])
    assert (out.name, _dims(out)) == ("scores", ["batch", 2])
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert sorted(weights) == ["l0/W", "l0/b", "l1/W", "l1/b"]
    for name, param in model.named_params():
        np.testing.assert_array_equal(weights[name], param.data)
        assert weights[name].dtype == np.float64
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == ["batch", 4]
    for n in (1, 9):
        fresh = rng.standard_normal((n, 4))
        (got,) = session.run(None, {"x": fresh})
        with no_grad():
            want = model(fresh).data
        assert got.shape == (n, 2)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_float32_export_is_float32_throughout_and_within_its_tolerance(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    model = MLP((16, 8, 3), activation=F.tanh, rng=rng)
    proto = tdo.to_model(model, rng.standard_normal((2, 6)), dtype="float32")
    float_types = {t.data_type for t in proto.graph.initializer if t.data_type != onnx.TensorProto.INT64}
    assert float_types == {onnx.TensorProto.FLOAT}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    error32 = check(model, rng.standard_normal((2, 6)), rng.standard_normal((9, 6)), tmp_path, "float32")
    error64 = check(model, rng.standard_normal((2, 6)), rng.standard_normal((9, 6)), tmp_path, "float64")
    # Really single precision (errors of float32 rounding), and float64 far closer.
    assert 1e-9 < error32 <= FLOAT32_TOL
    assert error64 <= 1e-12


# -- what export leaves as it was ------------------------------------------------------------------


class Stateful(Model[[Variable | Arr], Variable]):
    """An LSTM over the steps of an (N, T, 1) input, a batch norm, and a layer that keeps its last
    output; layers also in a list and a dict."""

    def __init__(self, rng: np.random.Generator, fail: bool = False) -> None:
        super().__init__()
        self.lstm = L.LSTM(3, rng=rng)
        self.bn = L.BatchNorm()
        self.fc = L.Linear(2, rng=rng)
        self.extra = [L.Linear(2, in_size=2, rng=rng)]
        self.named = {"out": L.Linear(2, in_size=2, rng=rng)}
        self.fail = fail

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        x = x if isinstance(x, Variable) else Variable(x)
        h = x
        for t in range(x.shape[1]):
            h = self.lstm(x[:, t, :])
        y = self.named["out"](self.extra[0](self.fc(self.bn(h))))
        self.last = y  # an attribute this call creates
        return Triple()(y) if self.fail else y


def _snapshot(model: Stateful) -> dict[str, object]:
    return {
        "params": {name: (p, p.data, p.data.copy()) for name, p in model.named_params()},
        "stats": (model.bn.state("avg_mean").copy(), model.bn.state("avg_var").copy()),
        "state": (model.lstm.h, model.lstm.c),
        "has_last": hasattr(model, "last"),
    }


def _same(before: dict[str, object], model: Stateful) -> None:
    after = _snapshot(model)
    params_before: Any = before["params"]
    params_after: Any = after["params"]
    assert params_before.keys() == params_after.keys()
    for name, (p, data, values) in params_before.items():
        assert params_after[name][:2] == (p, data)
        np.testing.assert_array_equal(p.data, values)
        assert p.grad is None
    stats_before: Any = before["stats"]
    stats_after: Any = after["stats"]
    for a, b in zip(stats_before, stats_after, strict=True):
        np.testing.assert_array_equal(a, b)
    state_before: Any = before["state"]
    state_after: Any = after["state"]
    assert all(a is b for a, b in zip(state_after, state_before, strict=True))
    assert after["has_last"] == before["has_last"]


@pytest.mark.parametrize("fail", [False, True])
@pytest.mark.parametrize("mid_sequence", [False, True])
def test_export_leaves_the_model_as_it_was(
    rng: np.random.Generator, tmp_path: Path, fail: bool, mid_sequence: bool
) -> None:
    model = Stateful(rng, fail)
    with no_grad():
        model.fail = False
        model(rng.standard_normal((4, 5, 1)))  # training mode: the running statistics move
        model.fail = fail
    if not mid_sequence:
        model.lstm.reset_state()
        del model.last
    before = _snapshot(model)
    switches = flags()
    path = tmp_path / "m.onnx"
    if fail:
        with pytest.raises(tdo.UnsupportedFunctionError):
            tdo.export(model, rng.standard_normal((3, 5, 1)), path)
        assert not path.exists()
    else:
        tdo.export(model, rng.standard_normal((3, 5, 1)), path)
    _same(before, model)
    assert flags() == switches
    if not fail:
        # The LSTM was unrolled from a fresh state, whatever state the model was in.
        fresh = rng.standard_normal((6, 5, 1))
        model.lstm.reset_state()
        with test_mode(), no_grad():
            want = model(fresh).data
        np.testing.assert_allclose(run_onnx(path, fresh), want, rtol=0, atol=1e-12)


def test_export_traces_with_the_graph_and_in_test_mode_whatever_the_switches(tmp_path: Path) -> None:
    seen: list[object] = []

    def forward(x: Variable) -> Variable:
        seen.append(flags())
        return F.dropout(x, 0.5) * 2.0

    with no_grad(), using_config("train", True):
        before = flags()
        tdo.export(Op(forward), X, tmp_path / "m.onnx")
        assert flags() == before
    assert seen == [before._replace(enable_backprop=True, train=False, detect_anomaly=True)]


def test_switches_are_restored_when_the_forward_raises() -> None:
    def forward(x: Variable) -> Variable:
        raise KeyError("inside the model")

    before = flags()
    with pytest.raises(KeyError, match="inside the model"):
        tdo.to_model(Op(forward), X)
    assert flags() == before


# -- the optional dependency -----------------------------------------------------------------------


def test_typed_dezero_does_not_import_onnx() -> None:
    code = "import sys, typed_dezero, typed_dezero.layers, typed_dezero.models; print('onnx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_missing_onnx_is_an_import_error_that_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # what `import onnx` finds when it is not installed
    spec = importlib.util.spec_from_file_location("typed_dezero._onnx_without_onnx", tdo.__file__)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(
        ImportError, match=r"needs the onnx package: pip install 'typed-dezero\[onnx\]'"
    ) as info:
        spec.loader.exec_module(module)
    assert info.value.name == "onnx"
