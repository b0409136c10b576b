"""Regression tests for the library fixes the reliability work made (each found by the fuzzing in
test_fuzz_*.py; docs/reliability.md lists them)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Parameter, Variable, test_mode
from typed_dezero._io import load_npz, save_npz
from typed_dezero.errors import DezeroTypeError, DezeroValueError, ShapeError
from typed_dezero.optimizers import SGD, Adam, ClipGrad, MomentumSGD

from .harness import address_space_cap, snapshot

HUGE_INT = 10**400  # beyond the float64 range: float(HUGE_INT) raises OverflowError


# -- functions --------------------------------------------------------------------------------------


def test_get_item_checks_slices_itself() -> None:
    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(
        DezeroTypeError,
        match=r"get_item: the bounds of a slice in the index must be ints or None, got slice\(0.5",
    ):
        F.get_item(x, slice(0.5, 2))
    with pytest.raises(DezeroTypeError, match="get_item: the bounds of a slice"):
        F.get_item(x, (0, slice("a", None)))
    with pytest.raises(DezeroValueError, match=r"get_item: the step of a slice in the index cannot be zero"):
        F.get_item(x, slice(None, None, 0))
    # What NumPy accepts still works: NumPy integers and bools as bounds, negative steps.
    assert F.get_item(x, slice(np.int64(1), 3)).shape == (2, 4)
    assert F.get_item(x, slice(None, None, -1)).shape == (3, 4)


def test_flatten_of_an_empty_batch() -> None:
    assert F.flatten(np.zeros((0, 3, 2))).shape == (0, 6)


def test_reshape_checks_every_entry_of_the_shape() -> None:
    x = np.zeros(6)
    unchecked: Callable[..., object] = inspect.unwrap(F.reshape)  # as with runtime checks off
    for shape in [(3, 2.0), (2.0, 3), (3, None), (np.int64(3), 2), (3, (2,))]:
        with pytest.raises(DezeroTypeError, match=r"^reshape: shape must be a tuple of ints"):
            unchecked(x, shape)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("conv2d", lambda: F.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), pad=10**9)),
        ("conv2d", lambda: F.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), pad=2**70)),
        ("deconv2d", lambda: F.deconv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=10**9)),
        ("im2col", lambda: F.im2col(np.ones((1, 1, 3, 3)), 1, pad=10**9)),
        ("average_pooling", lambda: F.average_pooling(np.ones((1, 1, 3, 3)), 2, pad=2**62)),
        ("col2im", lambda: F.col2im(np.ones((1, 9)), (1, 1, 2**31, 2**31), 1)),
    ],
)
def test_convolutions_refuse_arrays_too_large_to_exist_by_name(name: str, call: Callable[[], object]) -> None:
    with (
        address_space_cap(),
        pytest.raises(ShapeError, match=rf"^{name}: the .* would have shape .* too large"),
    ):
        call()


def test_clip_and_batch_norm_refuse_ints_beyond_the_float_range() -> None:
    with pytest.raises(DezeroValueError, match=r"clip: x_max must be a float64 number, got an int beyond"):
        F.clip(np.ones(2), 0.0, HUGE_INT)
    with pytest.raises(DezeroValueError, match=r"batch_norm: eps must be a finite number > 0"):
        F.batch_norm(np.ones((2, 1)), np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), 0.9, HUGE_INT)
    with pytest.raises(DezeroValueError, match=r"BatchNorm: eps must be a finite number > 0"):
        L.BatchNorm(eps=HUGE_INT)
    assert F.clip(np.array([-5.0, 5.0]), -(2**70), 2**70).data.tolist() == [-5.0, 5.0]  # big but finite


def test_weights_paths_with_a_nul_character_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DezeroValueError, match=r"save_npz: path must not contain a NUL character"):
        save_npz(str(tmp_path / "a\0b.npz"), {"W": np.ones(1)})
    with pytest.raises(DezeroValueError, match=r"load_npz: path must not contain a NUL character"):
        load_npz(str(tmp_path / "a\0b.npz"))
    assert list(tmp_path.iterdir()) == []


# -- optimizers -------------------------------------------------------------------------------------


def test_hyper_parameters_beyond_the_float_range_are_value_errors() -> None:
    with pytest.raises(DezeroValueError, match=r"SGD: lr must be > 0, got 1000"):
        SGD(lr=HUGE_INT)
    opt = MomentumSGD()
    with pytest.raises(DezeroValueError, match=r"MomentumSGD: momentum must be in \[0, 1\)"):
        opt.momentum = HUGE_INT
    assert opt.momentum == 0.9


class Two(L.Layer[[Variable], Variable]):
    def __init__(self) -> None:
        super().__init__()
        self.a = Parameter(np.array([1.0, 2.0]))
        self.b = Parameter(np.array([3.0]))


def _with_grads(model: Two, value: float) -> Two:
    for p in model.params():
        p.grad = Variable(np.full(p.shape, value))
    return model


def test_a_failing_hook_leaves_parameters_state_and_step_count_unchanged() -> None:
    model = _with_grads(Two(), 1.0)
    opt = Adam().setup(model)
    opt.update()
    opt.add_hook(ClipGrad(1.0))
    _with_grads(model, np.nan)
    watched = (model, opt)
    before = snapshot(watched)
    with pytest.raises(DezeroValueError, match="ClipGrad: the gradients' global norm is nan"):
        opt.update()
    assert opt.t == 1
    assert snapshot(watched) == before


def test_a_parameter_whose_shape_changed_stops_the_update_before_any_change() -> None:
    model = _with_grads(Two(), 1.0)
    opt = MomentumSGD().setup(model)
    opt.update()
    model.b.data = np.ones(2)  # the second parameter no longer fits its velocity
    _with_grads(model, 1.0)
    watched = (model, opt)
    before = snapshot(watched)
    with pytest.raises(
        ShapeError, match=r"MomentumSGD.update: the parameter's shape changed since its state"
    ):
        opt.update()
    assert snapshot(watched) == before  # the first parameter was not updated either


# -- layers -----------------------------------------------------------------------------------------


def test_inputs_without_features_or_channels_are_shape_errors() -> None:
    with pytest.raises(
        ShapeError, match=r"Linear: the input needs at least one feature .* got shape \(2, 0\)"
    ):
        L.Linear(3)(np.ones((2, 0)))
    with pytest.raises(ShapeError, match=r"LSTM|Linear: the input needs at least one feature"):
        L.LSTM(3)(np.ones((2, 0)))
    with pytest.raises(ShapeError, match=r"Conv2d: the images need at least one channel"):
        L.Conv2d(3, 1)(np.ones((2, 0, 4, 4)))


def _first_call_fails(make: Callable[[], L.Layer[..., Any]], bad: object, good: object) -> None:
    layer = make()
    before = snapshot(layer)
    call: Callable[[object], object] = layer
    with pytest.raises(ShapeError):
        call(bad)
    assert snapshot(layer) == before  # no lazy parameter or state created, the generator rewound
    assert layer.uninitialized() != []
    fresh: Callable[[object], object] = make()
    call(good)
    fresh(good)
    for key, value in make_state(layer).items():
        assert np.array_equal(value, make_state(fresh)[key]), key  # the same draws as a fresh layer


def make_state(layer: object) -> dict[str, Any]:
    assert isinstance(layer, L.Layer)
    return layer.state_dict()


def test_a_failed_first_call_leaves_a_lazy_layer_uninitialised() -> None:
    _first_call_fails(
        lambda: L.Conv2d(2, 5, rng=np.random.default_rng(3)), np.ones((1, 3, 3, 3)), np.ones((1, 3, 6, 6))
    )
    _first_call_fails(
        lambda: L.Deconv2d(2, 3, pad=2, rng=np.random.default_rng(3)),
        np.ones((1, 3, 2, 2)),
        np.ones((1, 3, 6, 6)),
    )
    _first_call_fails(L.BatchNorm, np.ones((1, 3)), np.ones((4, 3)))
    with test_mode():
        _first_call_fails(L.BatchNorm, np.ones((2, 3, 4)), np.ones((2, 3)))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: L.Linear(2**62), r"Linear: b \(out_size,\) would have shape \(4611686018427387904,\)"),
        (lambda: L.Linear(3, in_size=2**61), r"Linear: W \(in_size, out_size\) would have shape"),
        (lambda: L.EmbedID(10**12, 10**12), r"EmbedID: W \(in_size, out_size\) would have shape"),
        (lambda: L.BatchNorm(channels=2**70), r"BatchNorm: gamma \(channels,\) would have shape"),
        (lambda: L.Conv2d(2**62, 3), r"Conv2d: b \(out_channels,\) would have shape"),
        (lambda: L.Conv2d(4, 3, in_channels=2**60), r"Conv2d: W \(out_channels, in_channels, KH, KW\)"),
    ],
)
def test_layers_refuse_parameters_too_large_to_exist_by_name(make: Callable[[], object], match: str) -> None:
    with address_space_cap(), pytest.raises(DezeroValueError, match=match):
        make()


def test_sizes_must_be_ints_not_bools() -> None:
    unchecked: Callable[..., object] = inspect.unwrap(L.EmbedID.__init__)
    with pytest.raises(DezeroTypeError, match=r"EmbedID: in_size must be an int, got bool \(True\)"):
        L.EmbedID(True, 2)
    with pytest.raises(DezeroTypeError, match=r"EmbedID: out_size must be an int, got float"):
        unchecked(object.__new__(L.EmbedID), 2, 2.0)
