"""Property-based fuzzing of every public function of ``typed_dezero.functions`` and of Variable
(constructor, operators, methods, setters): bad types, dtypes, shapes, NaN/Inf, empty, giant-empty
and huge values. Each call must succeed or raise TypeError/ValueError naming the operation and the
faulty argument, leave its inputs and their graph as they were, and leave no graph behind
(see harness.attempt)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import typed_dezero.functions as F
from tests.strategies import arrays
from typed_dezero import Variable, no_grad, test_mode

from .harness import Contract, attempt
from .pools import ARRAY_KINDS, Arg

FUZZ_EXAMPLES: Final = 2 * settings().max_examples
"""Examples per target: twice the profile's count (50 with the default "ci" profile)."""


@dataclass(frozen=True)
class Target:
    """One function of the public API: how to call it, its arguments, and its contract."""

    contract: Contract
    fn: Callable[..., object]
    args: tuple[Arg, ...]
    may_change: tuple[int, ...] = ()
    """Arguments updated in place by a successful call (batch_norm's running statistics)."""
    covers: tuple[str, ...] = ()
    """The names of typed_dezero.functions this target exercises."""


def va(*shape: int, lo: float = -2.0, hi: float = 2.0) -> st.SearchStrategy[Any]:
    """A float64 array of `shape`, or a Variable holding one."""
    a = arrays(shape, lo, hi)
    return st.one_of(a, a.map(Variable))


def fresh(make: Callable[[], object]) -> st.SearchStrategy[Any]:
    """A new object from `make` per draw (for arguments a call may change in place)."""
    return st.builds(make)


def labels(n: int, classes: int) -> st.SearchStrategy[Any]:
    return st.lists(st.integers(0, classes - 1), min_size=n, max_size=n).map(
        lambda v: np.array(v, dtype=np.int64)
    )


def fn(name: str) -> Callable[..., object]:
    function: Callable[..., object] = getattr(F, name)
    return function


def target(names: str | tuple[str, ...], call: Callable[..., object], *args: Arg, **kw: Any) -> Target:
    ops = (names,) if isinstance(names, str) else names
    covers: tuple[str, ...] = kw.pop("covers", (ops[0],))
    index_error: bool = kw.pop("index_error", False)
    return Target(Contract(ops, index_error=index_error), call, args, covers=covers, **kw)


BATCH_NORM_ARGS: Final = (
    Arg("x", va(4, 3), "array"),
    Arg("gamma", va(3), "array"),
    Arg("beta", va(3), "array"),
    Arg("mean", fresh(lambda: np.zeros(3)), "array"),
    Arg("var", fresh(lambda: np.ones(3)), "array"),
    Arg("momentum", st.sampled_from([0.0, 0.9, 1.0]), "float"),
    Arg("eps", st.sampled_from([2e-5, 1.0]), "float"),
)


def _batch_nrom(*args: object) -> object:
    # The deprecated alias, under the same contract (its warning is tested in tests/functions).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return F.batch_nrom(*args)  # type: ignore[arg-type]  # the fuzzer passes wrong types on purpose


X = Arg("x", va(2, 3), "array")
AXIS = Arg("axis", st.sampled_from([None, 0, 1, -1, (0, 1)]), "axis")
KEEPDIMS = Arg("keepdims", st.booleans(), "bool")
IMG = Arg("x", va(2, 3, 5, 5), "array")
STRIDE = Arg("stride", st.sampled_from([1, 2, (1, 2)]), "pair")
PAD = Arg("pad", st.sampled_from([0, 1, (1, 0)]), "pair")
KERNEL = Arg("kernel_size", st.sampled_from([2, 3, (2, 3)]), "pair", ("kernel",))

UNARY: Final = ("abs", "cos", "exp", "log", "sin", "sqrt", "square", "tanh", "sigmoid", "relu")
BINARY: Final = ("add", "sub", "mul", "div", "pow")

TARGETS: Final[list[Target]] = [
    *(target(name, fn(name), Arg("x", va(2, 3), "array")) for name in UNARY),
    target("neg", F.neg, Arg("x", va(2, 3), "operand")),
    *(
        target(
            name,
            fn(name),
            Arg("x0", va(2, 3), "operand"),
            Arg("x1", st.one_of(va(2, 3), va(3), st.floats(-2, 2)), "operand"),
        )
        for name in BINARY
    ),
    *(
        target(
            (f"r{name}", name),
            fn(f"r{name}"),
            Arg("x0", va(2, 3), "operand", ("input 1",)),
            Arg("x1", st.one_of(va(2, 3), va(3), st.floats(-2, 2)), "operand", ("input 0",)),
            covers=(f"r{name}",),
        )
        for name in ("sub", "div")
    ),
    target("leaky_relu", F.leaky_relu, X, Arg("slope", st.sampled_from([0.0, 0.2, 1.0]), "float")),
    *(
        target(name, fn(name), X, Arg("axis", st.sampled_from([0, 1, -1]), "int"))
        for name in ("softmax", "log_softmax")
    ),
    *(target(name, fn(name), X, AXIS, KEEPDIMS) for name in ("sum", "mean", "max", "min")),
    target(("average", "mean"), F.average, X, AXIS, KEEPDIMS, covers=("average",)),
    target("reshape", F.reshape, X, Arg("shape", st.sampled_from([(6,), (3, 2), (-1,), (1, 6, 1)]), "shape")),
    target(
        "broadcast_to",
        F.broadcast_to,
        Arg("x", va(1, 3), "array"),
        Arg("shape", st.sampled_from([(2, 3), (4, 2, 3)]), "shape"),
    ),
    target("sum_to", F.sum_to, X, Arg("shape", st.sampled_from([(1, 3), (3,), (2, 1), ()]), "shape")),
    target("expand_dims", F.expand_dims, X, Arg("axis", st.sampled_from([0, 1, 2, -1]), "int")),
    target(
        "squeeze", F.squeeze, Arg("x", va(2, 1, 3), "array"), Arg("axis", st.sampled_from([1, -2]), "int")
    ),
    target("flatten", F.flatten, Arg("x", va(2, 3, 4), "array")),
    target(
        "get_item",
        F.get_item,
        Arg("x", va(3, 4), "array"),
        Arg(
            "index",
            st.sampled_from([0, -1, slice(1, 3), (Ellipsis, 1), np.array([0, 2]), [0, 0, 1], (None, 1)]),
            "index",
        ),
        index_error=True,
    ),
    target(
        "transpose",
        F.transpose,
        Arg("x", va(2, 3, 4), "array"),
        Arg("axes", st.sampled_from([None, (2, 0, 1), (-1, 0, 1)]), "axis", ("axis",)),
    ),
    target("matmul", F.matmul, Arg("x0", va(2, 3), "array"), Arg("x1", va(3, 4), "array")),
    target(
        "linear",
        F.linear,
        Arg("x", va(2, 3), "array"),
        Arg("W", va(3, 4), "array"),
        Arg("b", st.one_of(st.none(), va(4)), "array"),
    ),
    # accuracy's messages call y "x" (shared with softmax_cross_entropy; pinned by tests/functions)
    target("accuracy", F.accuracy, Arg("y", va(4, 3), "array", ("x",)), Arg("t", labels(4, 3), "labels")),
    target(
        "softmax_cross_entropy",
        F.softmax_cross_entropy,
        Arg("x", va(4, 3, lo=-50, hi=50), "array"),
        Arg("t", labels(4, 3), "labels"),
    ),
    target(
        "sigmoid_cross_entropy",
        F.sigmoid_cross_entropy,
        Arg("x", va(4, 1, lo=-50, hi=50), "array"),
        Arg("t", st.one_of(labels(4, 2), labels(4, 2).map(lambda t: t.reshape(4, 1))), "labels"),
    ),
    target(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        Arg("p", va(4, 1, lo=0.0, hi=1.0), "array"),
        Arg("t", labels(4, 2).map(lambda t: t.reshape(4, 1)), "labels"),
    ),
    target(
        "mean_squared_error", F.mean_squared_error, Arg("x0", va(4, 2), "array"), Arg("x1", va(4, 2), "array")
    ),
    target(
        "batch_norm",
        F.batch_norm,
        *BATCH_NORM_ARGS,
        may_change=(3, 4),
    ),
    target(
        ("batch_nrom", "batch_norm"),
        _batch_nrom,
        *BATCH_NORM_ARGS,
        may_change=(3, 4),
        covers=("batch_nrom",),
    ),
    target(
        "clip",
        F.clip,
        X,
        Arg("x_min", st.sampled_from([-1.0, 0.0, -np.inf]), "float"),
        Arg("x_max", st.sampled_from([1.0, np.inf]), "float"),
    ),
    target(
        "dropout",
        F.dropout,
        X,
        Arg("dropout_ratio", st.sampled_from([0.0, 0.5]), "float"),
        Arg("rng", st.one_of(st.none(), fresh(lambda: np.random.default_rng(0))), "rng"),
        may_change=(2,),
    ),
    target(
        "embed_id",
        F.embed_id,
        Arg("x", labels(6, 5).map(lambda t: t.reshape(2, 3)), "labels", ("ids",)),
        Arg("W", va(5, 4), "array"),
    ),
    target(
        "conv2d",
        F.conv2d,
        IMG,
        Arg("W", va(4, 3, 3, 3), "array"),
        Arg("b", st.one_of(st.none(), va(4)), "array"),
        STRIDE,
        PAD,
    ),
    target(
        "deconv2d",
        F.deconv2d,
        Arg("x", va(2, 3, 4, 4), "array"),
        Arg("W", va(3, 2, 3, 3), "array"),
        Arg("b", st.one_of(st.none(), va(2)), "array"),
        STRIDE,
        PAD,
        Arg("outsize", st.none(), "pair"),
    ),
    target("pooling", F.pooling, IMG, KERNEL, STRIDE, Arg("pad", st.sampled_from([0, 1]), "pair")),
    target("average_pooling", F.average_pooling, IMG, KERNEL, STRIDE, PAD),
    target("im2col", F.im2col, IMG, KERNEL, STRIDE, PAD, Arg("to_matrix", st.booleans(), "bool")),
    target(
        "col2im",
        F.col2im,
        Arg("x", va(18, 27), "array"),
        Arg("input_shape", st.just((2, 3, 5, 5)), "shape", ("shape",)),
        Arg("kernel_size", st.just(3), "pair", ("kernel",)),
        Arg("stride", st.just(1), "pair"),
        Arg("pad", st.just(0), "pair"),
        Arg("to_matrix", st.just(True), "bool"),
    ),
]


def _lstm_flat(name: str) -> Callable[..., object]:
    """lstm_step (or lstm_step_simple) on flat arguments: x, h, c, then the 12 weights as Arg
    names them (W_x[0..3], b[0..3], W_h[0..3]), passed on as the three tuples of four."""
    step = fn(name)

    def call(x: object, h: object, c: object, *weights: object) -> object:
        return step(x, h, c, tuple(weights[0:4]), tuple(weights[4:8]), tuple(weights[8:12]))

    return call


LSTM_ARGS: Final = (
    Arg("x", va(2, 3), "array"),
    Arg("h", st.one_of(st.none(), va(2, 4)), "array"),
    Arg("c", st.one_of(st.none(), va(2, 4)), "array"),
    *(Arg(f"W_x[{k}]", va(3, 4), "array") for k in range(4)),
    *(Arg(f"b[{k}]", va(4), "array") for k in range(4)),
    *(Arg(f"W_h[{k}]", va(4, 4), "array") for k in range(4)),
)
TARGETS.extend(target(name, _lstm_flat(name), *LSTM_ARGS) for name in ("lstm_step", "lstm_step_simple"))


SIMPLE_VARIANTS: Final = (
    "sigmoid",
    "softmax",
    "linear",
    "mean_squared_error",
    "softmax_cross_entropy",
    "conv2d",
    "pooling",
)
# The book's teaching variants, composed from the functions above: same arguments, same contract.
TARGETS.extend(
    Target(
        Contract((f"{t.contract.op[0]}_simple",)),
        fn(f"{t.contract.op[0]}_simple"),
        t.args,
        covers=(f"{t.contract.op[0]}_simple",),
    )
    for t in list(TARGETS)
    if t.contract.op[0] in SIMPLE_VARIANTS
)


def _call_method(name: str) -> Callable[..., object]:
    def call(x: Variable, *args: object) -> object:
        method: Callable[..., object] = getattr(x, name)
        return method(*args)

    return call


def _set(attribute: str) -> Callable[[Variable, object], None]:
    def assign(x: Variable, value: object) -> None:
        setattr(x, attribute, value)

    return assign


def _index(x: Variable, index: Any) -> Variable:
    return x[index]


def _neg(x: object) -> object:
    return -x  # type: ignore[operator]


def _binary(symbol: str) -> Callable[[object, object], object]:
    operations: dict[str, Callable[[Any, Any], object]] = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "**": lambda a, b: a**b,
        "@": lambda a, b: a @ b,
    }
    return operations[symbol]


OPERATOR_NAMES: Final = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "@": "matmul"}
_VARIABLE = va(2, 3).map(lambda a: a if isinstance(a, Variable) else Variable(a))
SELF = Arg("self", _VARIABLE, "variable")
SELF0 = Arg("self", _VARIABLE, "variable", ("x0", "input 0"))
SELF1 = Arg("self", _VARIABLE, "variable", ("x1", "input 1"))
OTHER = st.one_of(va(2, 3), va(3), st.floats(-2, 2))

VARIABLE_TARGETS: Final[list[Target]] = [
    target(
        "Variable",
        Variable,
        Arg("data", arrays((2, 3)), "array"),
        Arg("name", st.sampled_from([None, "x"]), "bool"),
    ),
    *(
        target(OPERATOR_NAMES[s], _binary(s), SELF0, Arg("other", OTHER, "operand", ("input 1", "x1")))
        for s in ("+", "-", "*", "/", "**")
    ),
    *(
        target(
            (f"r{OPERATOR_NAMES[s]}", OPERATOR_NAMES[s]),
            _binary(s),
            Arg("other", OTHER, "operand", ("input 0", "x0")),
            SELF1,
        )
        for s in ("+", "-", "*", "/", "**")
    ),
    target("neg", _neg, SELF),
    target("matmul", _binary("@"), SELF0, Arg("other", va(3, 2), "array", ("x1", "input 1"))),
    target(("rmatmul", "matmul"), _binary("@"), Arg("other", va(4, 2), "array", ("x0", "input 0")), SELF1),
    target(
        "get_item",
        _index,
        SELF,
        Arg("index", st.sampled_from([0, slice(0, 1), (1, 2)]), "index"),
        index_error=True,
    ),
    target(
        "reshape",
        _call_method("reshape"),
        SELF,
        Arg("shape", st.sampled_from([(6,), (3, 2)]), "shape", ("ints",)),
    ),
    target(
        "reshape",
        _call_method("reshape"),
        SELF,
        Arg("shape", st.just(3), "int", ("ints",)),
        Arg("shape", st.just(2), "int", ("ints",)),
    ),
    target(
        "transpose",
        _call_method("transpose"),
        SELF,
        Arg("axes", st.sampled_from([(1, 0), (0, 1)]), "axis", ("ints", "axis")),
    ),
    *(target(name, _call_method(name), SELF, AXIS, KEEPDIMS) for name in ("sum", "mean", "max", "min")),
    *(
        target("matmul", _call_method(name), SELF0, Arg("other", va(3, 2), "array", ("x1", "input 1")))
        for name in ("matmul", "dot")
    ),
    target(
        ("Variable.data", "data"), _set("data"), SELF, Arg("data", arrays((2, 3)), "array"), may_change=(0,)
    ),
    target(
        ("Variable.grad", "grad"),
        _set("grad"),
        Arg("self", _VARIABLE, "variable", ("data",)),
        Arg("grad", _VARIABLE, "array"),
        may_change=(0,),
    ),
    target("len", len, Arg("self", _VARIABLE, "variable", ("Variable",))),
]

MODES: Final[list[Callable[[], contextlib.AbstractContextManager[None]]]] = [
    contextlib.nullcontext,
    no_grad,
    test_mode,
]


def test_every_public_function_is_fuzzed() -> None:
    covered = {name for t in TARGETS for name in t.covers}
    assert covered == set(F.__all__)


def run(target: Target, data: st.DataObject) -> None:
    culprit = data.draw(st.integers(-1, len(target.args) - 1), label="culprit")
    values: list[object] = [
        data.draw(arg.bad() if i == culprit else arg.good, label=arg.name)
        for i, arg in enumerate(target.args)
    ]
    mode = data.draw(st.sampled_from(MODES), label="mode")
    words: Sequence[str] = target.args[culprit].words(culprit) if culprit >= 0 else ()
    # A shape or value error about the only array argument may describe the array instead of naming it.
    several_arrays = sum(arg.kind in ARRAY_KINDS for arg in target.args) > 1
    only_array = culprit >= 0 and target.args[culprit].kind in ARRAY_KINDS and not several_arrays
    with mode():
        outcome = attempt(
            lambda: target.fn(*values),
            target.contract,
            values,
            argument=words,
            value_argument=not only_array,
            may_change=target.may_change,
        )
    if culprit < 0:
        assert outcome.kind == "ok", f"valid arguments were refused: {outcome.message}"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.covers[0])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_functions_reject_bad_input_cleanly(target: Target, data: st.DataObject) -> None:
    run(target, data)


@pytest.mark.parametrize("target", VARIABLE_TARGETS, ids=lambda t: t.contract.op[0])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_variable_rejects_bad_input_cleanly(target: Target, data: st.DataObject) -> None:
    run(target, data)
