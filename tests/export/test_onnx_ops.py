"""Every converter of typed_dezero.onnx, one small model per Function type, run in ONNX Runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnx
import pytest
from typing_extensions import override

import typed_dezero.functions as F
from tests.export.test_onnx_models import check
from typed_dezero import Arr, Function, Model, Variable
from typed_dezero import onnx as tdo
from typed_dezero._typing import Shape

W34 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
W43 = W34.T.copy()
B4 = np.linspace(0.5, -0.5, 4)
K = np.linspace(-1.0, 1.0, 2 * 3 * 3 * 3).reshape(2, 3, 3, 3)
KT = np.linspace(-1.0, 1.0, 3 * 2 * 3 * 3).reshape(3, 2, 3, 3)  # deconv: (C_in, C_out, KH, KW)
B2 = np.array([0.25, -0.5])
IDS = np.array([[2, 0], [1, 2]])


class Op(Model[[Variable | Arr], Variable]):
    """A model made of one function of its input."""

    def __init__(self, fn: Callable[[Variable], Variable]) -> None:
        super().__init__()
        self.fn = fn

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return self.fn(x if isinstance(x, Variable) else Variable(x))


class Case(NamedTuple):
    fn: Callable[[Variable], Variable]
    shape: Shape
    positive: bool
    double: bool
    """Whether ONNX Runtime's CPU provider runs it in float64 (else it is checked in float32 only)."""


def case(
    fn: Callable[[Variable], Variable], shape: Shape, *, positive: bool = False, double: bool = True
) -> Case:
    # A function rather than case(...) directly: pyright infers the lambdas' parameter types from it.
    return Case(fn, shape, positive, double)


CASES: dict[str, Case] = {
    "add": case(lambda x: x + B4, (3, 4)),
    "radd": case(lambda x: B4 + x, (3, 4)),
    "add_var": case(lambda x: x + x[:, :1], (3, 4)),
    "sub": case(lambda x: x - B4, (3, 4)),
    "mul": case(lambda x: x * B4, (3, 4)),
    "div": case(lambda x: x / (B4 + 2.0), (3, 4)),
    "pow": case(lambda x: x ** np.array([1.5, 2.0, 0.5]), (2, 3), positive=True),
    "neg": case(lambda x: -x, (3,)),
    "add_const": case(lambda x: x + 2.0, (3,)),
    "sub_const": case(lambda x: x - 2.0, (3,)),
    "rsub_const": case(lambda x: 2.0 - x, (3,)),
    "mul_const": case(lambda x: x * 3.0, (3,)),
    "div_const": case(lambda x: x / 3.0, (3,)),
    "rdiv_const": case(lambda x: 3.0 / x, (3,), positive=True),
    "pow_const": case(lambda x: x**3, (3,)),
    "square": case(F.square, (2, 3)),
    "exp": case(F.exp, (2, 3)),
    "log": case(F.log, (2, 3), positive=True),
    "sin": case(F.sin, (2, 3)),
    "cos": case(F.cos, (2, 3)),
    "tanh": case(F.tanh, (2, 3)),
    "sqrt": case(F.sqrt, (2, 3), positive=True),
    "abs": case(F.abs, (2, 3)),
    "row_norm": case(lambda x: (x * x).sum(axis=1, keepdims=True) ** 0.5, (2, 3)),
    "sigmoid": case(F.sigmoid, (2, 3)),
    "relu": case(F.relu, (2, 3)),
    "sigmoid_simple": case(F.sigmoid_simple, (2, 3)),
    "softmax_simple": case(F.softmax_simple, (2, 3)),
    "linear_simple": case(lambda x: F.linear_simple(x, W34, B4), (2, 3)),
    "leaky_relu": case(lambda x: F.leaky_relu(x, 0.1), (2, 3)),
    "softmax": case(F.softmax, (2, 3)),
    "softmax_axis0": case(lambda x: F.softmax(x, axis=0), (2, 3)),
    "log_softmax": case(F.log_softmax, (2, 3)),
    "clip": case(lambda x: F.clip(x, -0.5, 0.5), (2, 3)),
    "matmul": case(lambda x: F.matmul(x, W34), (2, 3)),
    "matmul_batch_as_columns": case(lambda x: F.transpose(F.matmul(W43, F.transpose(x))), (2, 3)),
    "matmul_batch_leading": case(lambda x: F.matmul(x, W34), (2, 5, 3)),
    "matmul_vector_left": case(lambda x: F.matmul(np.ones(3), x), (2, 3, 4)),
    "matmul_vector_right": case(lambda x: F.matmul(x, np.ones(4)), (2, 3, 4)),
    "matmul_leading_batch": case(lambda x: F.matmul(x, np.ones((1, 3, 4))), (2, 1, 3)),
    "matmul_leading_batch_right": case(lambda x: F.matmul(np.ones((1, 4, 3)), x), (2, 1, 3, 2)),
    "matmul_matrix_batch": case(lambda x: F.matmul(W43, x), (2, 3, 5)),
    "matmul_constants": case(lambda x: x + F.matmul(np.ones((1, 3)), W34), (2, 4)),
    "matmul_batch_contracted": case(lambda x: F.matmul(F.transpose(x), x) + x[:1], (2, 3)),
    "linear_no_bias": case(lambda x: F.linear(x, W34), (2, 3)),
    "linear": case(lambda x: F.linear(x, W34, B4), (2, 3)),
    "linear_3d": case(lambda x: F.linear(x, W34, B4), (2, 5, 3)),
    "reshape": case(lambda x: F.reshape(x, (x.shape[0], 3, 2)), (2, 6)),
    "flatten": case(F.flatten, (2, 2, 3)),
    "reshape_batch_second": case(
        lambda x: F.transpose(F.reshape(F.transpose(x, (1, 0, 2)), (3, -1, 2, 2))), (2, 3, 4)
    ),
    "expand_dims": case(lambda x: F.expand_dims(x, 1), (2, 3)),
    "squeeze": case(lambda x: F.squeeze(x, 1), (2, 1, 3)),
    "broadcast_to": case(lambda x: F.broadcast_to(x, (4, x.shape[0], 3)).sum(axis=0), (2, 1)),
    "broadcast_to_const": case(lambda x: x + F.broadcast_to(B4, (3, 4)).sum(axis=0), (2, 4)),
    "sum_to": case(lambda x: F.sum_to(x, (1, 3)) + x, (2, 3)),
    "sum_to_lead": case(lambda x: F.sum_to(x, (3,)) * x, (2, 4, 3)),
    "sum_to_inner": case(lambda x: F.sum_to(x, (x.shape[0], 1)), (2, 3)),
    "transpose": case(F.transpose, (2, 3)),
    "transpose_axes": case(lambda x: F.transpose(x, (0, 2, 1)), (2, 3, 4)),
    "transpose_batch": case(lambda x: F.sum(F.transpose(x, (1, 0, 2)), axis=0), (2, 3, 4)),
    "sum_all": case(lambda x: F.sum(x), (2, 3)),
    "sum_no_axis": case(lambda x: F.sum(x, axis=()), (2, 3)),
    "sum_axis": case(lambda x: F.sum(x, axis=1), (2, 3, 4)),
    "sum_keepdims": case(lambda x: F.sum(x, axis=(1, 2), keepdims=True), (2, 3, 4)),
    "mean": case(lambda x: F.mean(x, axis=(2, 3)), (2, 3, 4, 5)),
    "max": case(lambda x: F.max(x, axis=1), (2, 3)),
    "min": case(lambda x: F.min(x, axis=-1, keepdims=True), (2, 3)),
    "get_item_int": case(lambda x: x[:, 1], (2, 3, 4)),
    "get_item_ints": case(lambda x: x[:, 1, -1], (2, 3, 4)),
    "get_item_slices": case(lambda x: x[:, 1:, ::2], (2, 3, 4)),
    "get_item_reverse": case(lambda x: x[:, ::-1], (2, 3)),
    "get_item_from_end": case(lambda x: x[:, -2:], (2, 3)),
    "get_item_batch": case(lambda x: x[1:], (3, 2)),
    "get_item_new_axis": case(lambda x: x[:, None, 1:, None], (2, 3)),
    "get_item_before_batch": case(lambda x: x[None], (2, 3)),
    "get_item_int_then_new_axis": case(lambda x: x[:, 0, None], (2, 3, 4)),
    "get_item_ellipsis": case(lambda x: x[..., 1], (2, 3, 4)),
    "get_item_ellipsis_middle": case(lambda x: x[:, ..., None, 1:], (2, 3, 4)),
    "get_item_rows": case(lambda x: x[np.array([2, 0, 2])], (3, 2)),
    "get_item_columns": case(lambda x: x[:, [2, 0, 0, 1]], (2, 3)),
    "get_item_columns_batch_after": case(lambda x: F.transpose(x)[IDS], (2, 3)),
    "embed_id": case(lambda x: x + F.embed_id(np.array([2, 0, 2]), W34), (2, 3, 4)),
    "embed_id_2d": case(lambda x: x + F.embed_id(IDS, W34), (2, 2, 2, 4)),
    "conv2d": case(lambda x: F.conv2d(x, K, B2, stride=2, pad=1), (2, 3, 5, 5), double=False),
    "conv2d_no_bias": case(lambda x: F.conv2d(x, K, pad=(1, 0)), (2, 3, 5, 5), double=False),
    "deconv2d": case(lambda x: F.deconv2d(x, KT, B2, stride=2, pad=1), (2, 3, 4, 4), double=False),
    "deconv2d_outsize_padding": case(
        lambda x: F.deconv2d(x, KT, B2, stride=2, pad=1, outsize=(8, 8)), (2, 3, 4, 4), double=False
    ),
    "deconv2d_no_bias_outsize": case(
        lambda x: F.deconv2d(x, KT, stride=2, pad=1, outsize=(8, 8)), (2, 3, 4, 4), double=False
    ),
    "pooling": case(lambda x: F.pooling(x, 3, stride=2, pad=1), (2, 3, 6, 6)),
    "average_pooling": case(lambda x: F.average_pooling(x, 2, stride=2, pad=1), (2, 3, 5, 5), double=False),
    "batch_norm_2d": case(
        lambda x: F.batch_norm(
            x, B4 + 1.0, B4, np.array([0.1, -0.2, 0.3, 0.0]), np.array([0.5, 2.0, 1.0, 3.0])
        ),
        (3, 4),
    ),
    "batch_norm_4d": case(
        lambda x: F.batch_norm(x, B2 + 1.0, B2, np.array([0.1, -0.2]), np.array([0.5, 2.0]), eps=1e-3),
        (2, 2, 3, 3),
    ),
    "dropout_test_mode": case(lambda x: F.dropout(x, 0.5) * 2.0, (2, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_converter(name: str, rng: np.random.Generator, tmp_path: Path) -> None:
    case = CASES[name]

    def sample(n: int) -> Arr:
        x = rng.standard_normal((n, *case.shape[1:]))
        return np.abs(x) + 0.5 if case.positive else x

    model = Op(case.fn)
    check(model, sample(case.shape[0]), sample(case.shape[0] + 3), tmp_path, "float32")
    if case.double:
        check(model, sample(case.shape[0]), sample(case.shape[0] + 2), tmp_path, "float64")
    else:
        # A valid float64 model all the same (checked in full), for runtimes with double kernels.
        proto = tdo.to_model(model, sample(case.shape[0]))
        assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


REFUSED = {
    # Gradients only: a forward pass never makes them.
    "typed_dezero.functions.arithmetic.LogWherePositive",
    "typed_dezero.functions.arithmetic.ReciprocalWherePositive",
    "typed_dezero.functions.conv.AveragePooling2DGrad",
    "typed_dezero.functions.conv.Conv2DGradW",
    "typed_dezero.functions.conv.Pooling2DGrad",
    "typed_dezero.functions.conv.Pooling2DWithIndexes",
    "typed_dezero.functions.shape.GetItemGrad",
    # im2col's matrix merges the batch with the output positions (so conv2d_simple and
    # pooling_simple are refused too); col2im is its adjoint.
    "typed_dezero.functions.conv.Im2col",
    "typed_dezero.functions.conv.Col2im",
    # Losses take the targets as constants: training, not inference.
    "typed_dezero.functions.loss.BinaryCrossEntropy",
    "typed_dezero.functions.loss.MeanSquaredError",
    "typed_dezero.functions.loss.SigmoidCrossEntropy",
    "typed_dezero.functions.loss.SoftmaxCrossEntropy",
}


def _subclasses(cls: type[Function[Any, Any]]) -> Iterator[type[Function[Any, Any]]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_library_function_has_a_converter_or_is_refused_on_purpose() -> None:
    # A Function added to typed_dezero.functions fails here until it gets a converter (and a case
    # above) or joins REFUSED with its reason.
    library = {
        f"{f.__module__}.{f.__qualname__}": f
        for f in _subclasses(Function)
        if f.__module__.startswith("typed_dezero.functions.") and not f.__name__.startswith("_")
    }
    without = {name for name, f in library.items() if tdo.converter_for(f) is None}
    assert without == REFUSED
