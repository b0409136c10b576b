"""Weights files in the safetensors format: save_safetensors / load_safetensors and the format
choice of Layer.save_weights / load_weights.

The promises are those of the .npz files (tests/test_io.py, tests/reliability/test_weights_limits.py):
an atomic replace that keeps the previous file on any failure, loading that never runs code, and a
file that does not hold exactly the expected arrays refused before any array is allocated. Damaged
files are built by hand (``build``), so that the header can lie about every field."""

from __future__ import annotations

import errno
import inspect
import json
import math
import os
import pathlib
import re
import stat
import struct
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pytest
import safetensors.numpy
from hypothesis import given
from hypothesis import strategies as st

import typed_dezero.layers as L
from typed_dezero import DezeroTypeError, DezeroValueError, WeightsFileError, _io
from typed_dezero._io import ArraySpec, load_npz, load_safetensors, save_safetensors, weights_format
from typed_dezero.models import MLP

MiB: Final = 1 << 20
EXTRA: Final = "pip install 'typed_dezero[safetensors]'"


def build(header: object, data: bytes = b"", *, length: int | None = None, raw: bytes | None = None) -> bytes:
    """A safetensors file: the 8-byte little-endian header length (`length`, or the true one), the
    header (`raw` bytes, or `header` as compact JSON), then `data`."""
    text = raw if raw is not None else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def f64(key: str, shape: list[int], start: int = 0, end: int | None = None) -> dict[str, object]:
    size = 8 * math.prod(shape)
    return {
        key: {"dtype": "F64", "shape": shape, "data_offsets": [start, start + size if end is None else end]}
    }


def sample() -> dict[str, npt.NDArray[Any]]:
    rng = np.random.default_rng(3)
    return {
        "l1/W": rng.standard_normal((3, 4)),
        "l1/b": np.zeros(4),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(rng.standard_normal((2, 3))),
        "strided": rng.standard_normal(10)[::3],
        "big-endian": np.arange(4.0).astype(">f8"),
        "névé/β": np.full((2, 2), 7.0),
    }


def assert_same(loaded: dict[str, npt.NDArray[Any]], original: dict[str, npt.NDArray[Any]]) -> None:
    assert sorted(loaded) == sorted(original)
    for key, value in original.items():
        assert loaded[key].dtype == np.float64, key
        assert loaded[key].shape == value.shape, key
        assert np.array_equal(loaded[key], value), key


def write(path: pathlib.Path, content: bytes) -> pathlib.Path:
    path.write_bytes(content)
    return path


# -- round trips and compatibility with the safetensors package -----------------------------------


def test_round_trip_keeps_names_shapes_and_values(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.safetensors"
    save_safetensors(path, sample())
    loaded = load_safetensors(path)
    assert_same(loaded, sample())
    for array in loaded.values():  # writable native copies, never views of the file's bytes
        assert array.flags.writeable
        assert array.flags.c_contiguous
        assert array.dtype.isnative
        array[...] = 0.0
    assert_same(load_safetensors(path), sample())


def test_the_safetensors_package_reads_our_files_and_we_read_its_files(tmp_path: pathlib.Path) -> None:
    ours = tmp_path / "ours.safetensors"
    save_safetensors(ours, sample())
    assert_same(safetensors.numpy.load(ours.read_bytes()), sample())
    theirs = tmp_path / "theirs.safetensors"
    arrays = {k: np.asarray(v, dtype=np.float64, order="C") for k, v in sample().items()}
    theirs.write_bytes(safetensors.numpy.save(arrays, metadata={"format": "np", "note": "by safetensors"}))
    assert_same(load_safetensors(theirs), sample())
    expected = {k: ArraySpec(v.shape) for k, v in sample().items()}
    assert_same(load_safetensors(theirs, expected=expected), sample())


def test_an_empty_mapping_round_trips(tmp_path: pathlib.Path) -> None:
    save_safetensors(tmp_path / "e", {})
    assert load_safetensors(tmp_path / "e") == {}
    assert load_safetensors(tmp_path / "e", expected={}) == {}


def test_layer_files_of_both_formats_hold_the_same_names_and_arrays(tmp_path: pathlib.Path) -> None:
    model = MLP((4, 3), rng=np.random.default_rng(0))
    model(np.ones((2, 5)))
    model.save_weights(tmp_path / "m.npz")
    model.save_weights(tmp_path / "m.safetensors")
    npz, st = load_npz(tmp_path / "m.npz"), load_safetensors(tmp_path / "m.safetensors")
    assert list(npz) == ["l0/W", "l0/b", "l1/W", "l1/b"]
    assert sorted(st) == sorted(npz)
    assert_same(st, npz)
    assert zipfile.is_zipfile(tmp_path / "m.npz")
    assert not zipfile.is_zipfile(tmp_path / "m.safetensors")
    copy = MLP((4, 3))  # lazy: every W is created from the file, with its shape
    copy.load_weights(tmp_path / "m.safetensors")
    assert_same(copy.state_dict(), model.state_dict())


def test_state_arrays_are_saved_and_loaded_too(tmp_path: pathlib.Path) -> None:
    bn = L.BatchNorm(channels=3)
    bn.set_state("avg_mean", np.arange(3.0))
    bn.save_weights(tmp_path / "bn.safetensors")
    copy = L.BatchNorm()
    copy.load_weights(tmp_path / "bn.safetensors")
    assert_same(copy.state_dict(), bn.state_dict())


# -- choosing the format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("w.safetensors", None, "safetensors"),
        ("W.SafeTensors", None, "safetensors"),
        ("w.npz", None, "npz"),
        ("w", None, "npz"),
        ("w.safetensors.bak", None, "npz"),
        ("w.npz", "safetensors", "safetensors"),
        ("w.safetensors", "npz", "npz"),
    ],
)
def test_the_format_is_the_argument_or_else_the_suffix(
    tmp_path: pathlib.Path, name: str, fmt: _io.WeightsFormat | None, expected: str
) -> None:
    assert weights_format("f", name, fmt) == expected
    layer = L.Linear(2, in_size=3)
    path = tmp_path / name
    layer.save_weights(path, format=fmt)
    assert os.listdir(tmp_path) == [name]  # the path is used as given: nothing is appended
    assert zipfile.is_zipfile(path) == (expected == "npz")
    copy = L.Linear(2)
    copy.load_weights(path, format=fmt)
    assert_same(copy.state_dict(), layer.state_dict())


def test_loading_in_the_other_format_is_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    layer = L.Linear(2, in_size=3)
    layer.save_weights(tmp_path / "w.npz")
    with pytest.raises(WeightsFileError, match=r"Linear.load_weights: .* not a readable \.safetensors"):
        layer.load_weights(tmp_path / "w.npz", format="safetensors")
    layer.save_weights(tmp_path / "w.safetensors")
    with pytest.raises(WeightsFileError, match=r"Linear.load_weights: .* not a readable \.npz"):
        layer.load_weights(tmp_path / "w.safetensors", format="npz")


def test_an_unknown_format_is_refused(tmp_path: pathlib.Path) -> None:
    layer = L.Linear(2, in_size=3)
    with pytest.raises(TypeError, match="format"):
        layer.save_weights(tmp_path / "w", format="pt")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="format"):
        layer.load_weights(tmp_path / "w", format="pt")  # type: ignore[arg-type]
    # the hand-written check, for when the runtime checker is off
    with pytest.raises(DezeroValueError, match="f: format must be 'npz', 'safetensors' or None, got 'pt'"):
        weights_format("f", "w", "pt")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


# -- what save_safetensors refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrays", "error", "match"),
    [
        (
            {"a": np.ones(2, dtype=np.float32)},
            DezeroTypeError,
            r"arrays\['a'\] has dtype float32; weights files hold float64 \(F64\)",
        ),
        ({"a": np.arange(2)}, DezeroTypeError, r"arrays\['a'\] has dtype int64"),
        ({"a": np.ones(2, dtype=np.complex64)}, DezeroTypeError, "dtype complex64"),
        ({"a": np.array([None])}, DezeroTypeError, "object arrays would need pickle"),
        ({"__metadata__": np.ones(1)}, DezeroValueError, "'__metadata__' is reserved"),
        ({"": np.ones(1)}, DezeroValueError, "keys must be non-empty str"),
    ],
)
def test_save_refuses_what_a_weights_file_cannot_hold_and_writes_nothing(
    tmp_path: pathlib.Path, arrays: dict[str, npt.NDArray[Any]], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match="save_safetensors: .*" + match):
        save_safetensors(tmp_path / "w.safetensors", {"ok": np.ones(1), **arrays})
    assert os.listdir(tmp_path) == []


def test_hand_written_checks_work_without_the_runtime_checker(tmp_path: pathlib.Path) -> None:
    raw = inspect.unwrap(save_safetensors)
    with pytest.raises(DezeroTypeError, match="save_safetensors: arrays must be a mapping"):
        raw(tmp_path / "w", [np.ones(1)])
    with pytest.raises(DezeroTypeError, match=r"save_safetensors: arrays\['a'\] must be a numpy.ndarray"):
        raw(tmp_path / "w", {"a": [1.0]})
    with pytest.raises(DezeroValueError, match="save_safetensors: keys must be non-empty str, got int"):
        raw(tmp_path / "w", {1: np.ones(1)})
    assert os.listdir(tmp_path) == []


def test_without_the_package_saving_names_the_extra_and_loading_still_works(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = L.Linear(2, in_size=3)
    layer.save_weights(tmp_path / "old.safetensors")
    before = (tmp_path / "old.safetensors").read_bytes()
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match="needs the safetensors package: " + re.escape(EXTRA)) as info:
        layer.save_weights(tmp_path / "old.safetensors")
    assert info.value.name == "safetensors"
    assert isinstance(info.value.__cause__, ImportError)
    assert (tmp_path / "old.safetensors").read_bytes() == before
    assert os.listdir(tmp_path) == ["old.safetensors"]
    layer.save_weights(tmp_path / "w.npz")  # the .npz format needs nothing
    copy = L.Linear(2)
    copy.load_weights(tmp_path / "old.safetensors")  # read by typed_dezero's own parser
    assert_same(copy.state_dict(), layer.state_dict())


# -- atomic replace --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "interrupt"],
)
def test_a_failing_write_keeps_the_previous_file_and_removes_the_temporary(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    path = tmp_path / "w.safetensors"
    save_safetensors(path, {"W": np.arange(4.0)})
    before = path.read_bytes()

    def half(file: Any, content: bytes) -> None:
        file.write(content[: len(content) // 2])  # some bytes are out when the disk fills
        raise error

    monkeypatch.setattr(_io, "_write_bytes", half)
    with pytest.raises(type(error)):
        save_safetensors(path, {"W": np.zeros(4), "b": np.ones(2)})
    with pytest.raises(type(error)):
        save_safetensors(tmp_path / "new.safetensors", {"W": np.zeros(4)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.parametrize("stage", ["fsync", "replace"])
def test_a_failing_fsync_or_rename_keeps_the_previous_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    path = tmp_path / "w.safetensors"
    L.Linear(2, in_size=3).save_weights(path)
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, f"{stage} failed")

    monkeypatch.setattr(os, stage, fail)
    with pytest.raises(OSError, match=f"{stage} failed"):
        L.Linear(5, in_size=3).save_weights(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and symbolic links")
def test_saving_through_a_symlink_keeps_the_link_and_the_permissions(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "real.safetensors"
    save_safetensors(target, {"a": np.ones(1)})
    target.chmod(0o600)
    link = tmp_path / "w.safetensors"
    link.symlink_to("real.safetensors")
    save_safetensors(link, {"a": np.zeros(3)})
    assert link.is_symlink()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert_same(load_safetensors(target), {"a": np.zeros(3)})
    assert sorted(os.listdir(tmp_path)) == ["real.safetensors", "w.safetensors"]


def test_a_missing_file_or_folder_is_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        save_safetensors(tmp_path / "no" / "w.safetensors", {"a": np.ones(1)})
    with pytest.raises(FileNotFoundError):
        load_safetensors(tmp_path / "absent.safetensors")
    with pytest.raises(FileNotFoundError):
        L.Linear(2).load_weights(tmp_path / "absent.safetensors")


# -- damaged and foreign files ---------------------------------------------------------------------

GOOD: Final = build(f64("a", [2]), np.arange(2.0).tobytes())


def entry(shape: object, offsets: object, dtype: object = "F64", **extra: object) -> dict[str, object]:
    return {"dtype": dtype, "shape": shape, "data_offsets": offsets, **extra}


GIANT: Final = [1 << 40, 1 << 40]

CORRUPT: Final[dict[str, tuple[bytes, str]]] = {
    "empty": (b"", "holds 0 bytes, fewer than the 8"),
    "short length": (b"\x10\x00\x00", "holds 3 bytes"),
    "giant header length": (build({}, length=1 << 62), "declares a 4611686018427387904-byte header"),
    "header past the end": (build({}, length=40), "ends inside its 40-byte header"),
    "not utf-8": (build(None, raw=b'{"\xff":1}'), "not JSON .UnicodeDecodeError"),
    "not JSON": (build(None, raw=b"{'a': 1}"), "not JSON .JSONDecodeError"),
    "NaN": (build(None, raw=b'{"a":NaN}'), "NaN is not JSON"),
    "duplicate name": (build(None, raw=b'{"a":{},"a":{}}'), "the name 'a' appears twice"),
    "a list": (build([1, 2]), "header is not a JSON object but list"),
    "entry not an object": (build({"a": [1]}), "tensor 'a' is not described by exactly dtype"),
    "extra field": (build({"a": entry([], [0, 8], x=1)}, bytes(8)), "tensor 'a' is not described"),
    "negative size": (build({"a": entry([-1], [0, 0])}), r"invalid shape \[-1\]"),
    "float size": (build({"a": entry([2.0], [0, 16])}, bytes(16)), r"invalid shape \[2.0\]"),
    "bool size": (build({"a": entry([True], [0, 8])}, bytes(8)), r"invalid shape \[True\]"),
    "shape not a list": (build({"a": entry(2, [0, 16])}, bytes(16)), "invalid shape 2"),
    "three offsets": (build({"a": entry([1], [0, 8, 8])}, bytes(8)), "invalid data_offsets"),
    "negative offset": (build({"a": entry([1], [-8, 0])}, bytes(8)), "invalid data_offsets"),
    "offsets not a list": (build({"a": entry([1], "0:8")}, bytes(8)), "invalid data_offsets '0:8'"),
    "metadata not an object": (
        build({"__metadata__": [1]} | f64("a", [1]), bytes(8)),
        "'__metadata__' is not an object of strings",
    ),
    "metadata of numbers": (build({"__metadata__": {"n": 1}} | f64("a", [1]), bytes(8)), "'__metadata__'"),
    "giant shape": (build(f64("a", GIANT), bytes(8)), r"shape \(1099511627776, 1099511627776\), too large"),
    "65 dimensions": (build(f64("a", [1] * 65), bytes(8)), "too large for any array"),
    "size and offsets disagree": (
        build(f64("a", [2], 0, 8), bytes(8)),
        r"data_offsets \[0, 8\], but shape \(2,\) of F64 takes 16",
    ),
    "end before start": (build(f64("a", [0], 8, 0)), r"data_offsets \[8, 0\]"),
    "overlap": (
        build(f64("a", [2]) | f64("b", [2], 8), bytes(24)),
        "tensor 'b' starts at data byte 8, not 16",
    ),
    "gap": (build(f64("a", [1]) | f64("b", [1], 16), bytes(24)), "tensor 'b' starts at data byte 16, not 8"),
    "not from 0": (build(f64("a", [1], 8), bytes(16)), "tensor 'a' starts at data byte 8, not 0"),
    "truncated data": (build(f64("a", [2]), bytes(12)), "its tensors take 16 bytes, but 12 follow"),
    "trailing bytes": (build(f64("a", [2]), bytes(17)), "its tensors take 16 bytes, but 17 follow"),
    "an npz archive": (b"PK\x03\x04" + bytes(200), "ends inside its 67324752-byte header"),
}


@pytest.mark.parametrize("label", list(CORRUPT))
def test_a_damaged_file_is_a_weights_file_error_naming_the_problem(
    tmp_path: pathlib.Path, label: str
) -> None:
    content, detail = CORRUPT[label]
    path = write(tmp_path / "w.safetensors", content)
    with pytest.raises(
        WeightsFileError, match="load_safetensors: .* is not a readable .safetensors weights file .*" + detail
    ):
        load_safetensors(path)


def test_a_deeply_nested_header_is_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path / "w", build(None, raw=b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    with pytest.raises(WeightsFileError, match=r"not JSON \(RecursionError"):
        load_safetensors(path)


def test_every_truncation_of_a_file_is_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.safetensors"
    save_safetensors(path, {"W": np.ones((2, 3)), "b": np.zeros(3)})
    content = path.read_bytes()
    for keep in range(len(content)):
        write(path, content[:keep])
        with pytest.raises(WeightsFileError, match="not a readable"):
            load_safetensors(path)
        with pytest.raises(WeightsFileError, match="not a readable"):
            L.Linear(3).load_weights(path)


def test_other_dtypes_do_not_fit(tmp_path: pathlib.Path) -> None:
    for dtype in ("F32", "I64", "BF16", 5):
        path = write(
            tmp_path / "w", build({"a": {"dtype": dtype, "shape": [2], "data_offsets": [0, 16]}}, bytes(16))
        )
        with pytest.raises(
            WeightsFileError,
            match=f"load_safetensors: .* does not fit: 'a' has dtype {dtype!r}, expected 'F64'",
        ):
            load_safetensors(path)
    single = tmp_path / "single.safetensors"
    single.write_bytes(
        safetensors.numpy.save({"W": np.ones((3, 2), dtype=np.float32), "b": np.ones(2, dtype=np.float32)})
    )
    with pytest.raises(WeightsFileError, match=r"Linear.load_weights: .* does not fit: 'W' has dtype 'F32'"):
        L.Linear(2).load_weights(single)


# -- validation against the model, before allocating -----------------------------------------------


def test_names_and_shapes_that_do_not_fit_the_model_are_refused_and_the_model_is_untouched(
    tmp_path: pathlib.Path,
) -> None:
    layer = L.Linear(2, in_size=3)
    before = layer.state_dict()
    cases: dict[str, tuple[dict[str, npt.NDArray[Any]], str]] = {
        "unexpected": (
            {"W": np.ones((3, 2)), "b": np.ones(2), "x": np.ones(1)},
            r"missing \[\], unexpected \['x'\]",
        ),
        "missing": ({"W": np.ones((3, 2))}, r"missing \['b'\], unexpected \[\]"),
        "shape": (
            {"W": np.ones((4, 2)), "b": np.ones(2)},
            r"does not fit: 'W' has shape \(4, 2\), expected \(3, 2\)",
        ),
    }
    for arrays, detail in cases.values():
        save_safetensors(tmp_path / "w.safetensors", arrays)
        with pytest.raises(WeightsFileError, match="Linear.load_weights: .*" + detail):
            layer.load_weights(tmp_path / "w.safetensors")
        assert_same(layer.state_dict(), before)
    lazy = L.Linear(2)
    save_safetensors(tmp_path / "w.safetensors", {"W": np.ones((0, 2)), "b": np.ones(2)})
    with pytest.raises(WeightsFileError, match=r"'W' has shape \(0, 2\), expected a shape like \('\?', 2\)"):
        lazy.load_weights(tmp_path / "w.safetensors")
    assert lazy.uninitialized() == ["W"]


def _peak_while(action: Callable[[], object]) -> int:
    """The peak of memory traced while `action` raises a WeightsFileError."""
    tracemalloc.start()
    try:
        with pytest.raises(WeightsFileError):
            action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_tiny_file_declaring_a_giant_tensor_is_refused_before_allocating(tmp_path: pathlib.Path) -> None:
    giant = [1 << 20, 1 << 10]  # 8 GiB of float64
    path = write(tmp_path / "w", build(f64("W", giant) | f64("b", [2], 8 << 30), bytes(16)))
    assert _peak_while(lambda: L.Linear(2).load_weights(path)) < MiB  # lazy: sizes open
    assert _peak_while(lambda: L.Linear(2, in_size=3).load_weights(path)) < MiB
    assert _peak_while(lambda: load_safetensors(path)) < MiB


def test_a_file_far_larger_than_the_model_needs_is_refused_before_reading_it(tmp_path: pathlib.Path) -> None:
    layer = L.Linear(2, in_size=3)
    path = tmp_path / "w.safetensors"
    layer.save_weights(path)
    with path.open("ab") as file:
        file.write(bytes(64 * MiB))
    peak = _peak_while(lambda: layer.load_weights(path))
    assert peak < 2 * MiB
    with pytest.raises(
        WeightsFileError, match=r"larger than any file holding the expected arrays can be \(\d+ bytes\)"
    ):
        layer.load_weights(path)


def test_a_header_longer_than_the_expected_names_need_is_refused_before_reading_it(
    tmp_path: pathlib.Path,
) -> None:
    layer = L.Linear(2)  # lazy: the file's size is open, its header's is not
    header = json.dumps(f64("W", [3, 2]) | f64("b", [2], 48)).encode() + b" " * (1 << 17)
    path = write(tmp_path / "w.safetensors", build(None, bytes(64), raw=header))
    with pytest.raises(WeightsFileError, match=r"declares a \d+-byte header; at most \d+ are read"):
        layer.load_weights(path)
    assert layer.uninitialized() == ["W"]
    assert_same(load_safetensors(path), {"W": np.zeros((3, 2)), "b": np.zeros(2)})  # nothing expected: read


def test_expected_specs_are_checked(tmp_path: pathlib.Path) -> None:
    save_safetensors(tmp_path / "w", {"a": np.ones(2)})
    with pytest.raises(DezeroTypeError, match="load_safetensors: expected must map str to ArraySpec"):
        inspect.unwrap(load_safetensors)(tmp_path / "w", expected={"a": (2,)})
    optional = {"a": ArraySpec((2,)), "b": ArraySpec((3,), required=False)}
    assert_same(load_safetensors(tmp_path / "w", expected=optional), {"a": np.ones(2)})


VALID: Final = safetensors.numpy.save({"W": np.ones((2, 3)), "b": np.ones(3), "s": np.array(1.0)})


@given(
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    expect=st.booleans(),
)
def test_damaged_files_load_or_raise_weights_file_error(
    tmp_path_factory: pytest.TempPathFactory, cut: int, flips: list[tuple[int, int]], expect: bool
) -> None:
    data = bytearray(VALID)
    for where, value in flips:
        data[where % len(data)] = value
    path = tmp_path_factory.mktemp("fuzz") / "w.safetensors"
    path.write_bytes(bytes(data[: len(data) - cut % len(data)]))
    specs = {"W": ArraySpec((None, 3)), "b": ArraySpec((3,)), "s": ArraySpec(())} if expect else None
    try:
        loaded = load_safetensors(path, expected=specs)
    except WeightsFileError as error:
        message = str(error)
    else:
        assert all(a.dtype == np.float64 and a.flags.writeable for a in loaded.values())
        message = f"{path} loaded"
    assert str(path) in message
