"""ONNX export: write the graph of one traced forward pass as an ONNX model.

:func:`export` runs the model once on an example input (test mode, graph recorded, anomaly detection
on so that every node knows the line that created it), walks the recorded Functions from the output
back to the input, and maps each one to ONNX nodes through a registry keyed by Function type. The
parameters become initializers named as :meth:`~typed_dezero.layers.Layer.save_weights` names them
(``"l0/W"``), other constants (a BatchNorm's running statistics, an array operand) initializers
too; dimension 0 of the input is the symbolic ``"batch"`` dimension.

Needs the ``onnx`` extra (``pip install 'typed-dezero[onnx]'``); importing ``typed_dezero`` never
imports ``onnx``, only this module does.

Supported: arithmetic with broadcasting (operators, Python-number operands), exp/log/sin/cos/tanh/
sqrt/abs/square, sigmoid/relu/leaky_relu, softmax/log_softmax, clip, linear/matmul, reshape/
flatten/expand_dims/squeeze (keeping the batch axis), transpose, get_item (ints, slices, None,
Ellipsis, one integer array), broadcast_to/sum_to, sum/mean/max/min, conv2d/deconv2d, pooling/
average_pooling, batch_norm and dropout in test mode, embed_id of constant ids, lstm_step, RNN/LSTM unrolled
over the steps of the traced call; the ``_simple`` variants that are compositions of these.
Refused: any Function without a converter (:class:`UnsupportedFunctionError`: losses, im2col/
col2im and so conv2d_simple/pooling_simple, the gradient Functions), a reshape or broadcast that
merges, moves or resizes the batch dimension, batch_norm or dropout traced in training mode.

Register a converter for a Function type of your own with :func:`register`::

    @register(MyScale)
    def _(fn: MyScale, node: Node, graph: GraphBuilder) -> None:
        c = graph.constant(np.array(fn.factor))
        graph.add_node("Mul", [node.inputs[0], c], node.outputs)
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import EllipsisType
from typing import Any, Final, Literal, Protocol, TypeAlias, TypeGuard, TypeVar, overload

import numpy as np
import numpy.typing as npt

# The atomic replace of the weights files, shared rather than copied; _io keeps it private to the
# package, which pyright's reportPrivateUsage cannot tell from a user's import.
from typed_dezero._io import (
    _fspath,  # pyright: ignore[reportPrivateUsage]
    _replace,  # pyright: ignore[reportPrivateUsage]
    _write_bytes,  # pyright: ignore[reportPrivateUsage]
)
from typed_dezero._typing import Arr, Shape, describe, is_f64_array
from typed_dezero.config import detect_anomaly, using_config
from typed_dezero.core.function import Function
from typed_dezero.core.variable import Parameter, Variable
from typed_dezero.errors import DezeroError, DezeroTypeError, DezeroValueError
from typed_dezero.functions import (
    activation,
    arithmetic,
    conv,
    linalg,
    math,
    recurrent,
    reduction,
    regularization,
    shape,
)
from typed_dezero.layers.layer import Layer
from typed_dezero.layers.normalization import BatchNorm

try:
    import onnx
    from onnx import ModelProto, TensorProto, helper, numpy_helper
except ImportError as _error:
    _msg = "typed_dezero.onnx needs the onnx package: pip install 'typed-dezero[onnx]'"
    raise ImportError(_msg, name="onnx") from _error

# onnx's hint for check_model's path parameter is a bare os.PathLike (partly unknown to pyright).
_check_model: Callable[..., None] = getattr(onnx.checker, "check_model")  # noqa: B009

__all__ = [
    "DEFAULT_OPSET",
    "Converter",
    "ExportDType",
    "GraphBuilder",
    "Node",
    "UnsupportedFunctionError",
    "converter_for",
    "export",
    "register",
    "to_model",
]

ExportDType: TypeAlias = Literal["float64", "float32"]
"""The element type of the exported tensors: float64 (exact) or float32 (for runtimes and kernels
without double support)."""

DEFAULT_OPSET: Final = 18
"""The ONNX opset written by default (the lowest accepted: reductions take their axes as inputs)."""
_MIN_OPSET: Final = 18
_BATCH: Final = "batch"

F_contra = TypeVar("F_contra", bound=Function[Any, Any], contravariant=True)
F = TypeVar("F", bound=Function[Any, Any])


class UnsupportedFunctionError(DezeroError, TypeError):
    """A Function in the traced graph has no ONNX converter (register one with :func:`register`)."""


@dataclass(frozen=True)
class Node:
    """One traced Function as its converter sees it: the ONNX names of its inputs and outputs, and
    their shapes in the traced pass (dimension ``batch_axes[i]`` of input i is the dynamic batch
    dimension, None when that input does not depend on the batch)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    input_shapes: tuple[Shape, ...]
    output_shapes: tuple[Shape, ...]
    batch_axes: tuple[int | None, ...]


class Converter(Protocol[F_contra]):
    """Adds the ONNX nodes that compute one Function's outputs (``node.outputs``) from its inputs.

    Before it runs, each output is taken to keep the batch dimension where an elementwise,
    broadcasting operation puts it (the first input that has one, aligned from the right); a
    converter that moves or removes it says so with :meth:`GraphBuilder.set_batch_axis`.
    """

    def __call__(self, fn: F_contra, node: Node, graph: GraphBuilder, /) -> None: ...


class GraphBuilder:
    """What converters write to: nodes, constants (initializers) and fresh names."""

    def __init__(self, dtype: ExportDType, opset: int) -> None:
        self.dtype: Final = dtype
        """The export element type."""
        self.opset: Final = opset
        """The ONNX opset of the model being written."""
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._used: set[str] = set()
        self._batch_axis: dict[str, int | None] = {}

    @property
    def np_dtype(self) -> type[np.float64] | type[np.float32]:
        """The NumPy type of the export element type."""
        return np.float64 if self.dtype == "float64" else np.float32

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet, made from `hint`."""
        name, k = hint, 1
        while name in self._used:
            name, k = f"{hint}_{k}", k + 1
        self._used.add(name)
        return name

    def add_node(
        self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attributes: object
    ) -> None:
        """Append the ONNX node `op_type` (attributes as ``onnx.helper.make_node`` takes them)."""
        name = self.fresh(f"{op_type}_{len(self.nodes)}")
        node = helper.make_node(op_type, list(inputs), list(outputs), name=name)
        node.attribute.extend([helper.make_attribute(key, value) for key, value in attributes.items()])
        self.nodes.append(node)

    def temp(self, op_type: str, inputs: Sequence[str], **attributes: object) -> str:
        """Append a node with one new output and return that output's name."""
        out = self.fresh(f"{op_type.lower()}_out")
        self.add_node(op_type, inputs, [out], **attributes)
        return out

    def constant(self, value: Arr | float, name: str | None = None) -> str:
        """An initializer holding `value` in the export element type; returns its name."""
        array = np.asarray(value, dtype=self.np_dtype)
        return self._initializer(array, name or "const")

    def int_constant(self, values: Sequence[int] | npt.NDArray[np.integer[Any]], name: str = "ints") -> str:
        """An int64 initializer (shapes, axes, indices); returns its name."""
        return self._initializer(np.asarray(values, dtype=np.int64), name)

    def _initializer(self, array: npt.NDArray[Any], hint: str) -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def batch_axis(self, name: str) -> int | None:
        """Which axis of tensor `name` is the dynamic batch dimension (None: it does not depend on it)."""
        return self._batch_axis.get(name)

    def set_batch_axis(self, name: str, axis: int | None) -> None:
        """Record which axis of tensor `name` is the batch dimension (converters that move it)."""
        self._batch_axis[name] = axis


_REGISTRY: dict[type[Function[Any, Any]], Converter[Any]] = {}


def _is_function_type(x: object) -> bool:
    return isinstance(x, type) and issubclass(x, Function)


@overload
def register(function_type: type[F], /) -> Callable[[Converter[F]], Converter[F]]: ...
@overload
def register(function_type: type[F], converter: Converter[F], /) -> Converter[F]: ...
def register(
    function_type: type[F], converter: Converter[F] | None = None, /
) -> Callable[[Converter[F]], Converter[F]] | Converter[F]:
    """Register `converter` for the Function type `function_type` (exact type, not subclasses);
    a later registration replaces an earlier one. Without `converter`, a decorator.

    Raises DezeroTypeError when `function_type` is not a Function subclass or the converter is not
    callable."""
    if not _is_function_type(function_type):
        msg = f"register: function_type must be a Function subclass, got {describe(function_type)}"
        raise DezeroTypeError(msg)

    def decorate(conv_fn: Converter[F]) -> Converter[F]:
        given: object = conv_fn  # re-checked at run time: the static type already says callable
        if not callable(given):
            msg = f"register: the converter must be callable, got {describe(given)}"
            raise DezeroTypeError(msg)
        _REGISTRY[function_type] = conv_fn
        return conv_fn

    return decorate if converter is None else decorate(converter)


def converter_for(function_type: type[Function[Any, Any]]) -> Converter[Any] | None:
    """The converter registered for `function_type`, or None."""
    return _REGISTRY.get(function_type)


# -- tracing --------------------------------------------------------------------------------------


def _functions(output: Variable) -> list[Function[Any, Any]]:
    """The Functions the output depends on, inputs before the Functions that use them."""
    seen: set[int] = set()
    found: list[Function[Any, Any]] = []
    stack = [output.creator] if output.creator is not None else []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        found.append(fn)
        stack.extend(x.creator for x in fn.inputs if x.creator is not None)
    # A Function's generation exceeds those of the Functions that made its inputs.
    found.sort(key=lambda f: f.generation)
    return found


def _value_info(name: str, dtype: int, shape: Shape, batch_axis: int | None) -> onnx.ValueInfoProto:
    dims: list[int | str] = [_BATCH if i == batch_axis else d for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, dtype, dims)


def _default_batch_axis(node: Node, out_ndim: int) -> int | None:
    # Elementwise and broadcasting ops, and those that keep the batch first (conv, pooling, ...).
    for axis, in_shape in zip(node.batch_axes, node.input_shapes, strict=True):
        if axis is not None:
            moved = axis + out_ndim - len(in_shape)
            return moved if moved >= 0 else None
    return None


def _check_dtype(dtype: object) -> ExportDType:
    if dtype == "float64":
        return "float64"
    if dtype == "float32":
        return "float32"
    msg = f"export: dtype must be 'float64' or 'float32', got {describe(dtype)}"
    raise DezeroValueError(msg)


def _check_opset(opset: object) -> int:
    if type(opset) is not int:
        msg = f"export: opset must be an int, got {describe(opset)}"
        raise DezeroTypeError(msg)
    latest = onnx.defs.onnx_opset_version()
    if not _MIN_OPSET <= opset <= latest:
        msg = f"export: opset must be in [{_MIN_OPSET}, {latest}] (onnx {onnx.__version__}), got {opset}"
        raise DezeroValueError(msg)
    return opset


def _check_names(input_name: object, output_name: object) -> None:
    for what, name in (("input_name", input_name), ("output_name", output_name)):
        if type(name) is not str or not name:
            msg = f"export: {what} must be a non-empty str, got {describe(name)}"
            raise DezeroTypeError(msg)
    if input_name == output_name:
        msg = f"export: input_name and output_name must differ, both are {input_name!r}"
        raise DezeroValueError(msg)


def _unsupported(fn: Function[Any, Any]) -> UnsupportedFunctionError:
    shapes = ", ".join(str(x.shape) for x in fn.inputs)
    # None for a Function recorded before export traced the model (a graph a layer kept from an
    # earlier call), whose line nobody noted.
    site = fn.created_at or "an unknown place (before export traced the model)"
    msg = (
        f"export: {type(fn).__module__}.{type(fn).__qualname__} (input shapes {shapes}), created at "
        f"{site}, has no ONNX converter; register one with typed_dezero.onnx.register"
    )
    return UnsupportedFunctionError(msg)


def _check_arguments(model: object, example_input: object) -> Arr:
    # Checked by hand (not by the runtime checker) for messages that name export's arguments.
    if not isinstance(model, Layer):
        msg = f"export: model must be a Layer or Model, got {describe(model)}"
        raise DezeroTypeError(msg)
    if not is_f64_array(example_input):
        msg = f"export: example_input must be a float64 numpy.ndarray, got {describe(example_input)}"
        raise DezeroTypeError(msg)
    if example_input.ndim < 1:
        msg = f"export: example_input needs a batch dimension (ndim >= 1), got shape {example_input.shape}"
        raise DezeroValueError(msg)
    return example_input


def _layers(model: Layer[..., Any]) -> Iterator[Layer[..., Any]]:
    """`model` and every Layer reachable from its attributes (directly or in a list, tuple or dict)."""
    seen: set[int] = set()
    stack: list[object] = [model]
    while stack:
        item = stack.pop()
        if _is_sequence(item):
            stack.extend(item)
        elif _is_dict(item):
            stack.extend(item.values())
        elif _is_layer(item) and id(item) not in seen:
            seen.add(id(item))
            yield item
            stack.extend(vars(item).values())


def _is_sequence(x: object) -> TypeGuard[list[object] | tuple[object, ...]]:
    return isinstance(x, list | tuple)


def _is_dict(x: object) -> TypeGuard[dict[object, object]]:
    return isinstance(x, dict)


def _is_path(x: object) -> bool:
    return isinstance(x, str | os.PathLike)


def _is_layer(x: object) -> TypeGuard[Layer[..., Any]]:
    return isinstance(x, Layer)


def _is_state(x: object) -> bool:
    """A Variable a layer holds between calls that is not a parameter (an RNN's hidden state)."""
    return isinstance(x, Variable) and not isinstance(x, Parameter)


@dataclass
class _Saved:
    """What export puts back after tracing: each layer's attributes, and copies of the batch norm
    running statistics (which a forward that switches training on updates in place)."""

    attributes: list[tuple[Layer[..., Any], dict[str, object]]]
    arrays: list[tuple[Arr, Arr]]


def _save(model: Layer[..., Any]) -> _Saved:
    saved = _Saved([(layer, dict(vars(layer))) for layer in _layers(model)], [])
    for layer, _ in saved.attributes:
        if isinstance(layer, BatchNorm) and layer.is_initialized("avg_mean"):
            stats = (layer.state("avg_mean"), layer.state("avg_var"))
            saved.arrays.extend((a, a.copy()) for a in stats)
    return saved


def _reset(saved: _Saved) -> None:
    """Start the layers that have a ``reset_state()`` (RNN, LSTM) from a fresh state."""
    for layer, _ in saved.attributes:
        reset: object = getattr(layer, "reset_state", None)
        if callable(reset):
            reset()


def _restore(saved: _Saved) -> None:
    """Put back the state Variables (and the None a fresh RNN holds) and the running statistics."""
    missing = object()
    for layer, before in saved.attributes:
        now = vars(layer)
        for key in {*before, *now}:
            old, new = before.get(key, missing), now.get(key, missing)
            if old is not new and (_is_state(old) or _is_state(new)):
                if old is missing:
                    delattr(layer, key)
                else:
                    setattr(layer, key, old)
    for array, copy in saved.arrays:
        array[...] = copy


def _trace(model: Layer[..., Any], x: Variable) -> Variable:
    saved = _save(model)
    try:
        _reset(saved)
        with using_config("enable_backprop", True), using_config("train", False), detect_anomaly():
            y: object = model(x)
    finally:
        _restore(saved)
    if not isinstance(y, Variable):
        msg = f"export: the model must return one Variable, returned {describe(y)}"
        raise DezeroTypeError(msg)
    if y.creator is None:
        msg = (
            "export: the model's output was not computed by any Function (it returned its input or a "
            "constant); there is no graph to export"
        )
        raise DezeroValueError(msg)
    return y


def _convert(fn: Function[Any, Any], graph: GraphBuilder, names: dict[int, str], output: Variable) -> None:
    """Add `fn`'s nodes; `names` maps the ids of the Variables named so far to their ONNX names."""
    converter = _REGISTRY.get(type(fn))
    if converter is None:
        raise _unsupported(fn)
    inputs = tuple([names[id(v)] for v in fn.inputs])
    outs = [ref() for ref in fn.outputs]
    out_names: list[str] = []
    for k, out in enumerate(outs):
        if out is None:  # an output nobody holds: computed, never used
            out_names.append(graph.fresh(f"{type(fn).__name__.lower()}_unused"))
        else:
            name = names[id(out)] if out is output else graph.fresh(f"{type(fn).__name__.lower()}_{k}")
            names[id(out)] = name
            out_names.append(name)
    node = Node(
        inputs=inputs,
        outputs=tuple(out_names),
        input_shapes=tuple([v.shape for v in fn.inputs]),
        output_shapes=tuple(
            [o.shape if o is not None else s for o, s in zip(outs, _shapes(fn), strict=True)]
        ),
        batch_axes=tuple([graph.batch_axis(n) for n in inputs]),
    )
    for name, out_shape in zip(out_names, node.output_shapes, strict=True):
        graph.set_batch_axis(name, _default_batch_axis(node, len(out_shape)))
    converter(fn, node, graph)


def _shapes(fn: Function[Any, Any]) -> tuple[Shape, ...]:
    # Multi-output Functions keep their outputs' shapes; a single output is always alive here.
    return fn.output_shapes or ((),) * len(fn.outputs)


def to_model(
    model: Layer[..., Any],
    example_input: Arr,
    *,
    opset: int = DEFAULT_OPSET,
    dtype: ExportDType = "float64",
    input_name: str = "input",
    output_name: str = "output",
) -> ModelProto:
    """The ONNX model of `model` traced on `example_input` (see :func:`export`), not written."""
    example = _check_arguments(model, example_input)
    kind = _check_dtype(dtype)
    version = _check_opset(opset)
    _check_names(input_name, output_name)
    x = Variable(example)
    y = _trace(model, x)
    graph = GraphBuilder(kind, version)
    names: dict[int, str] = {id(x): graph.fresh(input_name), id(y): graph.fresh(output_name)}
    graph.set_batch_axis(input_name, 0)
    params = {id(p): name for name, p in model.named_params()}
    keep: list[Variable] = [x, y]  # ids stay unique while the Variables live
    for fn in _functions(y):
        for v in fn.inputs:
            if id(v) not in names:  # a parameter (named as in its weights file) or another constant
                keep.append(v)
                names[id(v)] = graph.constant(v.data, params.get(id(v)))
        keep.extend(out for ref in fn.outputs if (out := ref()) is not None)
        _convert(fn, graph, names, y)
    elem = TensorProto.DOUBLE if kind == "float64" else TensorProto.FLOAT
    onnx_graph = helper.make_graph(
        graph.nodes,
        type(model).__name__,
        [_value_info(input_name, elem, example.shape, 0)],
        [helper.make_tensor_value_info(output_name, elem, None)],
        graph.initializers,
    )
    result = helper.make_model(
        onnx_graph, opset_imports=[helper.make_opsetid("", version)], producer_name="typed_dezero"
    )
    dims = _output_dims(result, y.shape, graph.batch_axis(output_name))
    result.graph.output[0].CopyFrom(helper.make_tensor_value_info(output_name, elem, dims))
    _check_model(result, full_check=True)
    return result


def _output_dims(model: ModelProto, shape: Shape, batch_axis: int | None) -> list[int | str | None]:
    """The output's dimensions: "batch", the traced size where ONNX's shape inference (from the
    symbolic input) finds that size too, else unknown: a size that follows the batch size without
    being it (``x[1:]``), or one a user converter leaves to inference."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True).graph.output[0]
    found = inferred.type.tensor_type.shape.dim
    fixed = {i: d.dim_value for i, d in enumerate(found) if d.HasField("dim_value")}
    return [_BATCH if i == batch_axis else (n if fixed.get(i) == n else None) for i, n in enumerate(shape)]


def export(
    model: Layer[..., Any],
    example_input: Arr,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    dtype: ExportDType = "float64",
    input_name: str = "input",
    output_name: str = "output",
) -> ModelProto:
    """Trace one forward pass of `model` on `example_input` and write it as an ONNX model at `path`.

    Arguments:
        model: any Layer or Model returning one Variable. It is called once in test mode (dropout
            off, batch norm on its running statistics) with the graph recorded. Layers with a
            ``reset_state()`` (RNN, LSTM) are reset first, so the call is unrolled over its steps
            from a fresh state (a state kept from an earlier call would be baked in as a constant
            of that call's batch size); their state is restored afterwards, success or failure.
            BatchNorm layers' running statistics are restored too. Parameters a lazy layer creates
            at this first call stay, as after any call.
        example_input: a float64 array whose dimension 0 is the batch, ideally of size 2 or more (a
            batch of 1 hides broadcasting against the batch); exported as the input `input_name`
            with a symbolic dimension 0 ("batch"), the other dimensions fixed.
        path: the file, written atomically (as ``save_weights`` writes weights files): when export
            fails, a file already at `path` is left as it was.
        opset: the ONNX opset, from 18 to the latest the installed onnx knows.
        dtype: "float64" (the values as typed_dezero computes them) or "float32" (weights and input
            cast; for runtimes and kernels without double, such as ONNX Runtime's CPU Conv).
        input_name: the name of the graph's input (non-empty).
        output_name: the name of the graph's output (non-empty, not `input_name`).
    Returns:
        the ONNX model written (checked by ``onnx.checker.check_model(full_check=True)``).
    Raises:
        UnsupportedFunctionError: a traced Function has no converter; the message names its type and
            the line that created it (a TypeError).
        DezeroTypeError: an argument of the wrong type, or a model that does not return one Variable.
        DezeroValueError: a wrong argument value, or what a dynamic batch cannot express: a reshape
            that moves or merges the batch dimension, a constant broadcast against it, batch norm or
            dropout traced in training mode.
        AnomalyError: the example forward produced NaN or Inf (it runs under ``detect_anomaly()``).
    """
    if not _is_path(path):  # os.fspath's own TypeError would not name export
        msg = f"export: path must be a str or an os.PathLike[str], got {describe(path)}"
        raise DezeroTypeError(msg)
    name = _fspath("export", path)
    result = to_model(
        model, example_input, opset=opset, dtype=dtype, input_name=input_name, output_name=output_name
    )
    _replace(name, partial(_write_bytes, content=result.SerializeToString()))
    return result


# -- converters -----------------------------------------------------------------------------------


def _same(op_type: str) -> Converter[Function[Any, Any]]:
    def convert(fn: Function[Any, Any], node: Node, graph: GraphBuilder) -> None:
        graph.add_node(op_type, node.inputs, node.outputs)

    return convert


def _check_broadcast(name: str, node: Node, graph: GraphBuilder, constants: Sequence[Shape] = ()) -> None:
    """Refuse an operand without the batch dimension whose aligned dimension is not 1: it would
    fix the batch size (or, for a batch of 1, broadcast the batch to its size). `constants` are the
    shapes of array operands held by the Function itself (``x * c``'s c), `name` the operation's."""
    out_shape = node.output_shapes[0]
    axis = graph.batch_axis(node.outputs[0])
    if axis is None:
        return
    operands = [*zip(node.input_shapes, node.batch_axes, strict=True), *[(c, None) for c in constants]]
    for in_shape, in_axis in operands:
        aligned = axis - (len(out_shape) - len(in_shape))
        if in_axis is None and aligned >= 0 and in_shape[aligned] != 1:
            msg = (
                f"export: {name} broadcasts an operand of shape {in_shape} that does not "
                f"depend on the input against the batch dimension (axis {axis} of {out_shape}); only "
                "size 1 there keeps the batch size free"
            )
            raise DezeroValueError(msg)


def _binary(op_type: str) -> Converter[Function[Any, Any]]:
    def convert(fn: Function[Any, Any], node: Node, graph: GraphBuilder) -> None:
        _check_broadcast(type(fn).__name__, node, graph)
        graph.add_node(op_type, node.inputs, node.outputs)

    return convert


_UNARY: Final[Mapping[type[Function[Any, Any]], str]] = {
    arithmetic.Neg: "Neg",
    math.Exp: "Exp",
    math.Log: "Log",
    math.Sin: "Sin",
    math.Cos: "Cos",
    math.Tanh: "Tanh",
    math.Sqrt: "Sqrt",
    math.Abs: "Abs",
    activation.Sigmoid: "Sigmoid",
    activation.ReLU: "Relu",
}
for _type, _op in _UNARY.items():
    register(_type, _same(_op))

_BINARY: Final[Mapping[type[Function[Any, Any]], str]] = {
    arithmetic.Add: "Add",
    arithmetic.Sub: "Sub",
    arithmetic.Mul: "Mul",
    arithmetic.Div: "Div",
    arithmetic.Pow: "Pow",
}
for _type, _op in _BINARY.items():
    register(_type, _binary(_op))


_ConstOp: TypeAlias = (
    arithmetic.AddConst
    | arithmetic.SubConst
    | arithmetic.MulConst
    | arithmetic.DivConst
    | arithmetic.RSubConst
    | arithmetic.RDivConst
    | arithmetic.PowConst
)
_CONST_OPS: Final[Mapping[type[_ConstOp], tuple[str, bool]]] = {
    arithmetic.AddConst: ("Add", False),
    arithmetic.SubConst: ("Sub", False),
    arithmetic.MulConst: ("Mul", False),
    arithmetic.DivConst: ("Div", False),
    arithmetic.PowConst: ("Pow", False),
    arithmetic.RSubConst: ("Sub", True),
    arithmetic.RDivConst: ("Div", True),
}


def _const_op(fn: _ConstOp, node: Node, graph: GraphBuilder) -> None:
    op_type, reflected = _CONST_OPS[type(fn)]
    _check_broadcast(op_type, node, graph, [np.shape(fn.c)])
    c = graph.constant(fn.c)
    x = node.inputs[0]
    graph.add_node(op_type, [c, x] if reflected else [x, c], node.outputs)


for _const_type in _CONST_OPS:
    register(_const_type, _const_op)


@register(math.Square)
def _square(fn: math.Square, node: Node, graph: GraphBuilder) -> None:
    graph.add_node("Mul", [node.inputs[0], node.inputs[0]], node.outputs)


@register(activation.LeakyReLU)
def _leaky_relu(fn: activation.LeakyReLU, node: Node, graph: GraphBuilder) -> None:
    # typed_dezero's own formula, where(x > 0, x, x * slope): ONNX Runtime's CPU LeakyRelu has no
    # double kernel, Where, Greater and Mul do.
    x = node.inputs[0]
    positive = graph.temp("Greater", [x, graph.constant(0.0, "zero")])
    scaled = graph.temp("Mul", [x, graph.constant(fn.slope, "slope")])
    graph.add_node("Where", [positive, x, scaled], node.outputs)


@register(activation.Softmax)
def _softmax(fn: activation.Softmax, node: Node, graph: GraphBuilder) -> None:
    graph.add_node("Softmax", node.inputs, node.outputs, axis=fn.axis)


@register(activation.LogSoftmax)
def _log_softmax(fn: activation.LogSoftmax, node: Node, graph: GraphBuilder) -> None:
    graph.add_node("LogSoftmax", node.inputs, node.outputs, axis=fn.axis)


@register(regularization.Clip)
def _clip(fn: regularization.Clip, node: Node, graph: GraphBuilder) -> None:
    lo, hi = graph.constant(fn.x_min, "clip_min"), graph.constant(fn.x_max, "clip_max")
    graph.add_node("Clip", [node.inputs[0], lo, hi], node.outputs)


@register(regularization.Dropout)
def _dropout(fn: regularization.Dropout, node: Node, graph: GraphBuilder) -> None:
    msg = (
        "export: a dropout traced in training mode cannot be exported (export traces in test mode, "
        "where dropout is the identity; does the model switch training on in its forward?)"
    )
    raise DezeroValueError(msg)


def _matmul_batch_axis(node: Node) -> int | None:
    """Where x0 @ x1 (NumPy's matmul) puts a batch axis of either operand; None when contracted."""
    (s0, s1), out_ndim = node.input_shapes[:2], len(node.output_shapes[0])
    lead = out_ndim - (len(s0) > 1) - (len(s1) > 1)  # the output's broadcast (leading) axes
    for k, (axis, in_shape) in enumerate(zip(node.batch_axes[:2], (s0, s1), strict=True)):
        if axis is None:
            continue
        ndim = len(in_shape)
        if ndim == 1 or axis == ndim - 1 - k:  # x0's columns or x1's rows: summed over
            return None
        if axis == ndim - 2 + k:  # x0's rows, x1's columns
            return out_ndim - 1 if k else lead
        out_axis = axis + lead - (ndim - 2)  # a leading axis, aligned from the right
        _check_leading(node, 1 - k, out_axis, lead)
        return out_axis
    return None


def _check_leading(node: Node, other: int, out_axis: int, lead: int) -> None:
    """As :func:`_check_broadcast`, for the leading axes of the other operand of a matmul."""
    in_shape = node.input_shapes[other]
    aligned = out_axis - (lead - (len(in_shape) - 2))
    if node.batch_axes[other] is None and len(in_shape) > 2 and aligned >= 0 and in_shape[aligned] != 1:
        msg = (
            f"export: matmul broadcasts an operand of shape {in_shape} that does not depend on the input "
            f"against the batch dimension (axis {out_axis} of {node.output_shapes[0]}); only size 1 there "
            "keeps the batch size free"
        )
        raise DezeroValueError(msg)


_MatMul: TypeAlias = linalg.MatMul | linalg.LinearNoBias


def _matmul(fn: _MatMul, node: Node, graph: GraphBuilder) -> None:
    graph.add_node("MatMul", node.inputs, node.outputs)
    graph.set_batch_axis(node.outputs[0], _matmul_batch_axis(node))


register(linalg.MatMul, _matmul)
register(linalg.LinearNoBias, _matmul)


@register(linalg.Linear)
def _linear(fn: linalg.Linear, node: Node, graph: GraphBuilder) -> None:
    x, W, b = node.inputs
    if len(node.input_shapes[0]) == 2 and len(node.input_shapes[1]) == 2:
        graph.add_node("Gemm", [x, W, b], node.outputs)
    else:
        graph.add_node("Add", [graph.temp("MatMul", [x, W]), b], node.outputs)
    graph.set_batch_axis(node.outputs[0], _matmul_batch_axis(node))


@register(recurrent.LSTMStep)
def _lstm_step(fn: recurrent.LSTMStep, node: Node, graph: GraphBuilder) -> None:
    # The step as lstm_step_simple composes it: per gate Gemm (+ MatMul of h), Sigmoid or Tanh;
    # then the cell and the state. All tensors keep x's batch axis 0.
    x, h, c, gates = recurrent.split_inputs(node.inputs, fn.has_h, fn.has_c)
    acts: list[str] = []
    for k, (W_x, b, W_h) in enumerate(gates):
        pre = graph.temp("Gemm", [x, W_x, b])
        if h is not None and W_h is not None:
            pre = graph.temp("Add", [pre, graph.temp("MatMul", [h, W_h])])
        acts.append(graph.temp("Tanh" if k == len(gates) - 1 else "Sigmoid", [pre]))
    i, o, u = acts[-3:]
    h_new, c_new = node.outputs
    if c is None:
        graph.add_node("Mul", [i, u], [c_new])
    else:
        graph.add_node("Add", [graph.temp("Mul", [acts[0], c]), graph.temp("Mul", [i, u])], [c_new])
    graph.add_node("Mul", [o, graph.temp("Tanh", [c_new])], [h_new])


@register(shape.Reshape)
def _reshape(fn: shape.Reshape, node: Node, graph: GraphBuilder) -> None:
    target = list(node.output_shapes[0])
    axis = node.batch_axes[0]
    if axis is not None:
        in_shape = node.input_shapes[0]
        # The batch stays where it is when the reshape keeps it and every axis before it.
        if tuple(target[: axis + 1]) != in_shape[: axis + 1]:
            msg = (
                f"export: reshape from {in_shape} to {tuple(target)} moves or merges the batch dimension "
                f"(axis {axis} of the input), which a model with a dynamic batch cannot express"
            )
            raise DezeroValueError(msg)
        target[axis] = 0  # ONNX Reshape: 0 copies the input's dimension
    graph.add_node("Reshape", [node.inputs[0], graph.int_constant(target, "shape")], node.outputs)
    graph.set_batch_axis(node.outputs[0], axis)


@register(shape.Transpose)
def _transpose(fn: shape.Transpose, node: Node, graph: GraphBuilder) -> None:
    ndim = len(node.input_shapes[0])
    perm = list(fn.axes) if fn.axes is not None else list(reversed(range(ndim)))
    graph.add_node("Transpose", node.inputs, node.outputs, perm=perm)
    axis = node.batch_axes[0]
    graph.set_batch_axis(node.outputs[0], None if axis is None else perm.index(axis))


@register(shape.BroadcastTo)
def _broadcast_to(fn: shape.BroadcastTo, node: Node, graph: GraphBuilder) -> None:
    target = list(fn.shape)
    in_shape, axis = node.input_shapes[0], node.batch_axes[0]
    out_axis = None
    if axis is not None:
        out_axis = axis + len(target) - len(in_shape)
        if in_shape[axis] != target[out_axis]:
            msg = (
                f"export: broadcast_to from {in_shape} to {tuple(target)} broadcasts the batch dimension "
                f"(axis {axis} of the input), which a model with a dynamic batch cannot express"
            )
            raise DezeroValueError(msg)
        target[out_axis] = 1  # Expand broadcasts both ways: 1 keeps the input's batch size
    graph.add_node("Expand", [node.inputs[0], graph.int_constant(target, "shape")], node.outputs)
    graph.set_batch_axis(node.outputs[0], out_axis)


@register(shape.SumTo)
def _sum_to(fn: shape.SumTo, node: Node, graph: GraphBuilder) -> None:
    in_shape, target = node.input_shapes[0], fn.shape
    lead = len(in_shape) - len(target)
    summed = [*range(lead), *(lead + i for i, n in enumerate(target) if n == 1 and in_shape[lead + i] != 1)]
    sum_inputs = [node.inputs[0], graph.int_constant(summed, "axes")]
    if lead:
        reduced = graph.temp("ReduceSum", sum_inputs, keepdims=1)
        graph.add_node("Squeeze", [reduced, graph.int_constant(list(range(lead)), "axes")], node.outputs)
    else:  # (Squeeze with no axes would drop every axis of length 1)
        graph.add_node("ReduceSum", sum_inputs, node.outputs, keepdims=1)
    axis = node.batch_axes[0]
    graph.set_batch_axis(node.outputs[0], None if axis is None or axis in summed else axis - lead)


def _reduced_axis(axis: int | None, axes: Sequence[int], keepdims: bool) -> int | None:
    if axis is None or axis in axes:
        return None
    return axis if keepdims else axis - sum(1 for a in axes if a < axis)


_Reduction: TypeAlias = reduction.Sum | reduction.Mean | reduction.Max | reduction.Min
_REDUCTIONS: Final[Mapping[type[_Reduction], str]] = {
    reduction.Sum: "ReduceSum",
    reduction.Mean: "ReduceMean",
    reduction.Max: "ReduceMax",
    reduction.Min: "ReduceMin",
}


def _reduce(fn: _Reduction, node: Node, graph: GraphBuilder) -> None:
    axes = list(fn.axes)
    if not axes:  # NumPy: no axis reduced; ONNX would read empty axes as all of them
        graph.add_node("Identity", node.inputs, node.outputs)
        return
    graph.add_node(
        _REDUCTIONS[type(fn)],
        [node.inputs[0], graph.int_constant(axes, "axes")],
        node.outputs,
        keepdims=int(fn.keepdims),
    )
    graph.set_batch_axis(node.outputs[0], _reduced_axis(node.batch_axes[0], axes, fn.keepdims))


for _reduction_type in _REDUCTIONS:
    register(_reduction_type, _reduce)


_INT64_MAX: Final = 2**63 - 1
_BasicPart: TypeAlias = int | slice | None


def _slice_bounds(part: slice) -> tuple[int, int, int] | None:
    """ONNX Slice's (start, end, step) for `part`, None when it keeps the whole axis. Open bounds stay
    open (the ends of the axis at run time), so a slice of the batch axis follows the batch size."""
    step = 1 if part.step is None else operator.index(part.step)
    if part.start is None and part.stop is None and step == 1:
        return None
    forward = step > 0
    start = operator.index(part.start) if part.start is not None else (0 if forward else -1)
    stop = (
        operator.index(part.stop) if part.stop is not None else (_INT64_MAX if forward else -_INT64_MAX - 1)
    )
    return start, stop, step


@register(shape.GetItem)
def _get_item(fn: shape.GetItem, node: Node, graph: GraphBuilder) -> None:
    parts = fn.index if isinstance(fn.index, tuple) else (fn.index,)
    ndim = len(node.input_shapes[0])
    used = sum(1 for p in parts if p is not None and not isinstance(p, EllipsisType))
    basic: list[_BasicPart] = []
    arrays: list[tuple[int, npt.NDArray[Any]]] = []
    for part in parts:
        if isinstance(part, EllipsisType):
            basic.extend([slice(None)] * (ndim - used))
        elif isinstance(part, np.ndarray | list):
            arrays.append((len(basic), np.asarray(part)))
            basic.append(slice(None))
        else:
            basic.append(part)
    if arrays:
        _gather_array(fn, basic, arrays, node, graph)
    else:
        _basic_index(basic, node, graph)


def _gather_array(
    fn: shape.GetItem,
    basic: list[_BasicPart],
    arrays: list[tuple[int, npt.NDArray[Any]]],
    node: Node,
    graph: GraphBuilder,
) -> None:
    """One integer array among whole-axis slices: ONNX Gather along that axis (as NumPy takes it)."""
    (axis, ids), *others = arrays
    if others or ids.dtype.kind not in "iu" or any(p != slice(None) for p in basic):
        msg = (
            f"export: get_item with index {fn.index!r} is not supported (ints, slices, None, Ellipsis, "
            "or one integer array among whole-axis slices)"
        )
        raise DezeroValueError(msg)
    graph.add_node("Gather", [node.inputs[0], graph.int_constant(ids, "indices")], node.outputs, axis=axis)
    batch = node.batch_axes[0]
    # Gathered from the batch: fixed indices, so a fixed size.
    keeps_batch = batch is not None and batch != axis
    out_axis = None if batch is None or not keeps_batch else batch if batch < axis else batch - 1 + ids.ndim
    graph.set_batch_axis(node.outputs[0], out_axis)


def _basic_index(basic: list[_BasicPart], node: Node, graph: GraphBuilder) -> None:
    """Ints, slices and new axes: Slice, then Gather with scalar indices, then Unsqueeze."""
    slices: list[tuple[int, tuple[int, int, int]]] = []
    ints: list[tuple[int, int]] = []
    news: list[int] = []  # the input axis each None comes before
    dim = 0
    for part in basic:
        if part is None:
            news.append(dim)
            continue
        if isinstance(part, slice):
            bounds = _slice_bounds(part)
            if bounds is not None:
                slices.append((dim, bounds))
        else:
            ints.append((dim, part))
        dim += 1
    current = _slice(node.inputs[0], slices, graph)
    for removed, (axis, i) in enumerate(ints):
        # Gather with a scalar index drops the axis, as an int index does.
        index = graph.int_constant(np.array(i), "index")
        current = graph.temp("Gather", [current, index], axis=axis - removed)
    if news:
        # Positions in the output: the axes kept before each None, and the Nones before it.
        positions = [n - sum(1 for a, _ in ints if a < n) + k for k, n in enumerate(news)]
        current = graph.temp("Unsqueeze", [current, graph.int_constant(positions, "axes")])
    graph.add_node("Identity", [current], node.outputs)
    batch = node.batch_axes[0]
    if batch is None or batch in {a for a, _ in slices} or batch in {a for a, _ in ints}:
        out_axis: int | None = None
    else:
        out_axis = batch - sum(1 for a, _ in ints if a < batch) + sum(1 for n in news if n <= batch)
    graph.set_batch_axis(node.outputs[0], out_axis)


def _slice(x: str, slices: list[tuple[int, tuple[int, int, int]]], graph: GraphBuilder) -> str:
    if not slices:
        return x
    starts, ends, steps = zip(*[bounds for _, bounds in slices], strict=True)
    axes = [axis for axis, _ in slices]
    args = [
        graph.int_constant(v, n)
        for v, n in ((starts, "starts"), (ends, "ends"), (axes, "axes"), (steps, "steps"))
    ]
    return graph.temp("Slice", [x, *args])


def _pads(pad: tuple[int, int]) -> list[int]:
    return [pad[0], pad[1], pad[0], pad[1]]


_Conv: TypeAlias = conv.Conv2d | conv.Conv2dNoBias


def _conv(fn: _Conv, node: Node, graph: GraphBuilder) -> None:
    graph.add_node("Conv", node.inputs, node.outputs, strides=list(fn.stride), pads=_pads(fn.pad))


register(conv.Conv2d, _conv)
register(conv.Conv2dNoBias, _conv)

_Deconv: TypeAlias = conv.Deconv2d | conv.Deconv2dNoBias


def _deconv(fn: _Deconv, node: Node, graph: GraphBuilder) -> None:
    (_, _, h, w), (_, _, kh, kw) = node.input_shapes[0], node.input_shapes[1]
    oh, ow = node.output_shapes[0][2:]
    (sh, sw), (ph, pw) = fn.stride, fn.pad
    # outsize beyond the default output size becomes ONNX's output_padding; deconv2d accepts only
    # what ONNX does there, [0, stride).
    extra = [oh - (sh * (h - 1) + kh - 2 * ph), ow - (sw * (w - 1) + kw - 2 * pw)]
    graph.add_node(
        "ConvTranspose",
        node.inputs,
        node.outputs,
        strides=[sh, sw],
        pads=[ph, pw, ph, pw],
        output_padding=extra,
    )


register(conv.Deconv2d, _deconv)
register(conv.Deconv2dNoBias, _deconv)


@register(conv.Pooling)
def _max_pool(fn: conv.Pooling, node: Node, graph: GraphBuilder) -> None:
    g = fn.geometry
    kernel, strides = list(g.kernel), list(g.stride)
    graph.add_node(
        "MaxPool", node.inputs, node.outputs, kernel_shape=kernel, strides=strides, pads=_pads(g.pad)
    )


@register(conv.AveragePooling)
def _average_pool(fn: conv.AveragePooling, node: Node, graph: GraphBuilder) -> None:
    g = fn.geometry
    graph.add_node(
        "AveragePool",
        node.inputs,
        node.outputs,
        kernel_shape=list(g.kernel),
        strides=list(g.stride),
        pads=_pads(g.pad),
        count_include_pad=1,  # zeros in the padding count, as in typed_dezero
    )


@register(regularization.BatchNorm)
def _batch_norm(fn: regularization.BatchNorm, node: Node, graph: GraphBuilder) -> None:
    if fn.train:
        msg = (
            "export: a batch_norm traced in training mode cannot be exported (export traces in test mode, "
            "on the running statistics; does the model switch training on in its forward?)"
        )
        raise DezeroValueError(msg)
    # Named after the layer's state ("bn1/avg_mean", as in its weights file) when gamma is a
    # BatchNorm layer's parameter.
    gamma = node.inputs[1]
    prefix = gamma.removesuffix("gamma") if gamma.endswith("/gamma") else "batch_norm/"
    mean = graph.constant(fn.running_mean, prefix + "avg_mean")
    # eps is added here, in float64: ONNX's epsilon attribute is a float32.
    var = graph.constant(fn.running_var + fn.eps, prefix + "avg_var_plus_eps")
    graph.add_node("BatchNormalization", [*node.inputs, mean, var], node.outputs, epsilon=0.0)
