"""The Layer base: registration, traversal, lazy parameters, state, state dicts and weights files."""

from __future__ import annotations

import pickle
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typing_extensions import override

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import (
    Arr,
    DezeroError,
    DezeroTypeError,
    DezeroValueError,
    Parameter,
    ShapeError,
    Variable,
    WeightsFileError,
)
from typed_dezero.layers import Layer, UninitializedParameterError

from .helpers import assert_same, snapshot


class Affine(Layer[[Variable | Arr], Variable]):
    """Registers c, a, b in that order (not alphabetical), plus a non-parameter attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.c = Parameter(np.full(2, 3.0), name="c")
        self.note = "not registered"
        self.a = Parameter(np.ones((3, 2)), name="a")
        self.b = Parameter(np.zeros(2), name="b")

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return F.linear(x, self.a, self.b) * self.c


class Net(Layer[[Variable | Arr], Variable]):
    """Two sub-layers and an own parameter, registered in the order second, scale, first."""

    def __init__(self) -> None:
        super().__init__()
        self.second = Affine()
        self.scale = Parameter(np.array(2.0), name="scale")
        self.first = L.Linear(3, in_size=4, rng=np.random.default_rng(1))

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return self.second(self.first(x)) * self.scale


class NoSuper(Layer[[Variable], Variable]):
    """Forgets super().__init__(): registration must still work."""

    def __init__(self) -> None:
        self.w = Parameter(np.ones(1))

    @override
    def forward(self, x: Variable) -> Variable:
        return x * self.w


class LazyPair(Layer[[Variable | Arr], Variable]):
    """Two lazy linear layers: nothing exists before the first call."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(2)
        self.l0 = L.Linear(4, rng=rng)
        self.l1 = L.Linear(2, rng=rng)

    @override
    def forward(self, x: Variable | Arr) -> Variable:
        return self.l1(F.tanh(self.l0(x)))


class Nothing(Layer[[Variable], Variable]):
    """No forward at all."""


# -- registration ---------------------------------------------------------------------------------


def test_params_follow_assignment_order_not_names() -> None:
    layer = Affine()
    assert [name for name, _ in layer.named_params()] == ["c", "a", "b"]
    assert [p.name for p in layer.params()] == ["c", "a", "b"]
    assert all(type(p) is Parameter for p in layer.params())


def test_nested_names_are_depth_first_in_registration_order() -> None:
    net = Net()
    assert [name for name, _ in net.named_params()] == [
        "second/c",
        "second/a",
        "second/b",
        "scale",
        "first/W",
        "first/b",
    ]
    # Stable: the same order on every call, and reassigning keeps the original position.
    assert [name for name, _ in net.named_params()] == [name for name, _ in net.named_params()]
    net.second = Affine()
    net.scale = Parameter(np.array(5.0))
    assert [name for name, _ in net.named_params()][:4] == ["second/c", "second/a", "second/b", "scale"]
    assert next(p for k, p in net.named_params() if k == "scale").data == 5.0


def test_attribute_set_to_a_non_parameter_is_unregistered() -> None:
    layer = Affine()
    layer.a = None  # type: ignore[assignment]
    assert [name for name, _ in layer.named_params()] == ["c", "b"]
    layer.a = Parameter(np.ones((3, 2)))
    assert [name for name, _ in layer.named_params()] == ["c", "b", "a"]  # re-registered at the end


def test_plain_variables_and_lists_are_not_registered() -> None:
    layer = Affine()
    layer.v = Variable(np.ones(2))
    layer.many = [Parameter(np.ones(1))]
    assert [name for name, _ in layer.named_params()] == ["c", "a", "b"]


def test_parameter_reachable_under_two_names_is_yielded_once() -> None:
    net = Net()
    shared = net.second.a
    net.alias = shared
    net.second_again = net.second
    params = list(net.params())
    assert len(params) == len({id(p) for p in params}) == 6
    names = [name for name, _ in net.named_params()]
    assert names == ["second/c", "second/a", "second/b", "scale", "first/W", "first/b"]  # the first names
    assert sum(p is shared for p in params) == 1
    assert list(net.state_dict()) == names
    assert net.uninitialized() == []


def test_shared_parameter_round_trips_through_state_dict_under_its_first_name(tmp_path: Path) -> None:
    # The alias registered on the outer layer before the inner one must not change the key.
    net = Net()
    net.alias = net.first.W
    keys = list(net.state_dict())
    assert "alias" not in keys
    assert "first/W" in keys
    net.save_weights(tmp_path / "w.npz")
    other = Net()
    other.alias = other.first.W
    other.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(other.first.W.data, net.first.W.data)


def test_layer_without_super_init_still_registers() -> None:
    layer = NoSuper()
    assert [name for name, _ in layer.named_params()] == ["w"]


def test_deep_nesting_does_not_recurse() -> None:
    root: Layer[Any, Any] = NoSuper()
    depth = 2 * sys.getrecursionlimit()
    current = root
    for _ in range(depth):
        child = NoSuper()
        current.child = child
        current = child
    names = [name for name, _ in root.named_params()]
    assert len(names) == depth + 1
    assert names[-1] == "child/" * depth + "w"
    assert len(root.state_dict()) == depth + 1


def test_cleargrads_clears_every_parameter() -> None:
    net = Net()
    y = net(np.ones((2, 4)))
    y.sum().backward()
    assert all(p.grad is not None for p in net.params())
    net.cleargrads()
    assert all(p.grad is None for p in net.params())


def test_forward_must_be_defined() -> None:
    with pytest.raises(NotImplementedError, match="Nothing must define forward"):
        Nothing()(Variable(np.ones(1)))


def test_missing_attribute_is_a_plain_attribute_error() -> None:
    layer = Affine()
    with pytest.raises(AttributeError, match="'Affine' object has no attribute 'nope'") as info:
        _ = layer.nope  # type: ignore[attr-defined]
    assert not isinstance(info.value, UninitializedParameterError)


# -- lazy parameters --------------------------------------------------------------------------------


def test_lazy_parameter_read_before_creation_says_what_to_do() -> None:
    lin = L.Linear(3)
    assert not lin.is_initialized("W")
    assert lin.is_initialized("b")
    assert not hasattr(lin, "W")
    with pytest.raises(
        UninitializedParameterError, match=r"Linear\.W is created at the layer's first call"
    ) as info:
        _ = lin.W
    assert isinstance(info.value, AttributeError)
    assert isinstance(info.value, DezeroError)
    assert [name for name, _ in lin.named_params()] == ["b"]
    assert lin.uninitialized() == ["W"]


def test_lazy_parameter_name_only_takes_a_parameter() -> None:
    lin = L.Linear(3, in_size=2)
    for value in (np.ones((2, 3)), None):
        with pytest.raises(DezeroTypeError, match=r"Linear\.W is a parameter: assign a Parameter, got"):
            lin.W = value  # type: ignore[assignment]
    assert [name for name, _ in lin.named_params()] == ["W", "b"]
    lin.W = Parameter(np.zeros((2, 3)))
    assert [name for name, _ in lin.named_params()] == ["W", "b"]
    np.testing.assert_array_equal(lin(np.ones((1, 2))).data, np.zeros((1, 3)))


def test_lazy_parameter_keeps_its_declared_place() -> None:
    lin = L.Linear(3)
    lin(np.ones((1, 2)))
    assert [name for name, _ in lin.named_params()] == ["W", "b"]  # W declared first, created later
    assert lin.uninitialized() == []


def test_declaring_again_keeps_the_first_place() -> None:
    layer = Affine()
    layer.declare_lazy_parameter("z", (None,))
    layer.declare_lazy_parameter("c", (2,))  # an existing parameter becomes replaceable only by shape (2,)
    layer.declare_lazy_parameter("z", (3,))
    layer.set_lazy_parameter("z", np.ones(3))
    assert [name for name, _ in layer.named_params()] == ["c", "a", "b", "z"]
    with pytest.raises(ShapeError, match=r"Affine\.c: expected a shape like \(2,\), got \(3,\)"):
        layer.set_lazy_parameter("c", np.ones(3))


def test_set_lazy_parameter_checks_declaration_dtype_and_template() -> None:
    lin = L.Linear(3)
    singles = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(DezeroValueError, match="'V' was not declared"):
        lin.set_lazy_parameter("V", np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"Linear\.W: expected a shape like \('\?', 3\), got \(2, 4\)"):
        lin.set_lazy_parameter("W", np.ones((2, 4)))
    with pytest.raises(DezeroTypeError, match="float64"):
        lin.set_lazy_parameter("W", singles)  # type: ignore[arg-type]
    assert not lin.is_initialized("W")
    param = lin.set_lazy_parameter("W", np.ones((2, 3)))
    assert lin.W is param
    assert lin.in_size == 2


def test_uninitialized_lists_nested_lazy_names() -> None:
    model = LazyPair()
    assert model.uninitialized() == ["l0/W", "l1/W"]
    with pytest.raises(UninitializedParameterError, match=r"\['l0/W', 'l1/W'\] do not exist yet"):
        model.state_dict()
    model(np.ones((1, 3)))
    assert model.uninitialized() == []


# -- state ---------------------------------------------------------------------------------------------


def test_state_is_saved_but_not_a_parameter() -> None:
    layer = Affine()
    layer.set_state("count", np.zeros(2))
    singles = np.zeros(2, dtype=np.float32)
    assert [name for name, _ in layer.named_params()] == ["c", "a", "b"]
    assert list(layer.state_dict()) == ["c", "a", "b", "count"]
    assert layer.is_initialized("count")
    with pytest.raises(DezeroTypeError, match=r"Affine\.set_state\('count'\): expected a float64 ndarray"):
        layer.set_state("count", singles)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="Affine has no state 'other'"):
        layer.state("other")


def test_lazy_state_raises_until_set() -> None:
    layer = Affine()
    layer.declare_lazy_state("stat", (None, 2))
    assert layer.uninitialized() == ["stat"]
    with pytest.raises(
        UninitializedParameterError, match="state 'stat' is created at the layer's first call"
    ):
        layer.state("stat")
    with pytest.raises(ShapeError, match=r"Affine\.stat: expected a shape like \('\?', 2\), got \(3,\)"):
        layer.set_state("stat", np.zeros(3))
    layer.set_state("stat", np.zeros((5, 2)))
    assert layer.state("stat").shape == (5, 2)
    assert layer.uninitialized() == []


# -- state_dict / load_state_dict ----------------------------------------------------------------------


def test_state_dict_holds_copies_keyed_by_path() -> None:
    net = Net()
    state = net.state_dict()
    assert list(state) == ["second/c", "second/a", "second/b", "scale", "first/W", "first/b"]
    for key, param in net.named_params():
        np.testing.assert_array_equal(state[key], param.data)
        assert state[key] is not param.data
        assert state[key].dtype == np.float64
    state["scale"][...] = 100.0
    assert net.scale.data == 2.0


def test_load_state_dict_sets_values_and_converts_floats() -> None:
    net, other = Net(), Net()
    other.first.W.data = np.full((4, 3), 0.5)
    state: dict[str, Any] = dict(other.state_dict())
    state["first/W"] = state["first/W"].astype(np.float32)
    net.load_state_dict(state)
    for (k1, p1), (k2, p2) in zip(net.named_params(), other.named_params(), strict=True):
        assert k1 == k2
        assert p1.data.dtype == np.float64
        np.testing.assert_array_equal(p1.data, p2.data)
    state["first/W"][...] = 9.0
    assert not np.any(net.first.W.data == 9.0)  # the model owns copies


def _bad_state_dicts(net: Net) -> list[tuple[dict[str, Any], type[Exception], str]]:
    good: dict[str, Any] = net.state_dict()
    missing = {k: v for k, v in good.items() if k != "second/a"}
    unexpected = {**good, "extra/W": np.ones(2)}
    wrong_shape = {**good, "first/W": np.ones((3, 4))}
    int_array = {**good, "scale": np.array(1)}
    not_array = {**good, "second/b": [0.0, 0.0]}
    # the bad entry last: earlier entries must not have been written when it is found
    late_bad = {**good, "first/b": np.ones(5)}
    return [
        (missing, DezeroValueError, r"missing \['second/a'\], unexpected \[\]"),
        (unexpected, DezeroValueError, r"missing \[\], unexpected \['extra/W'\]"),
        (wrong_shape, ShapeError, r"'first/W' has shape \(3, 4\), the model expects \(4, 3\)"),
        (
            int_array,
            DezeroTypeError,
            r"'scale' must be a floating-point numpy.ndarray, got numpy.ndarray of dtype int",
        ),
        (not_array, DezeroTypeError, r"'second/b' must be a floating-point numpy.ndarray, got list"),
        (late_bad, ShapeError, r"'first/b' has shape \(5,\)"),
    ]


def test_bad_state_dicts_raise_and_leave_the_model_untouched() -> None:
    net = Net()
    source = Net()
    source.first.W.data = np.full((4, 3), 7.0)
    source.second.c.data = np.full(2, 7.0)
    before = snapshot(net)
    for state, error, pattern in _bad_state_dicts(source):
        with pytest.raises(error, match=pattern):
            net.load_state_dict(state)
        assert_same(before, snapshot(net))


def test_bad_state_dict_leaves_lazy_model_uninitialised() -> None:
    source = LazyPair()
    source(np.ones((1, 3)))
    state = source.state_dict()
    fresh = LazyPair()
    with pytest.raises(ShapeError, match=r"Linear\.W: expected a shape like \('\?', 2\), got \(4, 3\)"):
        fresh.load_state_dict({**state, "l1/W": np.ones((4, 3))})
    assert fresh.uninitialized() == ["l0/W", "l1/W"]
    with pytest.raises(DezeroValueError, match=r"missing \['l1/W'\]"):
        fresh.load_state_dict({k: v for k, v in state.items() if k != "l1/W"})
    assert fresh.uninitialized() == ["l0/W", "l1/W"]


def test_load_state_dict_creates_lazy_parameters() -> None:
    source = LazyPair()
    x = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    expected = source(x).data
    fresh = LazyPair()
    fresh.load_state_dict(source.state_dict())
    assert fresh.uninitialized() == []
    assert fresh.l0.in_size == 3
    np.testing.assert_array_equal(fresh(x).data, expected)


# -- weights files -------------------------------------------------------------------------------------


def test_save_and_load_weights_round_trip_with_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    net = Net()
    net.second.b.data = np.array([0.25, -4.0])
    net.save_weights("weights.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]  # no ".npz" appended, no temp file
    with zipfile.ZipFile(tmp_path / "weights.bin") as archive:
        assert sorted(archive.namelist()) == sorted(k + ".npy" for k in net.state_dict())
    other = Net()
    other.load_weights("weights.bin")
    for (_, p1), (_, p2) in zip(net.named_params(), other.named_params(), strict=True):
        np.testing.assert_array_equal(p1.data, p2.data)
    x = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(other(x).data, net(x).data)


def test_saving_an_uninitialised_lazy_model_raises_and_writes_nothing(tmp_path: Path) -> None:
    model = LazyPair()
    with pytest.raises(UninitializedParameterError, match="run the model once on an input before saving"):
        model.save_weights(tmp_path / "w.npz")
    assert list(tmp_path.iterdir()) == []


def test_loading_into_a_fresh_lazy_model_creates_the_parameters(tmp_path: Path) -> None:
    model = LazyPair()
    x = np.linspace(0.0, 1.0, 9).reshape(3, 3)
    y = model(x).data
    model.save_weights(tmp_path / "w.npz")
    fresh = LazyPair()
    fresh.load_weights(tmp_path / "w.npz")
    assert [k for k, _ in fresh.named_params()] == [k for k, _ in model.named_params()]
    np.testing.assert_array_equal(fresh(x).data, y)


_EXECUTED: list[str] = []


def _record() -> str:
    _EXECUTED.append("ran")
    return "payload"


class _Payload:
    @override
    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_record, ())


def test_loading_never_unpickles(tmp_path: Path) -> None:
    net = Net()
    path = tmp_path / "evil.npz"
    arrays: dict[str, Any] = dict(net.state_dict())
    arrays["scale"] = np.array([_Payload()], dtype=object)
    with open(path, "wb") as f:
        np.savez(f, **arrays)  # np.savez pickles object arrays
    assert b"_record" in path.read_bytes()
    pickle.loads(pickle.dumps(_Payload()))  # the payload does run when unpickled...
    assert _EXECUTED == ["ran"]
    before = snapshot(net)
    with pytest.raises(WeightsFileError, match=r"not a readable \.npz weights file"):
        net.load_weights(path)  # ... but never when loaded
    assert _EXECUTED == ["ran"]
    assert_same(before, snapshot(net))


def test_loading_a_file_of_another_model_names_the_keys(tmp_path: Path) -> None:
    lazy = LazyPair()
    lazy(np.ones((1, 3)))
    lazy.save_weights(tmp_path / "lazy.npz")
    net = Net()
    before = snapshot(net)
    with pytest.raises(DezeroValueError, match=r"missing \['second/c'.*unexpected \['l0/W', 'l0/b'"):
        net.load_weights(tmp_path / "lazy.npz")
    assert_same(before, snapshot(net))


def test_loading_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Net().load_weights(tmp_path / "nothing.npz")
