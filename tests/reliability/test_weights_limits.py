"""Bounded loading of weights and optimizer files: a small file can never make the loader allocate
or inflate more than the model it is loaded into needs.

Every file here is built by hand (``build_zip``), so that its zip directory and its .npy headers
can lie: an array declared giant in a file of a few hundred bytes, a zip bomb, sizes in the zip
directory that disagree with the .npy header, unexpected or duplicate members, dtypes and shapes
that do not fit the model. Each must be a WeightsFileError raised before the array's data is read,
which the tests check three ways: the peak of memory traced while loading (tracemalloc sees
NumPy's buffers), the bytes the zip reader inflated or copied out of each member, and the members
it opened. The model is left as it was."""

from __future__ import annotations

import contextlib
import functools
import io
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pytest

import typed_dezero.functions as F
import typed_dezero.layers as L
from typed_dezero import Layer, WeightsFileError
from typed_dezero._io import ArraySpec, load_npz, save_npz
from typed_dezero.optimizers import Adam

from .harness import COUNTS, address_space_cap, snapshot

MiB: Final = 1 << 20

# -- building archives by hand ------------------------------------------------------------------


def npy(shape: tuple[int, ...], descr: object = "<f8", data: bytes = b"", version: int = 1) -> bytes:
    """A .npy member: numpy's header for `shape` and `descr` (as numpy's dtype.descr gives it),
    then `data` (whatever it is)."""
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"
    prefix = 8 + (2 if version == 1 else 4)
    padded = text + " " * (-(prefix + len(text) + 1) % 64) + "\n"
    size = len(padded).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + padded.encode("latin1") + data


def header_size(content: bytes) -> int:
    """The length of the .npy header at the start of `content` (magic, length, text)."""
    if content[6] == 1:
        return 10 + int.from_bytes(content[8:10], "little")
    return 12 + int.from_bytes(content[8:12], "little")


def npy_of(array: npt.NDArray[Any]) -> bytes:
    """The .npy bytes numpy writes for `array`."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@dataclass
class Entry:
    """One member of a hand-built archive. `stored` is what the archive holds (the deflate stream
    for deflated members); the sizes and CRC in the zip directory default to the true ones."""

    name: str
    content: bytes
    deflated: bool = False
    stored: bytes | None = None
    file_size: int | None = None
    compress_size: int | None = None
    crc: int | None = None
    data: bytes = field(init=False, default=b"")

    def __post_init__(self) -> None:
        if self.stored is None:
            self.stored = deflate(self.content) if self.deflated else self.content
        self.data = self.stored


def build_zip(entries: list[Entry], prefix: bytes = b"") -> bytes:
    """A zip archive of `entries` exactly as declared (no zip64, no data descriptors)."""
    body = bytearray(prefix)
    directory = bytearray()
    for entry in entries:
        name = entry.name.encode()
        method = zipfile.ZIP_DEFLATED if entry.deflated else zipfile.ZIP_STORED
        crc = zlib.crc32(entry.content) if entry.crc is None else entry.crc
        csize = len(entry.data) if entry.compress_size is None else entry.compress_size
        usize = len(entry.content) if entry.file_size is None else entry.file_size
        fields = (20, 0x800, method, 0, 0x21, crc, csize, usize, len(name), 0)
        offset = len(body) - len(prefix)
        body += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields) + name + entry.data
        directory += struct.pack("<4s6H3L5HLL", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + name
    end = struct.pack(
        "<4s4H2LH",
        b"PK\x05\x06",
        0,
        0,
        len(entries),
        len(entries),
        len(directory),
        len(body) - len(prefix),
        0,
    )
    return bytes(body + directory + end)


def test_the_hand_built_archives_are_real_zip_files(tmp_path: Path) -> None:
    good = [
        Entry("W.npy", npy_of(np.arange(6.0).reshape(2, 3))),
        Entry("b.npy", npy_of(np.ones(3)), deflated=True),
    ]
    path = tmp_path / "good.npz"
    path.write_bytes(build_zip(good))
    with np.load(path) as npz:  # numpy itself reads them
        assert np.array_equal(npz["W"], np.arange(6.0).reshape(2, 3))
        assert np.array_equal(npz["b"], np.ones(3))
    model = L.Linear(3, in_size=2)
    model.load_weights(path)
    assert np.array_equal(model.W.data, np.arange(6.0).reshape(2, 3))


# -- what loading did ---------------------------------------------------------------------------


@dataclass
class Reading:
    """What one load did: the error, the peak of traced memory, the bytes inflated by zlib and
    the bytes read out of members (per member name), the members opened."""

    error: BaseException | None = None
    peak: int = 0
    inflated: int = 0
    read: dict[str, int] = field(default_factory=dict[str, int])
    opened: list[str] = field(default_factory=list[str])


REAL_DECOMPRESSOBJ: Final = zlib.decompressobj


class CountingDecompressor:
    """zlib's decompressor (zipfile makes one per deflated member), counting what it produces."""

    def __init__(self, reading: Reading, wbits: int) -> None:
        self._inner = REAL_DECOMPRESSOBJ(wbits)
        self._reading = reading

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self._inner.decompress(data, max_length)
        self._reading.inflated += len(out)
        return out

    def flush(self, *args: int) -> bytes:
        out = self._inner.flush(*args)
        self._reading.inflated += len(out)
        return out

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unconsumed_tail(self) -> bytes:
        return self._inner.unconsumed_tail


@contextlib.contextmanager
def watching(monkeypatch: pytest.MonkeyPatch) -> Generator[Reading, None, None]:
    reading = Reading()
    real_open = zipfile.ZipFile.open
    real_read = zipfile.ZipExtFile.read

    def decompressobj(wbits: int = zlib.MAX_WBITS) -> CountingDecompressor:
        return CountingDecompressor(reading, wbits)

    def open_member(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        reading.opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    def read(self: zipfile.ZipExtFile, n: int | None = -1) -> bytes:
        data = real_read(self, n)
        reading.read[self.name] = reading.read.get(self.name, 0) + len(data)
        return data

    monkeypatch.setattr(zlib, "decompressobj", decompressobj)
    monkeypatch.setattr(zipfile.ZipFile, "open", open_member)
    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    yield reading
    monkeypatch.undo()


def load(monkeypatch: pytest.MonkeyPatch, call: Callable[[], object]) -> Reading:
    """Run `call` under an address-space cap (a giant allocation must not exhaust the machine)
    and tracemalloc, watching the zip reader; an exception is recorded, not raised."""
    COUNTS["faults"] += 1
    with watching(monkeypatch) as reading, address_space_cap():
        tracemalloc.start()
        try:
            call()
        except Exception as error:
            reading.error = error
        finally:
            reading.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return reading


def refused(reading: Reading, path: Path, match: str, *, peak: int = MiB) -> WeightsFileError:
    error = reading.error
    assert isinstance(error, WeightsFileError), f"{type(error).__name__}: {error}"
    message = str(error)
    assert str(path) in message, message
    assert match in message, message
    assert reading.peak < peak, f"{reading.peak} bytes traced while refusing: {message}"
    return error


# -- the things being loaded --------------------------------------------------------------------


def linear(lazy: bool = False) -> L.Linear:
    """W (2, 3) and b (3,); lazy: W ('?', 3)."""
    return L.Linear(3, in_size=None if lazy else 2, rng=np.random.default_rng(0))


def adam() -> Adam:
    model = linear()
    optimizer = Adam().setup(model)
    F.sum(model(np.ones((4, 2)))).backward()
    optimizer.update()
    return optimizer


def good_members(state: dict[str, npt.NDArray[Any]], *, skip: str = "") -> list[Entry]:
    return [Entry(key + ".npy", npy_of(value)) for key, value in state.items() if key != skip]


LAYER_KEYS: Final = {"W": (2, 3), "b": (3,)}


def layer_file(**replace: Entry) -> list[Entry]:
    """Linear(3, in_size=2)'s file with members replaced by key."""
    state = {"W": np.ones((2, 3)), "b": np.zeros(3)}
    return [replace.get(key, Entry(key + ".npy", npy_of(value))) for key, value in state.items()]


def write(tmp_path: Path, entries: list[Entry], name: str = "w.npz", prefix: bytes = b"") -> Path:
    path = tmp_path / name
    path.write_bytes(build_zip(entries, prefix))
    return path


def loaders() -> dict[str, Callable[[Path], Callable[[], object]]]:
    return {
        "Layer.load_weights": lambda p: lambda: linear().load_weights(p),
        "lazy Layer.load_weights": lambda p: lambda: linear(lazy=True).load_weights(p),
        "load_npz": lambda p: lambda: load_npz(p),
    }


# -- 1. a tiny file declaring a giant array ----------------------------------------------------


GIANT_W: Final = (10**9, 3)  # 24 GB of float64, declared in a few hundred bytes


@pytest.mark.parametrize("deflated", [False, True], ids=["stored", "deflated"])
@pytest.mark.parametrize("loader", list(loaders()))
def test_a_tiny_file_declaring_a_giant_array_is_refused_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str, deflated: bool
) -> None:
    giant = Entry("W.npy", npy(GIANT_W, data=b"\0" * 64), deflated=deflated)
    path = write(tmp_path, layer_file(W=giant))
    assert path.stat().st_size < 1000
    reading = load(monkeypatch, loaders()[loader](path))
    refused(reading, path, "W")
    assert reading.inflated < 64 * 1024


def test_a_tiny_optimizer_file_declaring_giant_state_is_refused_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimizer = adam()
    for key, shape, descr in [("m/0", (10**9, 3), "<f8"), ("t", (10**9,), "<i8")]:
        entries = [*good_members(optimizer.state_dict(), skip=key), Entry(key + ".npy", npy(shape, descr))]
        path = write(tmp_path, entries, name=f"{key.replace('/', '_')}.npz")
        before = snapshot(optimizer)
        reading = load(monkeypatch, functools.partial(optimizer.load, path))
        refused(reading, path, repr(key))
        assert "Adam.load" in str(reading.error)
        assert snapshot(optimizer) == before


# -- 2. zip bombs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zeros_stream() -> tuple[int, bytes]:
    """64 MiB of zeros behind a header declaring them as float64 (8 Mi values), deflated: a
    small member that inflates about 1000-fold."""
    n = 8 * MiB
    header = npy((n,))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunks = [compressor.compress(header)]
    block = bytes(MiB)
    chunks += [compressor.compress(block) for _ in range(8 * n // MiB)]
    chunks.append(compressor.flush())
    return n, b"".join(chunks)


def bomb(zeros: tuple[int, bytes], key: str) -> Entry:
    """The 64 MiB member `key`, its sizes declared truly (its CRC is never reached)."""
    n, stream = zeros
    return Entry(key + ".npy", b"", deflated=True, stored=stream, file_size=len(npy((n,))) + 8 * n, crc=0)


@pytest.mark.parametrize("target", ["Layer.load_weights", "Optimizer.load"])
def test_a_zip_bomb_is_refused_before_inflating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zeros_stream: tuple[int, bytes], target: str
) -> None:
    optimizer = adam()
    model = optimizer.target
    assert isinstance(model, L.Linear)
    if target == "Layer.load_weights":
        path = write(tmp_path, layer_file(W=bomb(zeros_stream, "W")))
        call: Callable[[], object] = lambda: model.load_weights(path)  # noqa: E731
    else:
        entries = [*good_members(optimizer.state_dict(), skip="v/1"), bomb(zeros_stream, "v/1")]
        path = write(tmp_path, entries)
        call = lambda: optimizer.load(path)  # noqa: E731
    assert path.stat().st_size < MiB
    watched = (model, optimizer)
    before = snapshot(watched)
    reading = load(monkeypatch, call)
    refused(reading, path, "does not fit")
    assert reading.inflated < 64 * 1024  # the header only: 64 MiB would have come out
    assert snapshot(watched) == before


def test_a_bomb_declaring_more_than_deflate_can_hold_is_refused_by_plain_load_npz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 KiB of deflate stream cannot hold more than 1032 KiB: a directory claiming 800 MB lies.
    header = npy((10**8,))
    stream = deflate(header + bytes(1000))
    entry = Entry("W.npy", b"", deflated=True, stored=stream, file_size=len(header) + 8 * 10**8, crc=0)
    path = write(tmp_path, [entry])
    reading = load(monkeypatch, lambda: load_npz(path))
    refused(reading, path, "can hold")
    assert reading.inflated == 0
    assert reading.opened == []


def test_a_directory_claiming_less_than_the_stream_holds_is_never_inflated_further(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zeros_stream: tuple[int, bytes]
) -> None:
    # The directory (and the CRC) describe only the first 4 KiB of a 64 MiB stream of zeros: the
    # reader stops there. It is then a header declaring 64 MiB in a 4 KiB member: refused.
    n, stream = zeros_stream
    first = npy((n,)) + bytes(4096)
    entry = Entry("W.npy", b"", deflated=True, stored=stream, file_size=len(first), crc=zlib.crc32(first))
    path = write(tmp_path, [entry])
    reading = load(monkeypatch, lambda: load_npz(path))
    refused(reading, path, "W.npy")
    assert reading.inflated <= len(first) + 8192


# -- 3. names: unexpected and duplicate members, refused before any member is read ---------------


@pytest.mark.parametrize("giant", ["stored", "deflated"])
def test_unexpected_members_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, giant: str
) -> None:
    extra = Entry("W_old.npy", npy(GIANT_W, data=b"\0" * 64), deflated=giant == "deflated")
    path = write(tmp_path, [extra, *layer_file()])
    model = linear()
    before = snapshot(model)
    reading = load(monkeypatch, lambda: model.load_weights(path))
    error = refused(reading, path, "unexpected ['W_old']")
    assert "Linear.load_weights" in str(error)
    assert reading.opened == []
    assert snapshot(model) == before


def test_unexpected_optimizer_members_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimizer = adam()
    extras = [Entry(name, npy(GIANT_W)) for name in ("m/2.npy", "w/0.npy", "t0.npy")]
    path = write(tmp_path, extras + good_members(optimizer.state_dict()))
    reading = load(monkeypatch, lambda: optimizer.load(path))
    refused(reading, path, "unexpected ['m/2', 't0', 'w/0']")
    assert reading.opened == []


def test_missing_layer_members_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, layer_file()[:1])
    reading = load(monkeypatch, lambda: linear().load_weights(path))
    refused(reading, path, "missing ['b']")
    assert reading.opened == []


def test_duplicate_members_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Entry("W.npy", npy(GIANT_W))
    for loader, call in loaders().items():
        path = write(tmp_path, [first, *layer_file()], name=f"{loader}.npz")
        reading = load(monkeypatch, call(path))
        refused(reading, path, "'W.npy' appears twice")
        assert reading.opened == []


def test_a_member_that_names_itself_differently_in_its_local_header_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bytearray(build_zip(layer_file()))
    data[data.index(b"W.npy")] = ord("X")  # the local header's name; the directory still says W.npy
    path = tmp_path / "renamed.npz"
    path.write_bytes(bytes(data))
    refused(load(monkeypatch, lambda: linear().load_weights(path)), path, "not a readable")


# -- 4. headers that do not fit the template -----------------------------------------------------


UNFIT: Final[dict[str, tuple[bool, Entry, str]]] = {
    # label: (lazy target, the member W, what the message says)
    "integer dtype": (False, Entry("W.npy", npy((2, 3), "<i8", bytes(48))), "'W' has dtype int64"),
    "complex dtype": (False, Entry("W.npy", npy((2, 3), "<c16", bytes(96))), "'W' has dtype complex128"),
    "string dtype": (False, Entry("W.npy", npy((2, 3), "<U1", bytes(24))), "'W' has dtype <U1"),
    "structured dtype": (
        False,
        Entry("W.npy", npy((2, 3), [("a", "<f8")], bytes(48))),
        "'W' has dtype [('a', '<f8')]",
    ),
    # A sub-array dtype multiplies the shape: (2, 3) of ('<f8', (1000, 1000)) is 48 MB of float64.
    "sub-array dtype": (
        False,
        Entry("W.npy", npy((2, 3), ("<f8", (1000, 1000)), bytes(48))),
        "sub-array",
    ),
    "object dtype": (
        False,
        Entry("W.npy", npy((2, 3), "|O", bytes(48))),
        "Object arrays cannot be loaded when allow_pickle=False",
    ),
    "transposed": (
        False,
        Entry("W.npy", npy((3, 2), data=bytes(48))),
        "'W' has shape (3, 2), expected (2, 3)",
    ),
    "extra axis": (False, Entry("W.npy", npy((2, 3, 1), data=bytes(48))), "'W' has shape (2, 3, 1)"),
    "scalar": (False, Entry("W.npy", npy((), data=bytes(8))), "'W' has shape ()"),
    "lazy, wrong fixed axis": (True, Entry("W.npy", npy((2, 4), data=bytes(64))), "like ('?', 3)"),
    "lazy, zero in_size": (True, Entry("W.npy", npy((0, 3))), "'W' has shape (0, 3)"),
    "lazy, wrong rank": (True, Entry("W.npy", npy((6,), data=bytes(48))), "'W' has shape (6,)"),
}


@pytest.mark.parametrize("label", list(UNFIT))
def test_a_header_that_does_not_fit_the_template_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str
) -> None:
    lazy, member, match = UNFIT[label]
    path = write(tmp_path, layer_file(W=member))
    model = linear(lazy)
    before = snapshot(model)
    reading = load(monkeypatch, lambda: model.load_weights(path))
    refused(reading, path, match)
    assert reading.read.get("W.npy", 0) <= header_size(member.content)  # the header, never the data
    assert snapshot(model) == before


def test_a_lazy_load_refuses_what_the_constructor_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="in_size must be a positive int"):
        L.Linear(3, in_size=0)
    path = write(tmp_path, layer_file(W=Entry("W.npy", npy((0, 3)))))
    refused(load(monkeypatch, lambda: linear(lazy=True).load_weights(path)), path, "at least 1")

    class Wide(Layer[[], None]):
        """A lazy parameter with a fixed empty axis: any first axis fits in zero bytes."""

        def __init__(self) -> None:
            super().__init__()
            self.declare_lazy_parameter("W", (None, 0))

    ok = write(tmp_path, [Entry("W.npy", npy((5, 0)))], name="ok.npz")
    wide = Wide()
    wide.load_weights(ok)
    assert wide.state_dict()["W"].shape == (5, 0)
    path = write(tmp_path, [Entry("W.npy", npy((2**62, 0)))], name="wide.npz")
    refused(load(monkeypatch, lambda: Wide().load_weights(path)), path, "too large for any array")


def test_an_optimizer_header_that_does_not_fit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    optimizer = adam()
    cases = {
        "t": (npy((), "<f8", bytes(8)), "'t' has dtype float64"),
        "m/0": (npy((3, 2), data=bytes(48)), "'m/0' has shape (3, 2), expected (2, 3)"),
        "v/1": (npy((3,), "<i8", bytes(24)), "'v/1' has dtype int64"),
    }
    for key, (content, match) in cases.items():
        entries = [*good_members(optimizer.state_dict(), skip=key), Entry(key + ".npy", content)]
        path = write(tmp_path, entries, name=key.replace("/", "_") + ".npz")
        before = snapshot(optimizer)
        reading = load(monkeypatch, functools.partial(optimizer.load, path))
        refused(reading, path, match)
        assert f"Adam.load: '{path}' does not fit" in str(reading.error)
        assert reading.read.get(key + ".npy", 0) <= header_size(content)
        assert snapshot(optimizer) == before


# -- 5. sizes: the header, the zip directory and the stored bytes must agree ---------------------


def test_a_stored_member_declaring_more_than_it_holds_is_refused_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Consistent directory (file size = stored size), but the header declares 800 MB in it.
    member = Entry("W.npy", npy((10**8,), data=bytes(100)))
    path = write(tmp_path, [member])
    refused(load(monkeypatch, lambda: load_npz(path)), path, "W.npy")
    # A lazy layer: the header fits the template ('?', 3), the bytes do not.
    member = Entry("W.npy", npy((10**7, 3), data=bytes(100)))
    path = write(tmp_path, layer_file(W=member), name="lazy.npz")
    refused(load(monkeypatch, lambda: linear(lazy=True).load_weights(path)), path, "W.npy")


def test_a_stored_member_whose_directory_sizes_disagree_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = npy_of(np.ones((2, 3)))
    member = Entry("W.npy", content, file_size=len(content) * 1000)
    path = write(tmp_path, layer_file(W=member))
    reading = load(monkeypatch, lambda: linear().load_weights(path))
    refused(reading, path, "W.npy")
    assert reading.read.get("W.npy", 0) == 0


def test_a_compressed_size_beyond_the_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = npy_of(np.ones((2, 3)))
    member = Entry("W.npy", content, deflated=True)
    member.compress_size = 10**6
    path = write(tmp_path, layer_file(W=member))
    refused(load(monkeypatch, lambda: linear().load_weights(path)), path, "W.npy")


@pytest.mark.parametrize("claim", ["more", "less"])
@pytest.mark.parametrize("deflated", [False, True], ids=["stored", "deflated"])
def test_a_directory_size_inconsistent_with_the_header_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, claim: str, deflated: bool
) -> None:
    # The header declares W (2, 3): 48 data bytes. The member holds them plus 4 KiB more (or
    # only 40 of them), and the zip directory and CRC agree with what is there.
    header = npy((2, 3))
    content = header + (bytes(48 + 4096) if claim == "more" else bytes(40))
    path = write(tmp_path, layer_file(W=Entry("W.npy", content, deflated=deflated)))
    model = linear()
    before = snapshot(model)
    reading = load(monkeypatch, lambda: model.load_weights(path))
    refused(reading, path, "W.npy")
    assert snapshot(model) == before
    assert reading.inflated <= len(content) + 8192


def test_a_deflate_stream_that_ends_before_its_declared_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Header, directory and file agree on W (2, 3), but the stream holds 10 of its 48 data bytes
    # (and the CRC is that of what it holds, so that zipfile does not notice).
    header = npy((2, 3))
    held = header + bytes(10)
    entry = Entry("W.npy", header + bytes(48), deflated=True, stored=deflate(held), crc=zlib.crc32(held))
    path = write(tmp_path, layer_file(W=entry))
    model = linear()
    before = snapshot(model)
    refused(
        load(monkeypatch, lambda: model.load_weights(path)),
        path,
        "'W.npy' ends after 10 of its 48 data bytes",
    )
    assert snapshot(model) == before


def test_a_huge_header_length_is_refused_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Version 2.0 headers have a 4-byte length: 4 GB of "header" must never be read.
    content = b"\x93NUMPY\x02\x00" + (2**32 - 1).to_bytes(4, "little") + b"{" * 200
    path = write(tmp_path, [Entry("W.npy", content)])
    reading = load(monkeypatch, lambda: load_npz(path))
    refused(reading, path, "W.npy")
    assert reading.read.get("W.npy", 0) <= 64


def test_a_file_far_larger_than_the_model_needs_is_refused_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A valid archive behind 64 MiB of other data (zip allows a prefix): nothing in it is wrong,
    # but no weights file of Linear(3, in_size=2) can be that large.
    path = write(tmp_path, layer_file(), prefix=bytes(64 * MiB))
    with zipfile.ZipFile(path) as archive:  # (np.load looks for the zip signature at the start)
        assert archive.testzip() is None
    reading = load(monkeypatch, lambda: linear().load_weights(path))
    refused(reading, path, "larger than", peak=16 * MiB)
    optimizer = adam()
    path = write(tmp_path, good_members(optimizer.state_dict()), prefix=bytes(64 * MiB), name="opt.npz")
    refused(load(monkeypatch, lambda: optimizer.load(path)), path, "larger than", peak=16 * MiB)


# -- 6. what must keep loading -------------------------------------------------------------------


def _models() -> Iterator[tuple[str, Callable[[], Layer[..., Any]]]]:
    yield "Linear", linear
    yield "lazy Linear", lambda: linear(lazy=True)
    yield "BatchNorm", L.BatchNorm
    yield "Conv2d", lambda: L.Conv2d(4, 3, rng=np.random.default_rng(0))


@pytest.mark.parametrize("compress", [True, False])
def test_files_of_the_model_still_load_and_zeros_compress_within_the_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compress: bool
) -> None:
    big = L.Linear(2048, in_size=1024, rng=np.random.default_rng(0))
    big.W.data = np.zeros((1024, 2048))  # 16 MiB of zeros: deflate's best ratio, close to 1032:1
    path = tmp_path / "big.npz"
    save_npz(path, big.state_dict(), compress=compress)
    fresh = L.Linear(2048)
    reading = load(monkeypatch, lambda: fresh.load_weights(path))
    assert reading.error is None, reading.error
    if compress:  # what was inflated: the members, and little more
        stored = sum(a.nbytes for a in big.state_dict().values())
        assert stored <= reading.inflated <= stored + 64 * 1024
    else:
        assert reading.inflated == 0
    assert np.array_equal(fresh.W.data, big.W.data)
    assert reading.peak < 3 * big.W.data.nbytes  # the arrays, their float64 copies, little else
    for name, make in _models():
        source = make()
        if name in ("lazy Linear", "BatchNorm"):
            source(np.ones((2, 2)) if name == "lazy Linear" else np.ones((2, 5)))
        elif name == "Conv2d":
            source(np.ones((1, 2, 5, 5)))
        file = tmp_path / f"{name}.npz"
        source.save_weights(file)
        target = make()
        target.load_weights(file)
        for key, value in source.state_dict().items():
            assert np.array_equal(target.state_dict()[key], value), (name, key)


def test_arrays_numpy_wrote_still_load(tmp_path: Path) -> None:
    path = tmp_path / "numpy.npz"
    W = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    np.savez_compressed(path, W=W, b=np.arange(3, dtype=">f8"))
    model = linear()
    model.load_weights(path)
    assert np.array_equal(model.W.data, W)
    assert np.array_equal(model.state_dict()["b"], np.arange(3.0))
    for version in (1, 2, 3):
        header = npy((2, 3), version=version)
        if version == 3:
            header = header[:6] + b"\x03" + header[7:]
        path = write(
            tmp_path, layer_file(W=Entry("W.npy", header + np.ones((2, 3)).tobytes())), f"v{version}.npz"
        )
        model.load_weights(path)
        assert np.array_equal(model.W.data, np.ones((2, 3)))


def test_expected_arrays_can_be_given_to_load_npz(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    save_npz(path, {"W": np.ones((2, 3)), "t": np.array(3)})
    expected = {
        "W": ArraySpec((None, 3)),
        "t": ArraySpec((), kinds="iu"),
        "b": ArraySpec((3,), required=False),
    }
    loaded = load_npz(path, expected=expected)
    assert sorted(loaded) == ["W", "t"]
    with pytest.raises(WeightsFileError, match=r"load_npz: '.*w\.npz' is not a readable .*missing \['b'\]"):
        load_npz(path, expected={**expected, "b": ArraySpec((3,))})
    with pytest.raises(WeightsFileError, match=r"my_loader: '.*w\.npz' does not fit: 't' has dtype int64"):
        load_npz(path, expected={**expected, "t": ArraySpec(())}, where="my_loader")
