"""Weights files: atomic .npz writes, paths used as given, loading that never unpickles and turns
damaged or foreign files into WeightsFileError."""

from __future__ import annotations

import errno
import inspect
import io
import os
import pathlib
import pickle
import stat
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from typed_dezero import DezeroError, DezeroTypeError, DezeroValueError
from typed_dezero._io import WeightsFileError, load_npz, save_npz

EXECUTED: list[str] = []


def _record_execution(what: str) -> str:
    EXECUTED.append(what)
    return what


class Payload:
    """Unpickling this runs `_record_execution`: the stand-in for malicious code in a pickle."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _record_execution, ("payload ran",)


def sample_arrays() -> dict[str, npt.NDArray[Any]]:
    rng = np.random.default_rng(1)
    return {
        "W": rng.standard_normal((3, 4)),
        "b": np.zeros(4),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3)),
        "ints": np.arange(6, dtype=np.int64).reshape(2, 3),
        "singles": np.ones(2, dtype=np.float32),
        "flags": np.array([True, False]),
        "fortran": np.asfortranarray(rng.standard_normal((2, 3))),
        "strided": rng.standard_normal(10)[::3],
        "v/0": np.full((2, 2), 7.0),
        # names np.savez(file, *args, allow_pickle=..., **kwds) could not take as keywords
        "file": np.array([1.0]),
        "allow_pickle": np.array([2.0]),
    }


def assert_same(loaded: dict[str, npt.NDArray[Any]], original: dict[str, npt.NDArray[Any]]) -> None:
    assert sorted(loaded) == sorted(original)
    for key, value in original.items():
        assert loaded[key].dtype == value.dtype, key
        assert loaded[key].shape == value.shape, key
        assert np.array_equal(loaded[key], value), key


@pytest.mark.parametrize("compress", [True, False])
def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path: pathlib.Path, compress: bool) -> None:
    arrays = sample_arrays()
    path = tmp_path / "model.npz"
    save_npz(path, arrays, compress=compress)
    assert_same(load_npz(path), arrays)
    assert_same(load_npz(str(path)), arrays)
    # The files are ordinary .npz archives.
    with np.load(path, allow_pickle=False) as npz:
        assert_same({key: npz[key] for key in npz.files}, arrays)


def test_loaded_arrays_are_independent_and_writable(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.npz"
    save_npz(path, {"a": np.ones(3)})
    first, second = load_npz(path)["a"], load_npz(path)["a"]
    first += 1.0
    assert np.array_equal(second, np.ones(3))


def test_empty_mapping_round_trips(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "empty.npz"
    save_npz(path, {})
    assert load_npz(path) == {}


def test_path_is_used_exactly_as_given(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    save_npz("weights.bin", {"a": np.ones(2)})
    save_npz("no_suffix", {"a": np.ones(2)})
    save_npz(pathlib.Path("sub.npz.bak"), {"a": np.ones(2)})
    assert sorted(os.listdir(tmp_path)) == ["no_suffix", "sub.npz.bak", "weights.bin"]
    assert np.array_equal(load_npz("weights.bin")["a"], np.ones(2))


def test_overwrite_replaces_the_previous_content(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.npz"
    save_npz(path, {"old": np.ones(2)})
    save_npz(path, {"new": np.zeros(3)})
    assert_same(load_npz(path), {"new": np.zeros(3)})
    assert os.listdir(tmp_path) == ["w.npz"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_file_gets_the_usual_permissions(tmp_path: pathlib.Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "w.npz"
    save_npz(path, {"a": np.ones(1)})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def _fail_on_second_array(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    real = np.lib.format.write_array
    calls = [0]

    def failing(fp: Any, array: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            fp.write(b"\x93NUMPY half an array")  # some bytes are already out when the disk fills
            raise error
        real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "interrupt"],
)
def test_failing_write_keeps_the_previous_file_and_removes_the_temporary(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    path = tmp_path / "weights.npz"
    save_npz(path, {"W": np.arange(4.0)})
    before = path.read_bytes()
    _fail_on_second_array(monkeypatch, error)
    with pytest.raises(type(error)):
        save_npz(path, {"W": np.zeros(4), "b": np.ones(2), "c": np.ones(1)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["weights.npz"]
    monkeypatch.undo()
    assert_same(load_npz(path), {"W": np.arange(4.0)})


def test_failing_write_of_a_new_file_leaves_nothing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_on_second_array(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError, match="No space left"):
        save_npz(tmp_path / "new.npz", {"a": np.ones(2), "b": np.ones(2)})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("stage", ["fsync", "replace"])
def test_failing_fsync_or_rename_keeps_the_previous_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    path = tmp_path / "weights.npz"
    save_npz(path, {"W": np.arange(4.0)})
    before = path.read_bytes()

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, f"{stage} failed")

    monkeypatch.setattr(os, stage, fail)
    with pytest.raises(OSError, match=f"{stage} failed"):
        save_npz(path, {"W": np.zeros(4)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["weights.npz"]


def test_missing_folder_is_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        save_npz(tmp_path / "no" / "w.npz", {"a": np.ones(1)})
    assert os.listdir(tmp_path) == []


def test_save_rejects_object_arrays_non_arrays_and_empty_names(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.npz"
    with pytest.raises(DezeroTypeError, match=r"save_npz: arrays\['o'\] has dtype object; object arrays"):
        save_npz(path, {"o": np.array([{}], dtype=object)})
    with pytest.raises(DezeroTypeError, match=r"save_npz: arrays\['x'\] must be a numpy.ndarray, got list"):
        save_npz(path, {"ok": np.ones(1), "x": [1.0]})  # type: ignore[dict-item]
    with pytest.raises(DezeroValueError, match="save_npz: keys must be non-empty str, got str"):
        save_npz(path, {"": np.ones(1)})
    assert os.listdir(tmp_path) == []


class BytesPath:
    def __fspath__(self) -> bytes:
        return b"w.npz"


def test_paths_must_be_str_or_pathlike_of_str() -> None:
    with pytest.raises(DezeroTypeError, match=r"save_npz: path must be a str or an os\.PathLike"):
        save_npz(BytesPath(), {"a": np.ones(1)})  # type: ignore[arg-type]
    with pytest.raises(DezeroTypeError, match=r"load_npz: path must be a str or an os\.PathLike"):
        load_npz(BytesPath())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_npz(b"w.npz")  # type: ignore[arg-type]


def test_missing_file_stays_file_not_found(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "absent.npz")


def _valid_bytes(compress: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        for key, value in {"W": np.arange(40.0).reshape(5, 8), "b": np.ones(8)}.items():
            with archive.open(key + ".npy", "w") as member:
                np.lib.format.write_array(member, value)
    return buffer.getvalue()


def _expect_weights_error(path: pathlib.Path, match: str) -> WeightsFileError:
    with pytest.raises(WeightsFileError, match=match) as info:
        load_npz(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, DezeroError)
    return info.value


@pytest.mark.parametrize("keep", [0, 10, 100, 300, -60, -1])
def test_truncated_file_is_a_weights_file_error(tmp_path: pathlib.Path, keep: int) -> None:
    data = _valid_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:keep])
    _expect_weights_error(path, "is not a readable .npz weights file")


def test_random_bytes_are_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    _expect_weights_error(path, r"BadZipFile: File is not a zip file")


def test_npy_file_is_not_an_npz(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "single.npy"
    np.save(path, np.ones(3))
    _expect_weights_error(path, "BadZipFile")


def test_zip_without_npy_members_is_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "docs.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    _expect_weights_error(path, r"member 'readme.txt' is not a '<name>.npy' array")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(".npy", "x")
    _expect_weights_error(path, r"member '.npy' is not")


def test_member_that_is_not_an_array_is_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "fake.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("W.npy", b"not an array at all")
    _expect_weights_error(path, "ValueError")


def test_duplicate_members_are_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "twice.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("W.npy", _npy_bytes(np.ones(2)))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("W.npy", _npy_bytes(np.zeros(2)))
    _expect_weights_error(path, "member 'W.npy' appears twice")


def _npy_bytes(array: npt.NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_pickled_object_array_is_refused_and_never_run(tmp_path: pathlib.Path) -> None:
    payload = np.empty(1, dtype=object)
    payload[0] = Payload()
    path = tmp_path / "evil.npz"
    np.savez(path, W=np.ones(2), evil=payload)  # np.savez pickles object arrays
    EXECUTED.clear()
    with np.load(path, allow_pickle=True) as npz:  # the payload is real: unpickling runs it
        _ = npz["evil"]
    assert EXECUTED == ["payload ran"]
    EXECUTED.clear()
    _expect_weights_error(path, "Object arrays cannot be loaded when allow_pickle=False")
    assert EXECUTED == []


def test_plain_pickle_file_is_refused_and_never_run(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Payload()))
    EXECUTED.clear()
    _expect_weights_error(path, "BadZipFile")
    assert EXECUTED == []


def test_corrupt_compressed_member_is_a_weights_file_error(tmp_path: pathlib.Path) -> None:
    data = bytearray(_valid_bytes(compress=True))
    middle = data.index(b"b.npy") - 40  # inside W's deflate stream
    data[middle : middle + 8] = b"\xff" * 8
    path = tmp_path / "bad.npz"
    path.write_bytes(bytes(data))
    _expect_weights_error(path, "is not a readable .npz weights file")


@given(
    cut=st.integers(0, 2000),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6),
    compress=st.booleans(),
)
def test_damaged_files_load_or_raise_weights_file_error(
    tmp_path_factory: pytest.TempPathFactory, cut: int, flips: list[tuple[int, int]], compress: bool
) -> None:
    data = bytearray(_valid_bytes(compress))
    for where, value in flips:
        data[where % len(data)] = value
    path = tmp_path_factory.mktemp("fuzz") / "w.npz"
    path.write_bytes(bytes(data[: len(data) - cut % len(data)]))
    try:
        load_npz(path)
    except WeightsFileError as error:
        message = str(error)
    else:
        message = f"{path} loaded"
    assert str(path) in message


def test_hand_written_checks_work_without_the_runtime_checker(tmp_path: pathlib.Path) -> None:
    raw = inspect.unwrap(save_npz)
    with pytest.raises(
        DezeroTypeError, match=r"save_npz: arrays must be a mapping of str to numpy arrays, got list"
    ):
        raw(tmp_path / "w.npz", [np.ones(1)])
    with pytest.raises(DezeroValueError, match="save_npz: keys must be non-empty str, got int"):
        raw(tmp_path / "w.npz", {1: np.ones(1)})
    assert os.listdir(tmp_path) == []
