"""Weights files: atomic .npz writes, paths used as given, loading that never unpickles and turns
damaged or foreign files into WeightsFileError."""

from __future__ import annotations

import _thread
import errno
import inspect
import io
import os
import pathlib
import pickle
import secrets
import stat
import time
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from typed_dezero import DezeroError, DezeroTypeError, DezeroValueError
from typed_dezero._io import ArraySpec, WeightsFileError, load_npz, save_npz

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
    _expect_weights_error(path, r"member 'W.npy' is not a .npy array \(it starts with b'not an a'\)")


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


# -- saving over existing files, through links, under long names -------------------------------


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o755], ids=oct)
def test_saving_over_a_file_keeps_its_permissions(tmp_path: pathlib.Path, mode: int) -> None:
    path = tmp_path / "w.npz"
    save_npz(path, {"a": np.ones(1)})
    path.chmod(mode)
    save_npz(path, {"a": np.zeros(2)})
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert_same(load_npz(path), {"a": np.zeros(2)})


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
def test_saving_through_a_symlink_replaces_the_file_it_names_and_keeps_the_link(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "store" / "real.npz"
    save_npz(target, {"a": np.ones(1)})
    target.chmod(0o600)
    inode = os.stat(target).st_ino
    link = tmp_path / "links" / "w.npz"
    link.symlink_to(os.path.join("..", "store", "real.npz") if relative else target)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        renames.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    save_npz(link, {"a": np.zeros(3)})
    monkeypatch.undo()
    [(src, dst)] = renames  # the temporary file, in the target's folder, renamed over the target
    assert os.path.samefile(os.path.dirname(src), tmp_path / "store")
    assert os.path.samefile(dst, target)
    assert link.is_symlink()
    assert os.readlink(link) == (os.path.join("..", "store", "real.npz") if relative else str(target))
    assert_same(load_npz(target), {"a": np.zeros(3)})
    assert os.stat(target).st_ino != inode  # a new file renamed over the old one: atomic
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path / "store")) == ["real.npz"]  # the temporary file was here
    assert sorted(os.listdir(tmp_path / "links")) == ["w.npz"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
def test_saving_through_a_chain_of_links_and_a_dangling_link(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink("second", "first")
    os.symlink("final.npz", "second")
    save_npz("first", {"a": np.ones(2)})  # "final.npz" does not exist yet: created, as open() would
    assert os.path.islink("first")
    assert os.path.islink("second")
    assert sorted(os.listdir(tmp_path)) == ["final.npz", "first", "second"]
    assert_same(load_npz("final.npz"), {"a": np.ones(2)})
    assert_same(load_npz("first"), {"a": np.ones(2)})


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
def test_a_symlink_loop_is_an_oserror_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="Too many levels of symbolic links") as info:
        save_npz(tmp_path / "a", {"a": np.ones(1)})
    assert info.value.errno == errno.ELOOP
    with pytest.raises(OSError, match="Too many levels of symbolic links") as expected:  # as open() says
        open(tmp_path / "a", "wb")  # noqa: SIM115 - it fails
    assert expected.value.errno == errno.ELOOP
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]
    assert (tmp_path / "a").is_symlink()


def _name_max(folder: pathlib.Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


@pytest.mark.parametrize(
    "char", ["w", "\u00e9", "\u20ac", "\U0001f600"], ids=["ascii", "2-byte", "3-byte", "4-byte"]
)
def test_a_long_but_valid_file_name_works(tmp_path: pathlib.Path, char: str) -> None:
    limit = _name_max(tmp_path)
    name = char * ((limit - 4) // len(char.encode())) + ".npz"  # as long as the file system allows
    assert limit - len(char.encode()) < len(name.encode()) <= limit
    path = tmp_path / name
    save_npz(path, {"a": np.ones(2)})
    save_npz(path, {"a": np.zeros(2)})  # over an existing file too
    assert os.listdir(tmp_path) == [name]
    assert_same(load_npz(path), {"a": np.zeros(2)})


def test_a_name_too_long_for_the_file_system_is_an_oserror_before_writing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[object] = []
    real = np.lib.format.write_array

    def write_array(*args: Any, **kwargs: Any) -> None:
        written.append(args)
        real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)
    with pytest.raises(OSError, match="File name too long") as info:
        save_npz(tmp_path / ("x" * (_name_max(tmp_path) + 1)), {"a": np.ones(1)})
    assert info.value.errno == errno.ENAMETOOLONG
    assert written == []
    assert os.listdir(tmp_path) == []


def test_the_name_limit_falls_back_to_255_bytes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unknown(*args: object) -> int:
        raise OSError(errno.EINVAL, "no such limit")

    monkeypatch.setattr(os, "pathconf", unknown)
    name = "y" * 251 + ".npz"
    save_npz(tmp_path / name, {"a": np.ones(1)})
    assert os.listdir(tmp_path) == [name]


def test_a_save_from_a_thread_and_one_without_threads_to_spare(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    errors: list[BaseException] = []

    def save() -> None:
        try:
            save_npz(tmp_path / "t.npz", {"a": np.ones(3)})
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=save)
    worker.start()
    worker.join()
    assert errors == []
    assert_same(load_npz(tmp_path / "t.npz"), {"a": np.ones(3)})

    def no_threads(*args: object) -> int:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(_thread, "start_new_thread", no_threads)
    with pytest.raises(RuntimeError, match="can't start new thread"):  # the folder could not be synced ...
        save_npz(tmp_path / "t.npz", {"a": np.zeros(3)})
    monkeypatch.undo()  # ... but the file was written and renamed
    assert_same(load_npz(tmp_path / "t.npz"), {"a": np.zeros(3)})
    assert os.listdir(tmp_path) == ["t.npz"]


def test_the_temporary_name_never_removes_a_file_it_did_not_create(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another file already has the temporary name: the save fails (as os.open with O_EXCL would)
    # and that file stays.
    def zeros(n: int) -> str:
        return "0" * (2 * n)

    monkeypatch.setattr(secrets, "token_hex", zeros)
    squatter = tmp_path / f".w.npz.{'0' * 16}.tmp"
    squatter.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        save_npz(tmp_path / "w.npz", {"a": np.ones(1)})
    assert squatter.read_bytes() == b"someone else's"
    assert os.listdir(tmp_path) == [squatter.name]


@pytest.mark.parametrize("helper", ["still running", "done"])
def test_an_interrupt_while_the_folder_is_synced_waits_for_the_helper_to_close_it(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, helper: str
) -> None:
    # The interrupt lands after the rename, while the helper thread syncs the folder: it reaches
    # the caller once the helper has closed the folder's descriptor; the new file is complete.
    real_start, real_fsync = _thread.start_new_thread, os.fsync
    synced: list[int] = []

    def slow_fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            time.sleep(0.05)
            synced.append(fd)
        real_fsync(fd)

    helpers_done: list[list[bool]] = []

    def start_then_interrupt(function: Any, args: tuple[Any, ...]) -> int:
        real_start(function, args)
        helpers_done.append(args[1])  # the list the helper appends to once it closed the folder
        if helper == "done":
            while not args[1]:
                time.sleep(0.001)
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", slow_fsync)
    monkeypatch.setattr(_thread, "start_new_thread", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_npz(tmp_path / "w.npz", {"a": np.ones(2)})
    assert len(synced) == 1
    assert helpers_done == [[True]]  # the helper had closed the folder when the interrupt reached us
    monkeypatch.undo()
    assert_same(load_npz(tmp_path / "w.npz"), {"a": np.ones(2)})
    assert os.listdir(tmp_path) == ["w.npz"]


# -- headers, sizes and what is expected ------------------------------------------------------------


def _member(text: str, data: bytes = b"", version: bytes = b"\x01\x00") -> bytes:
    """A .npy member whose header is `text` exactly (padded as numpy pads it)."""
    padded = text + " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY" + version + len(padded).to_bytes(2, "little") + padded.encode("latin1") + data


def _header(shape: str, descr: str = "'<f8'", fortran: str = "False") -> str:
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


BAD_MEMBERS: dict[str, tuple[bytes, str]] = {
    "version 4.0": (_member(_header("(1,)"), bytes(8), b"\x04\x00"), r"has .npy format version 4.0"),
    "header cut short": (_member(_header("(1,)"))[:40], r"ends inside its .npy header"),
    "not a literal": (_member("{'descr': <f8}"), r"a .npy header that is not a Python literal"),
    "deeply nested": (_member("(" * 300 + ")" * 300), r"not a Python literal"),
    # ast.literal_eval would fail with MemoryError on this one (its parser's stack):
    "operator chain": (_member("~" * 9000 + "1"), r"not a Python literal as numpy writes them"),
    "a list": (_member("[1, 2]"), r"a .npy header that is not numpy's"),
    "other keys": (_member("{'descr': '<f8', 'shape': ()}"), r"not numpy's \(descr, fortran_order, shape\)"),
    "negative size": (_member(_header("(-1,)")), r"not a Python literal as numpy writes them"),
    "bool size": (_member(_header("(True,)"), bytes(8)), r"declares the invalid shape \(True,\)"),
    "shape not a tuple": (_member(_header("[2]"), bytes(16)), r"declares the invalid shape \[2\]"),
    "fortran_order 0": (_member(_header("(1,)", fortran="0"), bytes(8)), r"invalid fortran_order 0"),
    "unknown dtype": (_member(_header("(1,)", descr="'<q9'"), bytes(8)), r"declares the invalid dtype '<q9'"),
    "sub-array dtype": (_member(_header("(1,)", descr="('<f8', (2,))"), bytes(16)), r"sub-array dtype"),
    "65 dimensions": (_member(_header(repr((1,) * 65)), bytes(8)), r"too large for any array"),
    "empty but giant": (
        _member(_header(repr((2**62, 0, 2**62)))),
        r"shape \(4611686018427387904, 0, .*too large",
    ),
    "data cut short": (
        _member(_header("(2,)"), bytes(12)),
        r"declares 144 bytes \(shape \(2,\), dtype float64\)",
    ),
}


@pytest.mark.parametrize("label", list(BAD_MEMBERS))
@pytest.mark.parametrize("compress", [True, False])
def test_a_bad_npy_header_is_a_weights_file_error(tmp_path: pathlib.Path, label: str, compress: bool) -> None:
    content, match = BAD_MEMBERS[label]
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as archive:
        archive.writestr("W.npy", content)
    _expect_weights_error(path, match)


def test_headers_of_every_npy_version_and_fortran_order_load(tmp_path: pathlib.Path) -> None:
    W = np.arange(6.0).reshape(2, 3)
    path = tmp_path / "w.npz"
    for version in [(1, 0), (2, 0), (3, 0)]:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.asfortranarray(W), version=version)
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("W.npy", buffer.getvalue())
        loaded = load_npz(path)["W"]
        assert np.array_equal(loaded, W)
        assert loaded.flags.f_contiguous


def test_encrypted_members_are_refused(tmp_path: pathlib.Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("W.npy", _npy_bytes(np.ones(2)))
    data = bytearray(buffer.getvalue())
    data[data.index(b"PK\x01\x02") + 8] |= 0x1  # the directory's "encrypted" flag
    path = tmp_path / "secret.npz"
    path.write_bytes(bytes(data))
    _expect_weights_error(path, r"member 'W.npy' is encrypted; weights files never are")


def test_members_compressed_otherwise_than_deflate_are_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bz.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("W.npy", _npy_bytes(np.ones(2)))
    _expect_weights_error(
        path, r"member 'W.npy' uses compression method 12; weights files are stored or deflated"
    )


def test_array_specs_are_checked() -> None:
    with pytest.raises(
        DezeroTypeError, match=r"ArraySpec: shape must be a tuple of ints and None, got \[2\]"
    ):
        ArraySpec([2])  # type: ignore[arg-type]
    with pytest.raises(DezeroTypeError, match=r"shape must be a tuple of ints and None, got \(True,\)"):
        ArraySpec((True,))
    with pytest.raises(
        DezeroValueError, match=r"ArraySpec: shape must not have negative sizes, got \(2, -1\)"
    ):
        ArraySpec((2, -1))
    for kinds in ["", "fO", "x"]:
        with pytest.raises(
            DezeroValueError, match=r"ArraySpec: kinds must be a non-empty str of the letters 'biufc'"
        ):
            ArraySpec((), kinds=kinds)
    with pytest.raises(DezeroTypeError, match=r"ArraySpec: required must be a bool, got int"):
        ArraySpec((), required=1)  # type: ignore[arg-type]
    assert ArraySpec((None, 3)) == ArraySpec((None, 3), "f", True)


def test_expected_must_map_names_to_array_specs(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "w.npz"
    save_npz(path, {"a": np.ones(1)})
    raw = inspect.unwrap(load_npz)
    with pytest.raises(
        DezeroTypeError, match=r"load_npz: expected must be a mapping of str to ArraySpec, got list"
    ):
        raw(path, expected=[("a", ArraySpec((1,)))])
    with pytest.raises(
        DezeroTypeError, match=r"my_load: expected must map str to ArraySpec, got str \('a'\) -> tuple"
    ):
        raw(path, expected={"a": (1,)}, where="my_load")
    assert list(load_npz(path, expected={"a": ArraySpec((1,))})) == ["a"]


def test_the_folder_sync_helper_closes_what_it_opens(tmp_path: pathlib.Path) -> None:
    # It runs in a raw helper thread, which coverage does not follow: called directly here.
    from typed_dezero._io import _fsync_folder  # pyright: ignore[reportPrivateUsage]  # white-box

    for folder in [str(tmp_path), str(tmp_path / "absent")]:
        done: list[bool] = []
        finished = _thread.allocate_lock()
        finished.acquire()
        before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
        _fsync_folder(folder, done, finished)
        assert done == [True]
        assert not finished.locked()
        assert (len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0) == before


def test_the_sink_drops_what_abandoned_zipfile_objects_write(tmp_path: pathlib.Path) -> None:
    from typed_dezero._io import _Sink  # pyright: ignore[reportPrivateUsage]  # white-box: detached only by failures

    buffer = io.BytesIO()
    sink = _Sink(buffer)
    assert sink.write(b"abc") == 3
    sink.flush()
    assert (sink.tell(), sink.seek(1)) == (3, 1)
    sink.close()  # detaches: what comes after is dropped
    assert (sink.write(b"xyz"), sink.tell(), sink.seek(0)) == (3, 0, 0)
    sink.flush()
    assert buffer.getvalue() == b"abc"
