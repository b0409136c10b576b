"""Property-based fuzzing of the stateful public API: layer and model constructors and calls,
optimizer constructors, setup, hooks and update, DataLoader construction, and weights loading.
Each call must succeed or raise TypeError/ValueError (OSError for the file system) naming the
operation, and a failed call must leave every layer, optimizer, dataset and file as it was
(see harness.attempt)."""

from __future__ import annotations

import contextlib
import io
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import typed_dezero.functions as F
import typed_dezero.layers as L
import typed_dezero.optimizers as O
from typed_dezero import (
    DataLoader,
    DezeroValueError,
    Layer,
    Parameter,
    SeqDataLoader,
    Variable,
    no_grad,
    test_mode,
)
from typed_dezero.datasets import Spiral
from typed_dezero.models import MLP, Sequential

from .harness import COUNTS, Contract, FileState, attempt
from .pools import WRONG_TYPES, Arg
from .test_fuzz_functions import FUZZ_EXAMPLES, fresh, labels, va

Build = Callable[..., object]


def size(name: str) -> Arg:
    return Arg(name, st.integers(1, 4), "int")


OPT_SIZE = Arg("in_size", st.one_of(st.none(), st.integers(1, 4)), "int")
OPT_CHANNELS = Arg("in_channels", st.one_of(st.none(), st.integers(1, 4)), "int")
RNG = Arg("rng", st.one_of(st.none(), fresh(lambda: np.random.default_rng(0))), "rng")
KERNEL = Arg("kernel_size", st.sampled_from([1, 3, (2, 3)]), "pair")
STRIDE = Arg("stride", st.sampled_from([1, 2]), "pair")
PAD = Arg("pad", st.sampled_from([0, 1]), "pair")
NOBIAS = Arg("nobias", st.booleans(), "bool")


def _linear(out: Any, nobias: Any, in_size: Any, rng: Any) -> object:
    return L.Linear(out, nobias, in_size=in_size, rng=rng)


def _conv(cls: Build) -> Build:
    def build(out: Any, kernel: Any, stride: Any, pad: Any, nobias: Any, in_ch: Any, rng: Any) -> object:  # noqa: PLR0917 - the constructor's order
        return cls(out, kernel, stride, pad, nobias, in_channels=in_ch, rng=rng)

    return build


def _embed(in_size: Any, out_size: Any, rng: Any) -> object:
    return L.EmbedID(in_size, out_size, rng=rng)


def _batch_norm(momentum: Any, eps: Any, channels: Any) -> object:
    return L.BatchNorm(momentum, eps, channels=channels)


def _recurrent(cls: Build) -> Build:
    def build(hidden: Any, in_size: Any, rng: Any) -> object:
        return cls(hidden, in_size, rng=rng)

    return build


def _mlp(sizes: Any, activation: Any, rng: Any) -> object:
    return MLP(sizes, activation, rng=rng)


def _sequential(first: Any, second: Any) -> object:
    return Sequential(first, second)


CONSTRUCTORS: Final[list[tuple[str, Build, tuple[Arg, ...]]]] = [
    ("Linear", _linear, (size("out_size"), NOBIAS, OPT_SIZE, RNG)),
    ("Conv2d", _conv(L.Conv2d), (size("out_channels"), KERNEL, STRIDE, PAD, NOBIAS, OPT_CHANNELS, RNG)),
    ("Deconv2d", _conv(L.Deconv2d), (size("out_channels"), KERNEL, STRIDE, PAD, NOBIAS, OPT_CHANNELS, RNG)),
    ("EmbedID", _embed, (size("in_size"), size("out_size"), RNG)),
    (
        "BatchNorm",
        _batch_norm,
        (
            Arg("momentum", st.sampled_from([0.0, 0.9, 1.0]), "float"),
            Arg("eps", st.sampled_from([2e-5, 1.0]), "float"),
            Arg("channels", st.one_of(st.none(), st.integers(1, 4)), "int"),
        ),
    ),
    ("RNN", _recurrent(L.RNN), (size("hidden_size"), OPT_SIZE, RNG)),
    ("LSTM", _recurrent(L.LSTM), (size("hidden_size"), OPT_SIZE, RNG)),
    (
        "MLP",
        _mlp,
        (
            Arg("fc_output_sizes", st.lists(st.integers(1, 4), min_size=1, max_size=3), "shape", ("Linear",)),
            Arg("activation", st.sampled_from([F.sigmoid, F.relu]), "rng"),
            RNG,
        ),
    ),
    (
        "Sequential",
        _sequential,
        (
            Arg("argument 0", fresh(lambda: L.Linear(2)), "rng"),
            Arg("argument 1", fresh(lambda: L.Linear(2)), "rng"),
        ),
    ),
]


def _draw_args(data: st.DataObject, args: tuple[Arg, ...]) -> tuple[int, list[object]]:
    culprit = data.draw(st.integers(-1, len(args) - 1), label="culprit")
    values = [
        data.draw(arg.bad() if i == culprit else arg.good, label=arg.name) for i, arg in enumerate(args)
    ]
    return culprit, values


@pytest.mark.parametrize(("name", "build", "args"), CONSTRUCTORS, ids=[c[0] for c in CONSTRUCTORS])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_layer_constructors_reject_bad_arguments(
    name: str, build: Build, args: tuple[Arg, ...], data: st.DataObject
) -> None:
    culprit, values = _draw_args(data, args)
    words = args[culprit].words(culprit) if culprit >= 0 else ()
    outcome = attempt(
        lambda: build(*values),
        Contract((name, "Linear")),
        values,
        argument=words,
        may_change=range(len(values)),
    )
    if culprit < 0:
        assert isinstance(outcome.result, Layer), outcome.message


# -- calling layers --------------------------------------------------------------------------


def _warm(layer: Layer[..., Any], x: object) -> Layer[..., Any]:
    """`layer` after one call on `x` (its lazy parameters and state exist)."""
    call: Callable[[object], object] = layer
    call(x)
    return layer


@dataclass(frozen=True)
class Maker:
    """How to build a layer and a good input for it (built in the test body: the runtime checker
    draws from Python's random module, which Hypothesis forbids inside strategies)."""

    make: Callable[[], Layer[..., Any]]
    good_input: Callable[[], object]


def _layers(make: Callable[[], Layer[..., Any]], good_input: Callable[[], object]) -> Maker:
    return Maker(make, good_input)


def _images(*shape: int) -> Callable[[], object]:
    return lambda: np.random.default_rng(0).standard_normal(shape)


IDS = Arg("x", labels(6, 5).map(lambda t: t.reshape(2, 3)), "labels", ("ids",))

LAYER_CALLS: Final[list[tuple[str, Maker, Arg]]] = [
    ("Linear", _layers(lambda: L.Linear(4), _images(2, 3)), Arg("x", va(2, 3), "array")),
    (
        "Conv2d",
        _layers(lambda: L.Conv2d(4, 3, pad=1), _images(2, 3, 5, 5)),
        Arg("x", va(2, 3, 5, 5), "array"),
    ),
    ("Deconv2d", _layers(lambda: L.Deconv2d(2, 3), _images(2, 3, 4, 4)), Arg("x", va(2, 3, 4, 4), "array")),
    ("EmbedID", _layers(lambda: L.EmbedID(5, 4), lambda: np.zeros((2, 3), dtype=np.int64)), IDS),
    ("BatchNorm", _layers(L.BatchNorm, _images(4, 3)), Arg("x", va(4, 3), "array")),
    ("RNN", _layers(lambda: L.RNN(4), _images(2, 3)), Arg("x", va(2, 3), "array")),
    ("LSTM", _layers(lambda: L.LSTM(4), _images(2, 3)), Arg("x", va(2, 3), "array")),
    ("MLP", _layers(lambda: MLP((4, 2)), _images(2, 3)), Arg("x", va(2, 3), "array")),
    (
        "Sequential",
        _layers(lambda: Sequential(L.Linear(4), L.Linear(2)), _images(2, 3)),
        Arg("x", va(2, 3), "array"),
    ),
]
"""Layers and the names their messages may use (a model's error comes from the layer that failed)."""

LAYER_NAMES: Final = ("Linear", "linear", "add", "tanh", "sigmoid")
"""Names a message about a model's input may use: the layers and functions a model's first step runs."""

MODES: Final[list[Callable[[], contextlib.AbstractContextManager[None]]]] = [
    contextlib.nullcontext,
    no_grad,
    test_mode,
]


@pytest.mark.parametrize(("name", "layers", "x"), LAYER_CALLS, ids=[c[0] for c in LAYER_CALLS])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_layer_calls_reject_bad_input_and_keep_their_state(
    name: str, layers: Maker, x: Arg, data: st.DataObject
) -> None:
    layer = layers.make()
    if data.draw(st.booleans(), label="called before"):
        _warm(layer, layers.good_input())
    bad = data.draw(st.booleans(), label="bad")
    value = data.draw(x.bad() if bad else x.good, label="x")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    call: Callable[[object], object] = layer
    with mode():
        outcome = attempt(
            lambda: call(value), Contract((name, *LAYER_NAMES)), [layer, value], may_change=(0,)
        )
    if not bad:
        assert isinstance(outcome.result, Variable), outcome.message


# -- optimizers ----------------------------------------------------------------------------------


POSITIVE = Arg("lr", st.sampled_from([1e-3, 0.1]), "float")
UNIT = Arg("momentum", st.sampled_from([0.0, 0.5]), "float")

OPTIMIZERS: Final[list[tuple[str, Build, tuple[Arg, ...]]]] = [
    ("SGD", O.SGD, (POSITIVE,)),
    ("MomentumSGD", O.MomentumSGD, (POSITIVE, UNIT)),
    ("AdaGrad", O.AdaGrad, (POSITIVE, Arg("eps", st.just(1e-8), "float"))),
    ("AdaDelta", O.AdaDelta, (Arg("rho", st.just(0.95), "float"), Arg("eps", st.just(1e-6), "float"))),
    (
        "Adam",
        O.Adam,
        (
            Arg("alpha", st.just(1e-3), "float"),
            Arg("beta1", st.just(0.9), "float"),
            Arg("beta2", st.just(0.999), "float"),
            Arg("eps", st.just(1e-8), "float"),
        ),
    ),
    ("WeightDecay", O.WeightDecay, (Arg("rate", st.sampled_from([0.0, 0.1]), "float"),)),
    ("ClipGrad", O.ClipGrad, (Arg("max_norm", st.sampled_from([0.1, 1.0]), "float"),)),
    ("FreezeParam", O.FreezeParam, (Arg("targets", fresh(lambda: L.Linear(2)), "rng"),)),
]


@pytest.mark.parametrize(("name", "build", "args"), OPTIMIZERS, ids=[c[0] for c in OPTIMIZERS])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_optimizer_constructors_reject_bad_hyper_parameters(
    name: str, build: Build, args: tuple[Arg, ...], data: st.DataObject
) -> None:
    culprit, values = _draw_args(data, args)
    words = args[culprit].words(culprit) if culprit >= 0 else ()
    outcome = attempt(lambda: build(*values), Contract((name,)), values, argument=words)
    if culprit < 0:
        assert outcome.kind == "ok", outcome.message


class Pair(Layer[[Variable], Variable]):
    """Two parameters of different shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.w = Parameter(np.array([1.0, -2.0, 3.0]), name="w")
        self.v = Parameter(np.ones((2, 2)), name="v")


def _grads(model: Pair, kind: str) -> None:
    """Give the model's parameters gradients of `kind` (some of them faulty)."""
    values = {"fine": 0.5, "nan": np.nan, "inf": np.inf, "huge": 1e308, "zero": 0.0}
    for p in model.params():
        p.grad = None if kind == "none" else Variable(np.full(p.shape, values.get(kind, 0.5)))
    if kind == "reshaped":  # data replaced after backward: gradient and state no longer fit
        model.v.data = np.ones(3)
    if kind == "reshaped_both":  # data and gradient replaced: only the state no longer fits
        model.v.data = np.ones(3)
        model.v.grad = Variable(np.ones(3))


HOOKS: Final[dict[str, Callable[[Pair], object]]] = {
    "none": lambda m: None,
    "weight_decay": lambda m: O.WeightDecay(0.1),
    "clip_grad": lambda m: O.ClipGrad(1.0),
    "freeze": lambda m: O.FreezeParam(m.w),
    "failing": lambda m: _failing_hook,
}


def _failing_hook(params: list[Parameter]) -> None:
    msg = "this hook refuses to run"
    raise DezeroValueError(msg)


@pytest.mark.parametrize("name", [c[0] for c in OPTIMIZERS[:5]])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_failed_updates_change_nothing(name: str, data: st.DataObject) -> None:
    build: Build = {c[0]: c[1] for c in OPTIMIZERS}[name]
    model = Pair()
    opt: Any = build()
    opt.setup(model)
    if data.draw(st.booleans(), label="has_state"):
        _grads(model, "fine")
        opt.update()
    hook = HOOKS[data.draw(st.sampled_from(sorted(HOOKS)), label="hook")](model)
    if hook is not None:
        opt.add_hook(hook)
    kind = data.draw(
        st.sampled_from(["fine", "nan", "inf", "huge", "zero", "none", "reshaped", "reshaped_both"])
    )
    _grads(model, kind)
    COUNTS["faults"] += kind != "fine"
    attempt(lambda: opt.update(), Contract((name, "ClipGrad", "hook")), [model, opt], may_change=(0, 1))


def _empty_state() -> dict[str, object]:
    return {}


@pytest.mark.parametrize("method", ["setup", "add_hook", "load_state_dict"])
@settings(max_examples=FUZZ_EXAMPLES)
@given(
    value=st.one_of(
        WRONG_TYPES,
        st.builds(_empty_state),
        st.just({"v/0": np.ones(3)}),
        st.just({"t": np.array(-1)}),
        st.just({"v/7": np.ones(3)}),
        st.just({"v/0": np.ones(3, dtype=np.int64)}),
    ),
    name=st.sampled_from(["MomentumSGD", "Adam"]),
)
def test_optimizer_methods_reject_bad_arguments(method: str, value: object, name: str) -> None:
    model = Pair()
    opt: Any = {c[0]: c[1] for c in OPTIMIZERS}[name]()
    opt.setup(model)
    _grads(model, "fine")
    opt.update()
    call: Callable[[object], object] = getattr(opt, method)
    attempt(
        lambda: call(value),
        Contract((name, method)),
        [model, opt, value],
        may_change=(1,),
    )


# -- data loaders --------------------------------------------------------------------------------

DATASET = fresh(Spiral)


def _loader(dataset: Any, batch_size: Any, shuffle: Any, drop_last: Any, rng: Any) -> object:
    return DataLoader(dataset, batch_size, shuffle, drop_last, rng)


def _seq_loader(dataset: Any, batch_size: Any) -> object:
    return SeqDataLoader(dataset, batch_size)


LOADERS: Final[list[tuple[str, Build, tuple[Arg, ...]]]] = [
    (
        "DataLoader",
        _loader,
        (
            Arg("dataset", DATASET, "rng"),
            Arg("batch_size", st.integers(1, 400), "int"),
            Arg("shuffle", st.booleans(), "bool"),
            Arg("drop_last", st.booleans(), "bool"),
            Arg(
                "rng",
                st.one_of(st.none(), st.integers(0, 10), fresh(lambda: np.random.default_rng(0))),
                "rng",
            ),
        ),
    ),
    (
        "SeqDataLoader",
        _seq_loader,
        (Arg("dataset", DATASET, "rng"), Arg("batch_size", st.integers(1, 300), "int")),
    ),
]


@pytest.mark.parametrize(("name", "build", "args"), LOADERS, ids=[c[0] for c in LOADERS])
@settings(max_examples=FUZZ_EXAMPLES)
@given(data=st.data())
def test_data_loaders_reject_bad_arguments(
    name: str, build: Build, args: tuple[Arg, ...], data: st.DataObject
) -> None:
    culprit, values = _draw_args(data, args)
    words = args[culprit].words(culprit) if culprit >= 0 else ()
    # A successful loader may advance a Generator it was given (index 4) when it is iterated, not before.
    outcome = attempt(lambda: build(*values), Contract((name,)), values, argument=words)
    if culprit < 0:
        assert isinstance(outcome.result, DataLoader), outcome.message


# -- weights files -------------------------------------------------------------------------------


def _npz(arrays: dict[str, np.ndarray[Any, Any]]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


RAN: Final[list[str]] = []


def run_evil(note: str) -> None:
    RAN.append(note)


class Evil:
    """Unpickling this calls run_evil (pickled by reference): a file that holds it must never run it."""

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return (run_evil, ("evil code ran",))


def _files(good: bytes) -> dict[str, bytes | None]:
    """Weights files, good and bad, by name (None: no file at all)."""
    evil = np.empty(1, dtype=object)
    evil[0] = Evil()
    return {
        "good": good,
        "truncated": good[: len(good) // 2],
        "one_byte": good[:1],
        "empty": b"",
        "flipped": bytes(b ^ 0xFF if i % 97 == 50 else b for i, b in enumerate(good)),
        "random": np.random.default_rng(0).bytes(600),
        "npy": _npy(),
        "pickle": pickle.dumps(Evil()),
        "zip_of_text": _zip({"readme.txt": b"hello"}),
        "other_model": _npz({"W": np.ones((7, 7)), "b": np.ones(7)}),
        "wrong_dtype": _npz({"W": np.ones((3, 4), dtype=np.int64), "b": np.zeros(4, dtype=np.int64)}),
        "wrong_shape": _npz({"W": np.ones((4, 3)), "b": np.zeros(4)}),
        "extra_key": _npz({"W": np.ones((3, 4)), "b": np.zeros(4), "c": np.ones(1)}),
        "evil": _npz({"W": np.ones((3, 4)), "b": np.zeros(4), "x": evil}),
        "missing": None,
    }


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


@settings(max_examples=FUZZ_EXAMPLES)
@given(
    kind=st.sampled_from(sorted(_files(b"x"))),
    lazy=st.booleans(),
    path_type=st.sampled_from(["str", "path", "bad"]),
    bad_path=st.sampled_from([b"w.npz", 3, None, "dir", "with\0nul", "x" * 5000]),
)
def test_loading_weights_never_changes_the_model_on_failure(
    weights_dir: Path, kind: str, lazy: bool, path_type: str, bad_path: object
) -> None:
    source = L.Linear(4, in_size=3, rng=np.random.default_rng(1))
    good_file = weights_dir / "source.npz"
    source.save_weights(good_file)
    content = _files(good_file.read_bytes())[kind]
    path = weights_dir / f"{kind}.npz"
    path.unlink(missing_ok=True)
    if content is not None:
        path.write_bytes(content)
    target = L.Linear(4, in_size=None if lazy else 3, rng=np.random.default_rng(2))
    argument: object = str(path) if path_type == "str" else path
    if path_type == "bad":
        argument = str(weights_dir) if bad_path == "dir" else bad_path
    COUNTS["faults"] += kind != "good" or path_type == "bad"
    RAN.clear()
    attempt(
        lambda: target.load_weights(argument),  # type: ignore[arg-type]
        Contract(("load_weights", "load_npz", "Linear", "load_state_dict"), os_error=True),
        [target, FileState(path)],
        may_change=(0,),
    )
    assert RAN == []


@settings(max_examples=FUZZ_EXAMPLES)
@given(kind=st.sampled_from(sorted(_files(b"x"))), name=st.sampled_from(["MomentumSGD", "Adam"]))
def test_loading_optimizer_state_never_changes_it_on_failure(weights_dir: Path, kind: str, name: str) -> None:
    model = L.Linear(4, in_size=3, rng=np.random.default_rng(1))
    make: Build = {c[0]: c[1] for c in OPTIMIZERS}[name]
    source: Any = make()
    source.setup(model)
    F.sum(model(np.ones((2, 3)))).backward()
    source.update()
    good_file = weights_dir / f"{name}.npz"
    source.save(good_file)
    content = _files(good_file.read_bytes())[kind]
    path = weights_dir / f"opt-{kind}.npz"
    path.unlink(missing_ok=True)
    if content is not None:
        path.write_bytes(content)
    target: Any = make()
    target.setup(model)
    source.update()  # the target's state must differ from the file's for a load to show
    COUNTS["faults"] += kind != "good"
    RAN.clear()
    attempt(
        lambda: target.load(path),
        Contract((name, "load", "load_npz"), os_error=True),
        [target, model, FileState(path)],
        may_change=(0,),
    )
    assert RAN == []


def test_the_evil_payload_is_real(weights_dir: Path) -> None:
    path = weights_dir / "evil-check.npz"
    path.write_bytes(_files(b"x")["evil"] or b"")
    RAN.clear()
    with np.load(path, allow_pickle=True) as npz:  # unpickling it really runs code
        _ = npz["x"]
    assert RAN == ["evil code ran"]
    RAN.clear()
