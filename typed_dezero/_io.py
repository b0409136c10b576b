"""Weights files: .npz archives and safetensors files written atomically, read without ever
unpickling, within bounds.

``save_npz`` writes to a temporary file in the folder of the file it replaces (the file a symbolic
link names, as ``open(path, "w")`` would write it), flushes and fsyncs it, gives it the replaced
file's permissions, renames it over that file with ``os.replace`` and syncs the folder. A crash, a
failing write, a full disk or a Ctrl-C at any moment leaves the old file byte for byte (or the
complete new one, once renamed), no temporary file and no open file descriptor.

``load_npz`` reads every array eagerly with pickle refused (loading never runs code) and reports a
truncated, corrupt or foreign file as :class:`WeightsFileError`. Given the arrays it expects (names,
shapes with None for the dimensions a lazy layer takes from the file, dtype kinds), it refuses a
file that does not hold exactly those before reading any array's data, so a small file can never
make it allocate or inflate more than the model needs.

``save_safetensors`` / ``load_safetensors`` keep the same promises for the safetensors format
(float64 "F64" tensors only): the bytes the ``safetensors`` package makes are written by the same
atomic replace, and loading parses and checks the header itself, against the same expected arrays,
before allocating anything. ``save_weights_file`` / ``load_weights_file`` pick the format from an
argument or the file name's suffix (".safetensors"; anything else is .npz).
"""

from __future__ import annotations

import _thread
import ast
import contextlib
import errno
import io
import json
import math
import os
import re
import secrets
import stat
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Final, Literal, NamedTuple, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt

from typed_dezero._checking import typechecked
from typed_dezero._typing import Arr, describe, is_int, too_large
from typed_dezero.errors import DezeroTypeError, DezeroValueError, WeightsFileError

__all__ = [
    "ArraySpec",
    "WeightsFileError",
    "WeightsFormat",
    "load_npz",
    "load_safetensors",
    "load_weights_file",
    "save_npz",
    "save_safetensors",
    "save_weights_file",
    "weights_format",
]

_SUFFIX: Final = ".npy"
_MAGIC: Final = b"\x93NUMPY"
_MAX_HEADER: Final = 10_000
"""The longest .npy header read (numpy's own limit, ``max_header_size``); numpy writes about 128 bytes."""
_MAX_DIMS: Final = 64
"""NumPy's limit on the number of dimensions."""
_MAX_RATIO: Final = 1032
"""Deflate's largest inflation: a 258-byte match costs at least two bits (a length and a distance
code), so one byte of stream gives at most 1032 bytes."""
_CHUNK: Final = 1 << 20
"""The most bytes read (and so inflated) out of a member at once."""
_NAME_MAX: Final = 255
"""The limit on a file name's length in bytes where the file system does not say."""
_MAX_LINKS: Final = 40
"""How many symbolic links are followed to the file a path names (Linux's limit)."""
_HELPER_WAIT: Final = 1.0
"""Seconds to wait, after a failed start of the folder-syncing thread, for one that may be running."""

# Bounds on a whole archive of given arrays, for refusing a far larger file before reading it:
# per member a local header (30 bytes), a directory entry (46) and a data descriptor (24), names,
# extra fields and a comment (16-bit lengths); per archive the end records (22, zip64: 56 and 20)
# and a comment. Deflate expands data by at most 13.5% plus 11 bytes (zlib's worst settings).
_FIELD: Final = 0xFFFF
_MEMBER_OVERHEAD: Final = 30 + 46 + 24 + 5 * _FIELD
_ARCHIVE_OVERHEAD: Final = 22 + 56 + 20 + _FIELD

_KINDS: Final = {
    "b": ("a boolean", 1),
    "i": ("an integer", 8),
    "u": ("an unsigned integer", 8),
    "f": ("a floating-point", 16),
    "c": ("a complex", 32),
}
"""The dtype kinds an ArraySpec may accept: words for messages, the largest item size."""

# What parsing a damaged or foreign archive (already in memory) can raise: zipfile's own errors,
# NotImplementedError for unknown zip versions and compression methods, ValueError (also for bad
# name encodings), EOFError from short members, zlib.error from a broken deflate stream,
# OverflowError for 64-bit offsets beyond any seek. (Not RuntimeError, which zipfile raises for
# encrypted members only: those are refused before, and any other RuntimeError is no file's fault.)
_PARSE_ERRORS: Final = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    ValueError,
    EOFError,
    zlib.error,
    OverflowError,
)

# A .npy header as numpy writes it, once its strings are taken out: brackets, digits, commas,
# colons and True/False/None only. Anything else (operators above all) is refused before
# ast.literal_eval, whose parser gives up with MemoryError or RecursionError on long operator
# chains ("~~~...~1"), errors that must not be mistaken for the file's.
_STRING: Final = re.compile(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"")
_CONSTANT: Final = re.compile(r"\b(?:True|False|None)\b")
_PLAIN: Final = re.compile(r"[\s\d(){}\[\],:]*")


class _UnreadableError(Exception):
    """A member or archive that is damaged or foreign (becomes a WeightsFileError)."""


class _UnfitError(Exception):
    """An array whose header does not fit what is expected (becomes a WeightsFileError)."""


@dataclass(frozen=True)
class ArraySpec:
    """What one array of a weights file must be, known before its data is read (see :func:`load_npz`).

    Arguments:
        shape: the array's shape; None marks a dimension taken from the file (a lazy parameter's),
            which may be any size from 1 that a float64 array can have, as the layer's constructor
            requires.
        kinds: the dtype kinds accepted, as NumPy's ``dtype.kind`` letters: ``"f"`` floating (of
            any width, the default), ``"iu"`` integers, ``"b"`` booleans, ``"c"`` complex.
        required: whether a file without the array is refused.
    """

    shape: tuple[int | None, ...]
    kinds: str = "f"
    required: bool = True

    def __post_init__(self) -> None:
        shape: object = self.shape
        if not (_is_tuple(shape) and all(d is None or is_int(d) for d in shape)):
            msg = f"ArraySpec: shape must be a tuple of ints and None, got {shape!r}"
            raise DezeroTypeError(msg)
        if any(d is not None and d < 0 for d in self.shape):
            msg = f"ArraySpec: shape must not have negative sizes, got {self.shape}"
            raise DezeroValueError(msg)
        kinds: object = self.kinds
        if type(kinds) is not str or not kinds or any(k not in _KINDS for k in kinds):
            msg = (
                f"ArraySpec: kinds must be a non-empty str of the letters {''.join(_KINDS)!r}, got {kinds!r}"
            )
            raise DezeroValueError(msg)
        required: object = self.required
        if type(required) is not bool:
            msg = f"ArraySpec: required must be a bool, got {describe(required)}"
            raise DezeroTypeError(msg)


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


def _is_tuple(x: object) -> TypeGuard[tuple[object, ...]]:
    return isinstance(x, tuple)


def _is_dict(x: object) -> TypeGuard[dict[object, object]]:
    return isinstance(x, dict)


# -- saving ---------------------------------------------------------------------------------------


def _check_arrays(arrays: Mapping[str, npt.NDArray[Any]], where: str = "save_npz") -> None:
    if not _is_mapping(arrays):  # checked by hand too: a failure must leave no file behind
        msg = f"{where}: arrays must be a mapping of str to numpy arrays, got {describe(arrays)}"
        raise DezeroTypeError(msg)
    for key, value in arrays.items():
        if type(key) is not str or not key:
            msg = f"{where}: keys must be non-empty str, got {describe(key)}"
            raise DezeroValueError(msg)
        if not _is_ndarray(value):
            msg = f"{where}: arrays[{key!r}] must be a numpy.ndarray, got {describe(value)}"
            raise DezeroTypeError(msg)
        if value.dtype.hasobject:
            msg = (
                f"{where}: arrays[{key!r}] has dtype {value.dtype}; object arrays would need pickle, "
                "which weights files never use"
            )
            raise DezeroTypeError(msg)


class _Sink:
    """The temporary file as zipfile sees it. After :meth:`detach` (a failed save) writes and seeks
    are dropped: the zipfile objects a failure leaves behind finish themselves when they are
    finalised, possibly after the file was closed, and must not write to it then."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file: IO[bytes] | None = file

    def write(self, data: bytes, /) -> int:
        return len(data) if self._file is None else self._file.write(data)

    def tell(self) -> int:
        return 0 if self._file is None else self._file.tell()

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return 0 if self._file is None else self._file.seek(offset, whence)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        self.detach()

    def detach(self) -> None:
        self._file = None


class _Archive(zipfile.ZipFile):
    """A ZipFile whose finalizer does nothing, and runs no Python code.

    ZipFile.__del__ closes the archive: for one a failed save abandoned it would write the
    directory, or raise "Can't close the ZIP file while there is an open writing handle" (after an
    interrupt inside ``open()``) where nobody can catch it. And any finalizer written in Python,
    even ``pass``, is a place where a Ctrl-C arriving just then is lost: CPython prints it as
    "Exception ignored in ..." and carries on. ``object.__init__`` called with the object alone is
    a no-op in C."""

    __del__ = object.__init__


def _write_archive(file: IO[bytes], arrays: Mapping[str, npt.NDArray[Any]], compress: bool) -> None:
    # One member "<key>.npy" per array, as np.savez writes them. np.savez itself is not used: its
    # keyword arguments would collide with keys such as "file" or "allow_pickle". No `with`
    # blocks: on failure the archive is abandoned, never closed (ZipFile.__exit__ would replace an
    # interrupt inside open() with a ValueError about the member being written).
    sink = _Sink(file)
    try:
        compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        archive = _Archive(sink, mode="w", compression=compression, allowZip64=True)
        for key, value in arrays.items():
            member = archive.open(key + _SUFFIX, mode="w", force_zip64=True)
            np.lib.format.write_array(member, value, allow_pickle=False)
            member.close()
        archive.close()
    except BaseException:
        sink.detach()
        raise


def _link_target(name: str) -> str:
    """The file ``open(name, "w")`` writes: `name` with the symbolic links it ends in followed."""
    original = name
    for _ in range(_MAX_LINKS):
        try:
            link = os.readlink(name)
        except OSError:  # not a link, absent (a new file) or unreachable: creating the file will say
            return name
        name = os.path.join(os.path.dirname(name), link)
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), original)


def _existing_mode(target: str) -> int | None:
    """The permission bits of the file being replaced; None for a new file."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return None


def _name_max(folder: str) -> int:
    try:
        limit = os.pathconf(folder or os.curdir, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no limit known for that folder, or no pathconf
        return _NAME_MAX
    return limit if limit > 0 else _NAME_MAX


def _temporary_name(folder: str, base: str) -> str:
    """``.<base>.<random>.tmp``, `base` shortened by whole characters so that the name fits the
    file system's limit on name length (in bytes: a character may take several)."""
    suffix = f".{secrets.token_hex(8)}.tmp"
    limit = _name_max(folder)
    stem = base
    while stem and len(os.fsencode(f".{stem}{suffix}")) > limit:
        stem = stem[:-1]
    return f".{stem}{suffix}"


def _identity(result: os.stat_result) -> tuple[int, int]:
    return result.st_dev, result.st_ino


def _discard(file: IO[bytes] | None, temp: str, ident: tuple[int, int] | None) -> None:
    """Close the temporary file and remove it, if the name still is that file: never the file a
    rename put there, nor one of someone else's. (No identity is known only when an interrupt
    dropped the new file object unseen; a file with the random name is then ours.)"""
    if file is not None:
        if ident is None and not file.closed:
            with contextlib.suppress(OSError):
                ident = _identity(os.fstat(file.fileno()))
        with contextlib.suppress(OSError):
            file.close()
    with contextlib.suppress(OSError):
        if ident is None or _identity(os.lstat(temp)) == ident:
            os.unlink(temp)


def _fsync_folder(folder: str, done: list[bool], finished: _thread.LockType) -> None:
    try:
        with contextlib.suppress(OSError):  # not possible everywhere (Windows cannot open a folder)
            fd = os.open(folder or os.curdir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    finally:
        done.append(True)
        finished.release()


def _sync_folder(folder: str) -> None:
    """Make the rename durable by syncing the folder, in a helper thread: Python runs signal handlers
    in the main thread only, so no Ctrl-C can land between opening the folder and closing it (a bare
    descriptor, unlike a file object, has no owner to close it when an interrupt drops it). A raw
    thread (``_thread``): ``threading.Thread.start`` interrupted half-way keeps a never-started
    Thread in ``threading.enumerate()`` for good."""
    finished = _thread.allocate_lock()
    finished.acquire()
    done: list[bool] = []
    try:
        _thread.start_new_thread(_fsync_folder, (folder, done, finished))
    except BaseException:
        # No helper started ("can't start new thread", MemoryError), or one did and an interrupt
        # came as the call returned: give a helper that runs the time to close its descriptor.
        finished.acquire(timeout=_HELPER_WAIT)
        raise
    try:
        finished.acquire()
    except BaseException:
        if not done:
            finished.acquire()  # interrupted while waiting: let the helper close its descriptor first
        raise


def _replace(name: str, write: Callable[[IO[bytes]], None]) -> None:
    """Atomically replace the file `name` (its symbolic links followed) with what `write` writes."""
    target = _link_target(name)
    folder, base = os.path.split(target)
    mode = _existing_mode(target)
    temp = os.path.join(folder, _temporary_name(folder, base))
    # The temporary file is a Python file object from its creation on: should an interrupt drop it
    # before it is stored, the object's finalizer closes the descriptor (and _discard removes the file).
    try:
        file = open(temp, "xb")  # noqa: SIM115 - closed below or by _discard
    except FileExistsError:
        raise  # another file has the random name: not ours to remove
    except BaseException:
        _discard(None, temp, None)
        raise
    ident = None
    try:
        ident = _identity(os.fstat(file.fileno()))
        if mode is not None:
            os.chmod(file.fileno() if os.chmod in os.supports_fd else temp, mode)
        write(file)
        file.flush()
        os.fsync(file.fileno())
        file.close()
        os.replace(temp, target)
    except BaseException:
        _discard(file, temp, ident)
        raise
    _sync_folder(folder)


@typechecked
def save_npz(
    path: str | os.PathLike[str], arrays: Mapping[str, npt.NDArray[Any]], *, compress: bool = True
) -> None:
    """Write `arrays` to the .npz archive `path`, atomically.

    Arguments:
        path: the file to write, used exactly as given (no ".npz" is appended). Its folder must exist.
            A symbolic link is followed, as ``open(path, "w")`` would: the file it names is replaced
            and the link stays a link.
        arrays: name -> array; names are non-empty strings ("/" is allowed), arrays of any dtype but object.
        compress: deflate the members (as ``np.savez_compressed``) or store them (as ``np.savez``).

    The archive is written to a temporary file next to the file it replaces (named after it, shortened
    to fit the file system's limit on name length), flushed and fsynced, given the permission bits of
    the file it replaces, renamed over it, and the folder is synced.

    Errors: TypeError for a non-array or an object array, ValueError for an empty name, OSError from
    the file system. On any error, and on a KeyboardInterrupt at any moment (which reaches the caller
    as itself), the previous file at `path` is left byte for byte (or, once the rename is done, the
    complete new file is there), the temporary file is removed and no file descriptor stays open.
    """
    name = _fspath("save_npz", path)
    _check_arrays(arrays)
    _replace(name, partial(_write_archive, arrays=arrays, compress=compress))


# -- loading --------------------------------------------------------------------------------------


def _check_expected(where: str, expected: Mapping[str, ArraySpec] | None) -> dict[str, ArraySpec] | None:
    if expected is None:
        return None
    if not _is_mapping(expected):
        msg = f"{where}: expected must be a mapping of str to ArraySpec, got {describe(expected)}"
        raise DezeroTypeError(msg)
    specs: dict[str, ArraySpec] = {}
    for key, spec in expected.items():
        if type(key) is not str or not isinstance(spec, ArraySpec):
            msg = f"{where}: expected must map str to ArraySpec, got {describe(key)} -> {describe(spec)}"
            raise DezeroTypeError(msg)
        specs[key] = spec
    return specs


def _file_limit(specs: Mapping[str, ArraySpec]) -> int | None:
    """The largest archive that can hold the arrays of `specs`; None when a size is open (lazy)."""
    total = _ARCHIVE_OVERHEAD
    for spec in specs.values():
        if None in spec.shape:
            return None
        data = (
            12 + _MAX_HEADER + math.prod(d or 0 for d in spec.shape) * max(_KINDS[k][1] for k in spec.kinds)
        )
        total += _MEMBER_OVERHEAD + data + data // 7 + 11
    return total


def _member_keys(infos: list[zipfile.ZipInfo], specs: Mapping[str, ArraySpec] | None) -> list[str]:
    """The key of each member; refuses names, duplicates and (given `specs`) missing or unexpected keys."""
    keys: list[str] = []
    for info in infos:
        member = info.filename
        if not member.endswith(_SUFFIX) or member == _SUFFIX:
            msg = f"member {member!r} is not a '<name>.npy' array"
            raise _UnreadableError(msg)
        key = member[: -len(_SUFFIX)]
        if key in keys:
            msg = f"member {member!r} appears twice"
            raise _UnreadableError(msg)
        keys.append(key)
    _check_keys(keys, specs)
    return keys


def _check_keys(keys: list[str], specs: Mapping[str, ArraySpec] | None) -> None:
    if specs is not None:
        missing = [key for key, spec in specs.items() if spec.required and key not in keys]
        unexpected = sorted(key for key in keys if key not in specs)
        if missing or unexpected:
            msg = f"its arrays are not the expected ones: missing {missing}, unexpected {unexpected}"
            raise _UnreadableError(msg)


def _check_entry(info: zipfile.ZipInfo, size: int) -> None:
    """Refuse a zip entry whose declared sizes its bytes cannot back, before opening it."""
    member = info.filename
    if info.flag_bits & 0x1:
        msg = f"member {member!r} is encrypted; weights files never are"
        raise _UnreadableError(msg)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        method = info.compress_type
        msg = f"member {member!r} uses compression method {method}; weights files are stored or deflated"
        raise _UnreadableError(msg)
    if info.header_offset + 30 + info.compress_size > size:
        msg = f"member {member!r} declares {info.compress_size} compressed bytes, more than the file holds"
        raise _UnreadableError(msg)
    stored = info.compress_type == zipfile.ZIP_STORED
    if stored and info.file_size != info.compress_size:
        msg = f"stored member {member!r} declares {info.file_size} bytes but holds {info.compress_size}"
        raise _UnreadableError(msg)
    if info.file_size > _MAX_RATIO * info.compress_size:
        msg = (
            f"member {member!r} declares {info.file_size} bytes, more than its {info.compress_size} "
            f"compressed bytes can hold (deflate inflates at most {_MAX_RATIO}-fold)"
        )
        raise _UnreadableError(msg)


def _read_exact(stream: IO[bytes], n: int, member: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        msg = f"member {member!r} ends inside its .npy header"
        raise _UnreadableError(msg)
    return data


def _read_header(stream: IO[bytes], member: str) -> tuple[int, tuple[int, ...], bool, np.dtype[Any]]:
    """Read the .npy header (never more than numpy's limit): its length, the shape, whether the
    data is in Fortran order, the dtype."""
    magic = _read_exact(stream, 8, member)
    if magic[:6] != _MAGIC:
        msg = f"member {member!r} is not a .npy array (it starts with {magic!r})"
        raise _UnreadableError(msg)
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0), (3, 0)):
        msg = f"member {member!r} has .npy format version {version[0]}.{version[1]}, not 1.0, 2.0 or 3.0"
        raise _UnreadableError(msg)
    width = 2 if version == (1, 0) else 4
    length = int.from_bytes(_read_exact(stream, width, member), "little")
    if length > _MAX_HEADER:
        msg = f"member {member!r} declares a {length}-byte .npy header; at most {_MAX_HEADER} are read"
        raise _UnreadableError(msg)
    text = _read_exact(stream, length, member).decode("utf-8" if version == (3, 0) else "latin1")
    return (8 + width + length, *_parse_header(text, member))


def _parse_header(text: str, member: str) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    plain = _PLAIN.fullmatch(_CONSTANT.sub("0", _STRING.sub("0", text))) is not None
    try:
        header: object = ast.literal_eval(text) if plain else None
    except (SyntaxError, ValueError, TypeError) as error:
        msg = f"member {member!r} has a .npy header that is not a Python literal"
        raise _UnreadableError(msg) from error
    if not plain:
        msg = f"member {member!r} has a .npy header that is not a Python literal as numpy writes them"
        raise _UnreadableError(msg)
    if not (_is_dict(header) and set(header) == {"descr", "fortran_order", "shape"}):
        msg = f"member {member!r} has a .npy header that is not numpy's (descr, fortran_order, shape)"
        raise _UnreadableError(msg)
    shape, fortran, descr = header["shape"], header["fortran_order"], header["descr"]
    if not (_is_tuple(shape) and all(is_int(n) and n >= 0 for n in shape)):
        msg = f"member {member!r} declares the invalid shape {shape!r}"
        raise _UnreadableError(msg)
    if type(fortran) is not bool:
        msg = f"member {member!r} declares the invalid fortran_order {fortran!r}"
        raise _UnreadableError(msg)
    try:
        dtype = np.lib.format.descr_to_dtype(descr)  # type: ignore[arg-type]  # any literal: checked by numpy
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as error:
        msg = f"member {member!r} declares the invalid dtype {descr!r}"
        raise _UnreadableError(msg) from error
    dims = tuple(n for n in shape if is_int(n))
    return dims, fortran, dtype


def _fits(shape: tuple[int, ...], template: tuple[int | None, ...]) -> bool:
    return len(shape) == len(template) and all(
        s >= 1 if t is None else s == t for s, t in zip(shape, template, strict=True)
    )


def _check_shape(key: str, shape: tuple[int, ...], spec: ArraySpec) -> None:
    if not _fits(shape, spec.shape):
        like = tuple("?" if d is None else d for d in spec.shape)
        wanted = f"a shape like {like} ('?' at least 1)" if None in spec.shape else f"{spec.shape}"
        msg = f"{key!r} has shape {shape}, expected {wanted}"
        raise _UnfitError(msg)


def _check_declared(
    key: str, member: str, shape: tuple[int, ...], dtype: np.dtype[Any], spec: ArraySpec | None
) -> None:
    """Refuse, from its header alone, an array that is unsafe, impossible or not the one expected."""
    if dtype.hasobject:
        msg = (
            f"member {member!r} holds an object array: Object arrays cannot be loaded when "
            "allow_pickle=False (weights files never use pickle)"
        )
        raise _UnreadableError(msg)
    if dtype.subdtype is not None:
        msg = f"member {member!r} declares the sub-array dtype {dtype}, which would change its shape {shape}"
        raise _UnreadableError(msg)
    if spec is not None:
        if dtype.kind not in spec.kinds:
            words = " or ".join(_KINDS[k][0] for k in spec.kinds)
            msg = f"{key!r} has dtype {dtype}, expected {words} array"
            raise _UnfitError(msg)
        _check_shape(key, shape, spec)
    if len(shape) > _MAX_DIMS or too_large(shape):  # NumPy would refuse it (a lazy layer's constructor too)
        msg = f"member {member!r} declares shape {shape}, too large for any array"
        raise _UnreadableError(msg)


def _fill(stream: IO[bytes], flat: npt.NDArray[Any], member: str) -> None:
    """Read `flat`'s bytes from `stream`, a bounded chunk at a time."""
    if flat.nbytes == 0:
        return
    raw = flat.view(np.uint8)
    done = 0
    while done < raw.size:
        chunk = stream.read(min(_CHUNK, raw.size - done))
        if not chunk:
            msg = f"member {member!r} ends after {done} of its {raw.size} data bytes"
            raise _UnreadableError(msg)
        raw[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        done += len(chunk)


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, spec: ArraySpec | None, size: int
) -> npt.NDArray[Any]:
    member = info.filename
    _check_entry(info, size)
    with archive.open(info) as stream:
        header_size, shape, fortran, dtype = _read_header(stream, member)
        _check_declared(key, member, shape, dtype, spec)
        count = math.prod(shape)
        declared = header_size + count * dtype.itemsize
        if declared != info.file_size:
            msg = (
                f"member {member!r}: its .npy header declares {declared} bytes (shape {shape}, dtype "
                f"{dtype}), its zip entry {info.file_size}"
            )
            raise _UnreadableError(msg)
        flat = np.empty(count, dtype=dtype)  # the size is now backed by the file's own bytes
        _fill(stream, flat, member)
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _read_archive(content: bytes, specs: Mapping[str, ArraySpec] | None) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {}
    with _Archive(io.BytesIO(content)) as archive:
        infos = archive.infolist()
        keys = _member_keys(infos, specs)
        for key, info in zip(keys, infos, strict=True):
            spec = None if specs is None else specs[key]
            arrays[key] = _read_member(archive, info, key, spec, len(content))
    return arrays


def _read_bounded(name: str, limit: int | None) -> bytes:
    # Read the bytes first: OSErrors then come from the disk only, never from seeks to offsets
    # that a corrupt header made up. Never more than the limit (and a byte, to see it exceeded).
    with open(name, "rb") as file:
        return file.read() if limit is None else file.read(min(os.fstat(file.fileno()).st_size, limit) + 1)


def _check_size(content: bytes, limit: int | None) -> None:
    if limit is not None and len(content) > limit:
        msg = f"it is larger than any file holding the expected arrays can be ({limit} bytes)"
        raise _UnreadableError(msg)


@typechecked
def load_npz(
    path: str | os.PathLike[str],
    *,
    expected: Mapping[str, ArraySpec] | None = None,
    where: str = "load_npz",
) -> dict[str, npt.NDArray[Any]]:
    """Read every array of the .npz archive `path` into memory (name -> array).

    Arguments:
        path: the file to read, used exactly as given.
        expected: the arrays the file must hold, by name (see :class:`ArraySpec`: shape, dtype kinds,
            whether required). Given, a file with other names, a missing required array, or an
            array whose header declares another shape or dtype is refused before any array's data
            is read, and no array (nor the file itself) larger than those can be is ever read.
        where: the operation named in error messages (``"Linear.load_weights"``).

    Pickled data is refused, so loading never runs code. Sizes are bounded before anything is
    allocated or inflated: an array must fit in the bytes its member stores (deflate inflates at
    most 1032-fold), its header, its zip entry and its stored bytes must agree, and each member is
    read a bounded chunk at a time, never beyond its declared size.

    Errors: FileNotFoundError (and other OSErrors) from the file system; :class:`WeightsFileError`
    (a ValueError) when the file is truncated, corrupt, not a zip archive, has members that are not
    .npy arrays, holds object arrays or holds other arrays than `expected`: ``"<where>: '<path>' is
    not a readable .npz weights file (...)"``, or ``"<where>: '<path>' does not fit: ..."`` for an
    array of another shape or dtype.
    """
    name = _fspath(where, path)
    specs = _check_expected(where, expected)
    limit = None if specs is None else _file_limit(specs)
    content = _read_bounded(name, limit)
    try:
        _check_size(content, limit)
        return _read_archive(content, specs)
    except _UnfitError as error:
        msg = f"{where}: {name!r} does not fit: {error}"
        raise WeightsFileError(msg) from error
    except (_UnreadableError, *_PARSE_ERRORS) as error:
        detail = str(error) if isinstance(error, _UnreadableError) else f"{type(error).__name__}: {error}"
        msg = f"{where}: {name!r} is not a readable .npz weights file ({detail})"
        raise WeightsFileError(msg) from error


# -- safetensors ----------------------------------------------------------------------------------

WeightsFormat: TypeAlias = Literal["npz", "safetensors"]
"""The weights file formats: NumPy's .npz archive, or Hugging Face's safetensors."""

_FORMATS: Final = ("npz", "safetensors")
_ST_SUFFIX: Final = ".safetensors"
_ST_EXTRA: Final = "pip install 'typed_dezero[safetensors]'"
_ST_DTYPE: Final = "F64"
_ST_METADATA: Final = "__metadata__"
_ST_MAX_HEADER: Final = 100_000_000
"""The longest safetensors header read when no arrays are expected (the safetensors package's own limit)."""
_ST_HEADER_SLACK: Final = 1 << 16
"""Header bytes allowed beyond the expected tensors' entries: the metadata, spacing, padding."""
_ST_ENTRY: Final = 128
"""The bytes of one header entry besides its name and shape: ``{"dtype":"F64","shape":[],
"data_offsets":[<20 digits>,<20 digits>]},``."""


def weights_format(
    where: str,
    path: str | os.PathLike[str],
    format: WeightsFormat | None,  # noqa: A002 - the name save_weights/load_weights take
) -> WeightsFormat:
    """The format of the weights file `path`: `format` when given, else ``"safetensors"`` for a name
    ending in ".safetensors" (in any case), else ``"npz"``."""
    name = _fspath(where, path)
    if format is None:
        return "safetensors" if name.lower().endswith(_ST_SUFFIX) else "npz"
    if format not in _FORMATS:  # checked by hand too: the runtime checker may be off
        msg = f"{where}: format must be 'npz', 'safetensors' or None, got {format!r}"
        raise DezeroValueError(msg)
    return format


def _safetensors_save() -> Callable[[dict[str, Arr]], bytes]:
    try:
        from safetensors.numpy import save
    except ImportError as error:
        msg = f"writing safetensors files needs the safetensors package: {_ST_EXTRA}"
        raise ImportError(msg, name="safetensors") from error
    return save


@typechecked
def save_safetensors(path: str | os.PathLike[str], arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write `arrays` to the safetensors file `path`, atomically, as :func:`save_npz` writes .npz files.

    Arguments:
        path: the file to write, used exactly as given (no suffix is appended); links are followed
            and permissions kept as by :func:`save_npz`.
        arrays: name -> float64 array (any floating dtype of 8 bytes, any memory layout; written as
            little-endian C-order "F64" tensors); names are non-empty strings ("/" is allowed) other
            than "__metadata__".

    The bytes are made in memory by the ``safetensors`` package (the ``safetensors`` extra:
    ``pip install 'typed_dezero[safetensors]'``), then written through the same temporary file,
    fsync and rename as :func:`save_npz`: on any error or interrupt the previous file is kept.

    Errors: ImportError naming the extra when safetensors is not installed; TypeError for a
    non-array or an array of another dtype; ValueError for an empty or reserved name; OSError from
    the file system. Nothing is written before these checks pass.
    """
    where = "save_safetensors"
    name = _fspath(where, path)
    _check_arrays(arrays, where)
    tensors: dict[str, Arr] = {}
    for key, value in arrays.items():
        if key == _ST_METADATA:
            msg = f"{where}: the name {_ST_METADATA!r} is reserved for the file's metadata"
            raise DezeroValueError(msg)
        if value.dtype.kind != "f" or value.dtype.itemsize != 8:
            msg = (
                f"{where}: arrays[{key!r}] has dtype {value.dtype}; weights files hold float64 (F64) tensors"
            )
            raise DezeroTypeError(msg)
        tensors[key] = np.asarray(value, dtype=np.float64, order="C")  # safetensors needs C order
    content = _safetensors_save()(tensors)
    _replace(name, partial(_write_bytes, content=content))


def _write_bytes(file: IO[bytes], content: bytes) -> None:
    file.write(content)


def _st_header_limit(specs: Mapping[str, ArraySpec] | None) -> int:
    """The longest header a file holding the arrays of `specs` has, written compactly as safetensors
    writes it (a character of a name takes at most 12 bytes, as a JSON escaped surrogate pair; a
    size at most 20 digits and a comma)."""
    if specs is None:
        return _ST_MAX_HEADER
    entries = (_ST_ENTRY + 12 * len(key) + 21 * len(spec.shape) for key, spec in specs.items())
    return _ST_HEADER_SLACK + sum(entries)


def _st_file_limit(specs: Mapping[str, ArraySpec], header_limit: int) -> int | None:
    """The largest file that can hold the arrays of `specs`; None when a size is open (lazy)."""
    total = 8 + header_limit
    for spec in specs.values():
        if None in spec.shape:
            return None
        total += 8 * math.prod(d or 0 for d in spec.shape)
    return total


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            msg = f"the name {key!r} appears twice"
            raise ValueError(msg)
        result[key] = value
    return result


def _no_constant(word: str) -> object:
    msg = f"{word} is not JSON"
    raise ValueError(msg)


def _is_list(x: object) -> TypeGuard[list[object]]:
    return isinstance(x, list)


def _st_header(content: bytes, limit: int) -> tuple[int, dict[str, object]]:
    """The header's length and its JSON object, read (never more than `limit` bytes) and parsed."""
    if len(content) < 8:
        msg = f"it holds {len(content)} bytes, fewer than the 8 of a safetensors header's length"
        raise _UnreadableError(msg)
    length = int.from_bytes(content[:8], "little")
    if length > limit:
        msg = f"it declares a {length}-byte header; at most {limit} are read"
        raise _UnreadableError(msg)
    if 8 + length > len(content):
        msg = f"it ends inside its {length}-byte header"
        raise _UnreadableError(msg)
    try:
        text = content[8 : 8 + length].decode("utf-8")
        header: object = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        msg = f"its header is not JSON ({type(error).__name__}: {error})"
        raise _UnreadableError(msg) from error
    if not _is_dict(header):
        msg = f"its header is not a JSON object but {type(header).__name__}"
        raise _UnreadableError(msg)
    return length, {str(key): value for key, value in header.items()}


class _Tensor(NamedTuple):
    key: str
    dtype: object
    shape: tuple[int, ...]
    start: int
    end: int


def _st_entries(header: Mapping[str, object]) -> list[_Tensor]:
    """The tensors the header describes; refuses anything but safetensors' own fields and types."""
    tensors: list[_Tensor] = []
    for key, entry in header.items():
        if key == _ST_METADATA:
            if not (_is_dict(entry) and all(type(v) is str for v in entry.values())):
                msg = f"its {_ST_METADATA!r} is not an object of strings"
                raise _UnreadableError(msg)
            continue
        if not (_is_dict(entry) and set(entry) == {"dtype", "shape", "data_offsets"}):
            msg = f"tensor {key!r} is not described by exactly dtype, shape and data_offsets"
            raise _UnreadableError(msg)
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not (_is_list(shape) and all(is_int(n) and n >= 0 for n in shape)):
            msg = f"tensor {key!r} declares the invalid shape {shape!r}"
            raise _UnreadableError(msg)
        if not (_is_list(offsets) and len(offsets) == 2 and all(is_int(n) and n >= 0 for n in offsets)):
            msg = f"tensor {key!r} declares the invalid data_offsets {offsets!r}"
            raise _UnreadableError(msg)
        dims = tuple(n for n in shape if is_int(n))
        start, end = (n for n in offsets if is_int(n))
        tensors.append(_Tensor(key, entry["dtype"], dims, start, end))
    return tensors


def _st_check(tensors: list[_Tensor], specs: Mapping[str, ArraySpec] | None, data_size: int) -> None:
    """Refuse, from the header alone, tensors that are unsupported, unexpected, impossible, or whose
    bytes overlap, leave gaps or are not exactly the file's data."""
    _check_keys([t.key for t in tensors], specs)
    for t in tensors:
        if t.dtype != _ST_DTYPE:
            msg = f"{t.key!r} has dtype {t.dtype!r}, expected {_ST_DTYPE!r} (float64)"
            raise _UnfitError(msg)
        if specs is not None:
            _check_shape(t.key, t.shape, specs[t.key])
        if len(t.shape) > _MAX_DIMS or too_large(t.shape):
            msg = f"tensor {t.key!r} declares shape {t.shape}, too large for any array"
            raise _UnreadableError(msg)
        size = 8 * math.prod(t.shape)
        if t.end - t.start != size:
            msg = (
                f"tensor {t.key!r} declares data_offsets [{t.start}, {t.end}], but shape {t.shape} "
                f"of F64 takes {size} bytes"
            )
            raise _UnreadableError(msg)
    position = 0
    for t in sorted(tensors, key=lambda t: (t.start, t.end)):
        if t.start != position:
            msg = f"tensor {t.key!r} starts at data byte {t.start}, not {position} (overlap or gap)"
            raise _UnreadableError(msg)
        position = t.end
    if position != data_size:
        msg = f"its tensors take {position} bytes, but {data_size} follow the header"
        raise _UnreadableError(msg)


def _read_safetensors(content: bytes, specs: Mapping[str, ArraySpec] | None) -> dict[str, Arr]:
    length, header = _st_header(content, _st_header_limit(specs))
    tensors = _st_entries(header)
    start = 8 + length
    _st_check(tensors, specs, len(content) - start)
    # Every size is now backed by the file's own bytes. astype copies: the arrays are writable,
    # native-endian and share nothing with the file's bytes.
    return {
        t.key: np.frombuffer(content, dtype="<f8", count=math.prod(t.shape), offset=start + t.start)
        .astype(np.float64)
        .reshape(t.shape)
        for t in tensors
    }


@typechecked
def load_safetensors(
    path: str | os.PathLike[str],
    *,
    expected: Mapping[str, ArraySpec] | None = None,
    where: str = "load_safetensors",
) -> dict[str, Arr]:
    """Read every tensor of the safetensors file `path` into memory (name -> float64 array).

    Arguments:
        path: the file to read, used exactly as given.
        expected: the arrays the file must hold, as for :func:`load_npz`; the dtype kinds of the
            specs are not consulted: only float64 ("F64") tensors are read.
        where: the operation named in error messages (``"Linear.load_weights"``).

    The file is parsed by typed_dezero itself (no safetensors package needed, nothing executed):
    an 8-byte little-endian header length, a JSON header of ``name -> {dtype, shape,
    data_offsets}`` (and an optional ``__metadata__`` object of strings), then the tensors' bytes.
    Everything is checked before any array is allocated: the header's length (bounded by what the
    expected names and shapes need), its JSON (duplicate names refused), the names against
    `expected`, each dtype ("F64" only), shape and size, and that the tensors' bytes neither overlap
    nor leave gaps and fill the file exactly. Given fixed shapes, no more bytes are read than a file
    holding them can have. The arrays returned are writable copies, owning their memory.

    Errors: FileNotFoundError (and other OSErrors) from the file system; :class:`WeightsFileError`
    (a ValueError): ``"<where>: '<path>' is not a readable .safetensors weights file (...)"``, or
    ``"<where>: '<path>' does not fit: ..."`` for a tensor of another dtype or shape.
    """
    name = _fspath(where, path)
    specs = _check_expected(where, expected)
    limit = None if specs is None else _st_file_limit(specs, _st_header_limit(specs))
    content = _read_bounded(name, limit)
    try:
        _check_size(content, limit)
        return _read_safetensors(content, specs)
    except _UnfitError as error:
        msg = f"{where}: {name!r} does not fit: {error}"
        raise WeightsFileError(msg) from error
    except _UnreadableError as error:
        msg = f"{where}: {name!r} is not a readable .safetensors weights file ({error})"
        raise WeightsFileError(msg) from error


# -- either format --------------------------------------------------------------------------------


def save_weights_file(
    where: str,
    path: str | os.PathLike[str],
    arrays: Mapping[str, npt.NDArray[Any]],
    format: WeightsFormat | None,  # noqa: A002 - the name save_weights takes
) -> None:
    """Write `arrays` to `path` in the format :func:`weights_format` picks."""
    if weights_format(where, path, format) == "safetensors":
        save_safetensors(path, arrays)
    else:
        save_npz(path, arrays)


def load_weights_file(
    where: str,
    path: str | os.PathLike[str],
    expected: Mapping[str, ArraySpec],
    format: WeightsFormat | None,  # noqa: A002 - the name load_weights takes
) -> dict[str, npt.NDArray[Any]]:
    """Read the arrays of `path` in the format :func:`weights_format` picks (see the loaders)."""
    if weights_format(where, path, format) == "safetensors":
        return dict(load_safetensors(path, expected=expected, where=where))
    return load_npz(path, expected=expected, where=where)
