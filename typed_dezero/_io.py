"""Weights files: .npz archives written atomically and read without ever unpickling.

``save_npz`` writes to a temporary file in the target's folder, flushes and fsyncs it, then renames it
over the target with ``os.replace``: a crash, a failing write or a full disk leaves either the old file
or the new one, never half a file. ``load_npz`` reads every array eagerly with ``allow_pickle=False``
(loading never runs code) and reports a truncated, corrupt or foreign file as :class:`WeightsFileError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import zipfile
import zlib
from collections.abc import Mapping
from typing import IO, Any, Final, TypeGuard

import numpy as np
import numpy.typing as npt

from typed_dezero._checking import typechecked
from typed_dezero._typing import describe
from typed_dezero.errors import DezeroTypeError, DezeroValueError, WeightsFileError

__all__ = ["WeightsFileError", "load_npz", "save_npz"]

_SUFFIX: Final = ".npy"

# What parsing a damaged or foreign archive (already in memory) can raise: zipfile's own errors,
# NotImplementedError for unknown zip versions and compression methods, numpy's format errors
# (ValueError, also for pickled object arrays), EOFError from short members, zlib.error from a
# broken deflate stream, RuntimeError for members flagged as encrypted.
_PARSE_ERRORS: Final = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    ValueError,
    EOFError,
    zlib.error,
)


def _fspath(where: str, path: str | os.PathLike[str]) -> str:
    name = os.fspath(path)
    if type(name) is not str:
        msg = f"{where}: path must be a str or an os.PathLike[str], got {describe(path)}"
        raise DezeroTypeError(msg)
    if "\0" in name:  # the OS would refuse it with a bare "embedded null byte"
        msg = f"{where}: path must not contain a NUL character, got {name!r}"
        raise DezeroValueError(msg)
    return name


def _is_ndarray(x: object) -> TypeGuard[npt.NDArray[Any]]:
    return isinstance(x, np.ndarray)


def _is_mapping(x: object) -> TypeGuard[Mapping[Any, Any]]:
    return isinstance(x, Mapping)


def _check_arrays(arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    if not _is_mapping(arrays):  # checked by hand too: a failure must leave no file behind
        msg = f"save_npz: arrays must be a mapping of str to numpy arrays, got {describe(arrays)}"
        raise DezeroTypeError(msg)
    for key, value in arrays.items():
        if type(key) is not str or not key:
            msg = f"save_npz: keys must be non-empty str, got {describe(key)}"
            raise DezeroValueError(msg)
        if not _is_ndarray(value):
            msg = f"save_npz: arrays[{key!r}] must be a numpy.ndarray, got {describe(value)}"
            raise DezeroTypeError(msg)
        if value.dtype.hasobject:
            msg = (
                f"save_npz: arrays[{key!r}] has dtype {value.dtype}; object arrays would need pickle, "
                "which weights files never use"
            )
            raise DezeroTypeError(msg)


def _write_archive(file: IO[bytes], arrays: Mapping[str, npt.NDArray[Any]], compress: bool) -> None:
    # One member "<key>.npy" per array, as np.savez writes them. np.savez itself is not used: its
    # keyword arguments would collide with keys such as "file" or "allow_pickle".
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(file, mode="w", compression=compression, allowZip64=True) as archive:
        for key, value in arrays.items():
            with archive.open(key + _SUFFIX, mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


@typechecked
def save_npz(
    path: str | os.PathLike[str], arrays: Mapping[str, npt.NDArray[Any]], *, compress: bool = True
) -> None:
    """Write `arrays` to the .npz archive `path`, atomically.

    Arguments:
        path: the file to write, used exactly as given (no ".npz" is appended). Its folder must exist.
        arrays: name -> array; names are non-empty strings ("/" is allowed), arrays of any dtype but object.
        compress: deflate the members (as ``np.savez_compressed``) or store them (as ``np.savez``).

    Errors: TypeError for a non-array or an object array, ValueError for an empty name, OSError from
    the file system. On any error the previous file at `path` (if any) is left untouched and the
    temporary file is removed.
    """
    name = _fspath("save_npz", path)
    _check_arrays(arrays)
    folder, base = os.path.split(name)
    temp = os.path.join(folder, f".{base}.{secrets.token_hex(8)}.tmp")
    # O_EXCL: never reuse an existing file; mode 0o666 lets the umask decide, as open() would.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            _write_archive(file, arrays, compress)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # Make the rename itself durable. Not possible on every platform (Windows cannot open a folder).
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder or os.curdir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read_archive(file: IO[bytes]) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {}
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            member = info.filename
            if not member.endswith(_SUFFIX) or member == _SUFFIX:
                msg = f"member {member!r} is not a '<name>.npy' array"
                raise ValueError(msg)
            key = member[: -len(_SUFFIX)]
            if key in arrays:
                msg = f"member {member!r} appears twice"
                raise ValueError(msg)
            with archive.open(info) as stream:
                arrays[key] = np.lib.format.read_array(stream, allow_pickle=False)
    return arrays


@typechecked
def load_npz(path: str | os.PathLike[str]) -> dict[str, npt.NDArray[Any]]:
    """Read every array of the .npz archive `path` into memory (name -> array).

    Pickled data is refused, so loading never runs code. Errors: FileNotFoundError (and other
    OSErrors) from the file system; :class:`WeightsFileError` (a ValueError) when the file is
    truncated, corrupt, not a zip archive, has members that are not .npy arrays, or holds object arrays.
    """
    name = _fspath("load_npz", path)
    # Read the bytes first: OSErrors then come from the disk only, never from seeks to offsets
    # that a corrupt header made up.
    with open(name, "rb") as file:
        content = file.read()
    try:
        return _read_archive(io.BytesIO(content))
    except _PARSE_ERRORS as error:
        msg = f"load_npz: {name!r} is not a readable .npz weights file ({type(error).__name__}: {error})"
        raise WeightsFileError(msg) from error
