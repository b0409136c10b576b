"""Files: weights (Layer.save_weights/load_weights, Optimizer.save/load) and datasets (MNIST IDX).
An interrupted save leaves the previous file intact (its permissions too) and no temporary file,
the error reaches the caller as itself, and no zipfile object left behind fails later in a
finalizer; a truncated, corrupt or foreign file gives a clear error and changes nothing; loading
never runs code from the file. (tests/test_io.py covers save_npz/load_npz themselves; this extends
the checks to the layers, the optimizers and MNIST. test_save_interrupts.py sends real signals,
test_weights_limits.py checks that loading stays within the model's sizes.)"""

from __future__ import annotations

import builtins
import errno
import gc
import gzip
import io
import os
import pickle
import stat
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import typed_dezero.functions as F
import typed_dezero.layers as L
from tests.data import MNIST_NAMES, idx_bytes, tiny_mnist
from typed_dezero import DezeroError, Layer, WeightsFileError
from typed_dezero._io import load_npz
from typed_dezero.datasets import MNIST
from typed_dezero.optimizers import Adam

from .harness import COUNTS, address_space_cap, snapshot

ERRORS: Final[dict[str, BaseException]] = {
    "disk full": OSError(errno.ENOSPC, "No space left on device"),
    "interrupt": KeyboardInterrupt(),
    "out of memory": MemoryError(),
}


def _fresh(error: BaseException) -> BaseException:
    """A new exception like `error`: raising the shared one would keep the traceback of the last
    raise (and the frames it holds) alive from one test to the next."""
    return type(error)(*error.args)


def _fail_on_second_array(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    real = np.lib.format.write_array
    calls = [0]

    def failing(fp: Any, array: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            fp.write(b"\x93NUMPY half an array")  # some bytes are out when the write fails
            raise _fresh(error)
        real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing)


def _fail(monkeypatch: pytest.MonkeyPatch, where: str, error: BaseException) -> None:
    """Make the save fail at `where`: while writing the second array, while opening an archive
    member (after zipfile has marked the archive as being written), while setting up the archive,
    while closing it (its central directory), at fsync, at the final rename, just after the rename
    (the new file is complete), when creating the temporary file, right after creating it, or when
    keeping the previous file's permissions."""
    if where == "second array":
        _fail_on_second_array(monkeypatch, error)
        return

    def fail(*args: object, **kwargs: object) -> None:
        raise _fresh(error)

    if where == "zip close":
        monkeypatch.setattr(zipfile.ZipFile, "close", fail)
    elif where == "member open":
        monkeypatch.setattr(zipfile._ZipWriteFile, "__init__", fail)  # type: ignore[attr-defined]  # zipfile's member writer
    elif where == "archive open":
        monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", fail)
        monkeypatch.setattr(zipfile.ZipFile, "__init__", _failing_after(zipfile.ZipFile.__init__, error))
    elif where == "after rename":
        monkeypatch.setattr(os, "replace", _failing_after(os.replace, error))
    elif where == "temporary file":
        monkeypatch.setattr(os, "open", fail)
        monkeypatch.setattr(builtins, "open", fail)
    elif where == "after creation":  # before the temporary file's identity is known
        monkeypatch.setattr(os, "fstat", _failing_once(os.fstat, error))
    elif where == "permissions":
        monkeypatch.setattr(os, "chmod", fail)
        monkeypatch.setattr(os, "fchmod", fail)
    else:
        monkeypatch.setattr(os, where, fail)


def _failing_after(real: Callable[..., Any], error: BaseException) -> Callable[..., None]:
    """`real`, then `error`: the call did its work, and the interrupt came right after."""

    def call(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise _fresh(error)

    return call


def _failing_once(real: Callable[..., Any], error: BaseException) -> Callable[..., Any]:
    """`error` at the first call, `real` afterwards."""
    calls = [0]

    def call(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise _fresh(error)
        return real(*args, **kwargs)

    return call


WHERE: Final = [
    "second array",
    "member open",
    "archive open",
    "zip close",
    "fsync",
    "replace",
    "after rename",
    "temporary file",
    "after creation",
    "permissions",
]


def _model() -> L.Linear:
    model = L.Linear(3, in_size=2, rng=np.random.default_rng(0))
    F.sum(model(np.ones((4, 2)))).backward()
    return model


def _save_layer(model: L.Linear, optimizer: Adam, path: Path) -> None:
    model.save_weights(path)


def _save_optimizer(model: L.Linear, optimizer: Adam, path: Path) -> None:
    optimizer.save(path)


def _state(save: str, model: L.Linear, optimizer: Adam) -> dict[str, np.ndarray[Any, Any]]:
    return dict(model.state_dict() if save == "Layer.save_weights" else optimizer.state_dict())


SAVES: Final[dict[str, Callable[[L.Linear, Adam, Path], None]]] = {
    "Layer.save_weights": _save_layer,
    "Optimizer.save": _save_optimizer,
}


@pytest.mark.parametrize("save", list(SAVES))
@pytest.mark.parametrize("error", list(ERRORS))
@pytest.mark.parametrize(
    ("existing", "where"),
    [(e, w) for e in (True, False) for w in WHERE if e or w != "permissions"],  # a new file has none to keep
    ids=lambda v: v if isinstance(v, str) else ("overwrite" if v else "new"),
)
def test_an_interrupted_save_keeps_the_previous_file_and_leaves_no_temporary(  # noqa: PLR0917 - pytest parameters
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, save: str, error: str, where: str, existing: bool
) -> None:
    model = _model()
    optimizer = Adam().setup(model)
    optimizer.update()
    path = tmp_path / "weights.npz"
    if existing:
        SAVES[save](model, optimizer, path)
    before = path.read_bytes() if existing else None
    F.sum(model(np.ones((4, 2)))).backward()
    optimizer.update()  # what would be saved now differs from the file
    watched = (model, optimizer)
    state = snapshot(watched)
    if existing:
        path.chmod(0o640)  # kept by the save (see "permissions")
    unraisable: list[str] = []

    def record(u: sys.UnraisableHookArgs) -> None:
        unraisable.append(f"{u.exc_value!r} in {u.object!r}")

    monkeypatch.setattr(sys, "unraisablehook", record)
    _fail(monkeypatch, where, ERRORS[error])
    COUNTS["faults"] += 1
    with pytest.raises(type(ERRORS[error])) as raised:
        SAVES[save](model, optimizer, path)
    assert type(raised.value) is type(ERRORS[error])  # the error itself, not one wrapping it
    del raised  # its traceback holds the save's frames: what they held is finalised now
    gc.collect()
    monkeypatch.undo()
    assert unraisable == []  # no finalizer failed (a zipfile object left behind, say)
    renamed = where == "after rename"
    assert sorted(os.listdir(tmp_path)) == (["weights.npz"] if existing or renamed else [])
    if renamed:  # the interrupt came after the rename: the new file is complete
        assert set(load_npz(path)) == set(_state(save, model, optimizer))
    elif existing:
        assert path.read_bytes() == before
    if existing and os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert snapshot(watched) == state  # saving never changes what is saved
    SAVES[save](model, optimizer, path)  # and the next save works
    assert sorted(os.listdir(tmp_path)) == ["weights.npz"]


EXECUTED: Final[list[str]] = []


def run_payload(note: str) -> None:
    EXECUTED.append(note)


class Payload:
    """Unpickling it calls run_payload (pickled by reference): loading a file that holds it must
    never do so."""

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return (run_payload, ("payload ran",))


def _evil_npz(keys: dict[str, np.ndarray[Any, Any]], under: str = "evil") -> bytes:
    """An .npz of `keys` with the pickled payload under the name `under` (a new key, or one of
    `keys`, which it replaces)."""
    payload = np.empty(1, dtype=object)
    payload[0] = Payload()
    buffer = io.BytesIO()
    np.savez(buffer, **{**keys, under: payload})  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record any attempt to unpickle (numpy would call pickle.load for an object array)."""
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> object:
        attempts.append("pickle used")
        msg = "unpickling attempted"
        raise AssertionError(msg)

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    EXECUTED.clear()
    yield attempts
    assert EXECUTED == []


def test_the_payload_is_real(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    path.write_bytes(_evil_npz({"W": np.ones(2)}))
    EXECUTED.clear()
    with np.load(path, allow_pickle=True) as npz:
        _ = npz["evil"]
    assert EXECUTED == ["payload ran"]


# The payload under a name the model does not have is refused from the archive's directory, before
# any member is opened; under one of the model's names, from the member's .npy header.
PAYLOAD_PLACES: Final = {
    "extra member": ("evil", r"unexpected \['evil'\]"),
    "in place of an array": ("W", "Object arrays cannot be loaded when allow_pickle=False"),
}


@pytest.mark.parametrize("place", list(PAYLOAD_PLACES))
def test_loading_weights_never_runs_code_from_the_file(
    tmp_path: Path, no_unpickling: list[str], place: str
) -> None:
    model = _model()
    path = tmp_path / "evil.npz"
    under, match = PAYLOAD_PLACES[place]
    path.write_bytes(_evil_npz({"W": np.zeros((2, 3)), "b": np.zeros(3)}, under))
    state = snapshot(model)
    COUNTS["faults"] += 1
    with pytest.raises(WeightsFileError, match=match):
        model.load_weights(path)
    assert snapshot(model) == state
    assert no_unpickling == []


@pytest.mark.parametrize("place", ["extra member", "in place of an array"])
def test_loading_optimizer_state_never_runs_code_from_the_file(
    tmp_path: Path, no_unpickling: list[str], place: str
) -> None:
    model = _model()
    optimizer = Adam().setup(model)
    optimizer.update()
    path = tmp_path / "evil.npz"
    under, match = ("evil", r"unexpected \['evil'\]") if place == "extra member" else PAYLOAD_PLACES[place]
    path.write_bytes(_evil_npz(optimizer.state_dict(), "m/0" if under == "W" else under))
    state = snapshot(optimizer)
    COUNTS["faults"] += 1
    with pytest.raises(WeightsFileError, match=rf"Adam\.load: .*{match}"):
        optimizer.load(path)
    assert snapshot(optimizer) == state
    assert no_unpickling == []


def _weights(model: Layer[..., Any], tmp: Path) -> bytes:
    path = tmp / "good.npz"
    model.save_weights(path)
    return path.read_bytes()


@settings(max_examples=4 * settings().max_examples)
@given(
    cut=st.integers(0, 3000),
    flips=st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 255)), max_size=4),
    compress=st.booleans(),
)
def test_damaged_weights_load_or_fail_without_changing_the_model(
    tmp_path_factory: pytest.TempPathFactory, cut: int, flips: list[tuple[int, int]], compress: bool
) -> None:
    tmp = tmp_path_factory.mktemp("damaged")
    source = L.Linear(3, in_size=2, rng=np.random.default_rng(0))
    data = bytearray(_weights(source, tmp))
    if not compress:  # the same arrays stored uncompressed: damage lands in the data itself
        arrays = {k: np.asarray(v) for k, v in np.load(tmp / "good.npz").items()}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        data = bytearray(buffer.getvalue())
    for where, xor in flips:
        data[where % len(data)] ^= xor
    path = tmp / "damaged.npz"
    path.write_bytes(bytes(data[: len(data) - cut % len(data)]))
    target = L.Linear(3, in_size=2, rng=np.random.default_rng(1))
    before = snapshot(target)
    COUNTS["faults"] += 1
    message = ""
    try:
        target.load_weights(path)
    except (WeightsFileError, DezeroError) as error:
        message = f"{type(error).__name__}: {error}"
    if message:
        assert message.startswith(("WeightsFileError", "DezeroValueError", "ShapeError", "DezeroTypeError"))
        assert str(path) in message or "load_state_dict" in message
        assert snapshot(target) == before
    else:
        for key, value in target.state_dict().items():  # a damage that left a valid file
            assert value.shape == source.state_dict()[key].shape


# -- MNIST IDX files ------------------------------------------------------------------------------


def _idx_pair() -> tuple[bytes, bytes]:
    images, labels = tiny_mnist(n=3)
    return idx_bytes(images), idx_bytes(labels)


@settings(max_examples=4 * settings().max_examples)
@given(
    which=st.sampled_from([0, 1]),
    cut=st.integers(0, 4000),
    flips=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 255)), max_size=3),
    gz=st.booleans(),
)
def test_damaged_idx_files_load_or_fail_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, which: int, cut: int, flips: list[tuple[int, int]], gz: bool
) -> None:
    root = tmp_path_factory.mktemp("mnist")
    files = list(_idx_pair())
    data = bytearray(gzip.compress(files[which]) if gz else files[which])
    for where, xor in flips:  # the first bytes: magic number, dimension count, sizes (or gzip header)
        data[where % len(data)] ^= xor
    files[which] = bytes(data[: len(data) - cut % len(data)])
    names = list(MNIST_NAMES[True])
    if gz:
        names[which] += ".gz"
    for name, content in zip(names, files, strict=True):
        (root / name).write_bytes(content)
    before = {name: (root / name).read_bytes() for name in names}
    COUNTS["faults"] += 1
    message, dataset = "", None
    with address_space_cap():  # a header declaring a giant array must not make MNIST allocate it
        try:
            dataset = MNIST(root=root, transform=None)
        except ValueError as error:
            message = f"{isinstance(error, DezeroError)}: {error}"
    if dataset is None:
        assert message.startswith("True: MNIST: "), message  # a DezeroError
        assert str(root / names[which]) in message or ("holds" in message and str(root) in message), message
    else:
        assert dataset.data.shape[1:] == (1, 28, 28)
    assert sorted(os.listdir(root)) == sorted(names)  # nothing written, nothing left behind
    assert {name: (root / name).read_bytes() for name in names} == before


def test_an_idx_header_declaring_a_giant_array_is_refused_before_allocating(tmp_path: Path) -> None:
    images, labels = _idx_pair()
    giant = bytes([0, 0, 8, 3]) + (2**32 - 1).to_bytes(4, "big") * 3 + images[16:]
    (tmp_path / MNIST_NAMES[True][0]).write_bytes(giant)
    (tmp_path / MNIST_NAMES[True][1]).write_bytes(labels)
    COUNTS["faults"] += 1
    with address_space_cap(), pytest.raises(ValueError, match=r"its header declares shape \(4294967295, "):
        MNIST(root=tmp_path)
