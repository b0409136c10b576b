"""MNIST: reading IDX files (raw and gzipped), validating them, and downloading from a local server.

Every download in these tests comes from an http.server on 127.0.0.1 started in a thread.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typing_extensions import override

from tests.data import MNIST_NAMES, U8, idx_bytes, tiny_mnist, write_mnist
from typed_dezero import DezeroError
from typed_dezero.datasets import MNIST, MNIST_SHA256, MNIST_TRANSFORM, MNIST_URL, DownloadError
from typed_dezero.transforms import Normalize


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_in(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# -- reading local files -------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_reads_idx_files(tmp_path: Path, gz: bool, train: bool) -> None:
    images, labels = tiny_mnist(n=6, seed=int(train))
    write_mnist(tmp_path, images, labels, train=train, gz=gz)
    ds = MNIST(train=train, transform=None, root=tmp_path)
    assert len(ds) == 6
    assert ds.data.dtype == np.float64
    assert ds.data.shape == (6, 1, 28, 28)
    np.testing.assert_array_equal(ds.data[:, 0], images.astype(np.float64))
    assert ds.label.dtype == np.int64
    np.testing.assert_array_equal(ds.label, labels)
    x, t = ds[5]
    np.testing.assert_array_equal(x, images[5][np.newaxis].astype(np.float64))
    assert int(t) == labels[5]


def test_default_transform_flattens_and_scales_to_unit_range(tmp_path: Path) -> None:
    images, labels = tiny_mnist()
    write_mnist(tmp_path, images, labels)
    ds = MNIST(root=tmp_path)
    assert ds.transform is MNIST_TRANSFORM
    x, _ = ds[2]
    assert x.shape == (784,)
    np.testing.assert_allclose(x, images[2].reshape(-1) / 255.0)
    scaled, _ = MNIST(root=str(tmp_path), transform=Normalize(0.0, 255.0))[2]
    assert scaled.shape == (1, 28, 28)
    np.testing.assert_allclose(scaled[0], images[2] / 255.0)


def test_raw_files_are_preferred_to_gzipped_ones(tmp_path: Path) -> None:
    images, labels = tiny_mnist(n=3)
    write_mnist(tmp_path, images, labels, gz=True)
    write_mnist(tmp_path, images[:2], labels[:2], gz=False)
    assert len(MNIST(root=tmp_path)) == 2


def test_empty_files_give_an_empty_dataset(tmp_path: Path) -> None:
    images, labels = tiny_mnist(n=0)
    write_mnist(tmp_path, images, labels)
    ds = MNIST(root=tmp_path)
    assert len(ds) == 0
    assert ds.data.shape == (0, 1, 28, 28)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r"MNIST: neither .*train-images-idx3-ubyte nor .*\.gz exists; pass download=True",
    ):
        MNIST(root=tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_default_root_is_in_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = tmp_path / ".typed_dezero" / "mnist"
    with pytest.raises(FileNotFoundError, match=str(expected)):
        MNIST()
    images, labels = tiny_mnist(n=4)
    write_mnist(expected, images, labels, train=False)
    ds = MNIST(train=False)
    assert ds.root == expected
    assert len(ds) == 4


def _write(root: Path, train: bool, images: bytes, labels: bytes) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / MNIST_NAMES[train][0]).write_bytes(images)
    (root / MNIST_NAMES[train][1]).write_bytes(labels)


def _good() -> tuple[bytes, bytes]:
    images, labels = tiny_mnist(n=4)
    return idx_bytes(images), idx_bytes(labels)


def _corrupt_cases() -> list[tuple[str, bytes, bytes, str, str]]:
    images, labels = _good()
    _, labels_arr = tiny_mnist(n=4)
    wrong_size = np.zeros((4, 27, 28), dtype=np.uint8)
    big_label = labels_arr.copy()
    big_label[1] = 10
    return [
        (
            "truncated data",
            images[:-1],
            labels,
            "train-images",
            r"is truncated or corrupt: its header declares shape \(4, 28, 28\), that is 3136 bytes of data, "
            r"but the file holds 3135",
        ),
        (
            "trailing bytes",
            images,
            labels + b"\0",
            "train-labels",
            r"declares shape \(4,\), that is 4 bytes of data, but the file holds 5",
        ),
        (
            "truncated header",
            images[:10],
            labels,
            "train-images",
            "is truncated: 10 bytes, less than the 16-byte IDX header",
        ),
        ("empty file", images, b"", "train-labels", "is truncated: 0 bytes, less than the 8-byte IDX header"),
        (
            "labels as images",
            idx_bytes(np.zeros(20, dtype=np.uint8)),
            labels,
            "train-images",
            "is not an IDX file of 3-d unsigned bytes: magic number 0x00000801, expected 0x00000803",
        ),
        ("images as labels", images, images, "train-labels", "magic number 0x00000803, expected 0x00000801"),
        ("int32 data", images, b"\0\0\x0c\x01" + labels[4:], "train-labels", "magic number 0x00000c01"),
        (
            "27x28 images",
            idx_bytes(wrong_size),
            labels,
            "train-images",
            r"holds images of shape \(27, 28\), expected \(28, 28\)",
        ),
        (
            "count mismatch",
            images,
            idx_bytes(labels_arr[:3]),
            "train-images",
            "holds 4 images but .*train-labels-idx1-ubyte 3 labels",
        ),
        ("label 10", images, idx_bytes(big_label), "train-labels", r"holds label 10; digits are 0\.\.9"),
        ("bad gzip", b"\x1f\x8b" + b"not really gzip", labels, "train-images", "is not a valid gzip file"),
        ("cut gzip", gzip.compress(images)[:100], labels, "train-images", "is not a valid gzip file"),
        (
            "corrupt gzip",
            _flip_byte(gzip.compress(images), 60),
            labels,
            "train-images",
            "is not a valid gzip file",
        ),
    ]


def _flip_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


CORRUPT = _corrupt_cases()


@pytest.mark.parametrize(
    ("images", "labels", "named", "message"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT]
)
def test_corrupt_files_raise_value_errors_naming_the_file(
    tmp_path: Path, images: bytes, labels: bytes, named: str, message: str
) -> None:
    _write(tmp_path, True, images, labels)
    with pytest.raises(ValueError, match=f"^MNIST: {tmp_path}/{named}.*{message}") as info:
        MNIST(root=tmp_path)
    assert isinstance(info.value, DezeroError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"url": "ftp://example.org/mnist/"},
            "url must be an http:// or https:// URL, got 'ftp://example.org/mnist/'",
        ),
        ({"url": "example.org/mnist"}, "url must be an http:// or https:// URL"),
        ({"url": "http://"}, "url must be an http:// or https:// URL"),
        (
            {"checksums": {"a.gz": "abc"}},
            r"checksums\['a.gz'\] must be 64 lowercase hex digits \(SHA-256\), got 'abc'",
        ),
        ({"checksums": {"a.gz": "A" * 64}}, "must be 64 lowercase hex digits"),
        ({"checksums": {"a.gz": "g" * 64}}, "must be 64 lowercase hex digits"),
    ],
)
def test_bad_download_settings(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^MNIST: .*{message}"):
        MNIST(root=tmp_path, **kwargs)


def test_network_settings_are_checked_by_hand_too(tmp_path: Path) -> None:
    # These checks hold when runtime type checking is switched off; beartype answers first otherwise.
    mnist = object.__new__(MNIST)
    with pytest.raises(TypeError, match=r"MNIST: download must be True or False, got str \('yes'\)"):
        inspect.unwrap(MNIST.__init__)(mnist, root=tmp_path, download="yes")
    with pytest.raises(TypeError, match=r"MNIST: checksums must map file names to SHA-256 digests, got list"):
        inspect.unwrap(MNIST.__init__)(mnist, root=tmp_path, checksums=["abc"])


def test_the_default_source_and_digests() -> None:
    assert MNIST_URL.startswith("https://")
    assert sorted(MNIST_SHA256) == sorted(f"{name}.gz" for pair in MNIST_NAMES.values() for name in pair)
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in MNIST_SHA256.values())
    with pytest.raises(TypeError):
        MNIST_SHA256["x"] = "y"  # type: ignore[index]


def test_local_files_never_touch_the_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    images, labels = tiny_mnist()
    write_mnist(tmp_path, images, labels)
    assert len(MNIST(root=tmp_path, download=True)) == 5


# -- downloading from a local server -------------------------------------------------------------


@dataclass
class Server:
    """A local HTTP server: `files` by URL path; paths under /cut/ send half of the body and hang up."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict[str, bytes])
    requests: list[str] = field(default_factory=list[str])


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    state = Server(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.files.get(self.path.removeprefix("/cut"))
            if body is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path.startswith("/cut/"):
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            else:
                self.wfile.write(body)

        @override
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/mnist/"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _serve_split(server: Server, images: U8, labels: U8, train: bool = True) -> dict[str, str]:
    """Put the split's gzipped files on the server; return their digests by file name."""
    digests: dict[str, str] = {}
    for name, array in zip(MNIST_NAMES[train], (images, labels), strict=True):
        body = gzip.compress(idx_bytes(array))
        server.files[f"/mnist/{name}.gz"] = body
        digests[f"{name}.gz"] = _sha256(body)
    return digests


def test_download_fetches_verifies_and_stores_the_files(tmp_path: Path, server: Server) -> None:
    images, labels = tiny_mnist(n=7)
    digests = _serve_split(server, images, labels)
    root = tmp_path / "new" / "folder"
    ds = MNIST(root=root, transform=None, download=True, url=server.url, checksums=digests)
    np.testing.assert_array_equal(ds.data[:, 0], images)
    np.testing.assert_array_equal(ds.label, labels)
    assert _files_in(root) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert server.requests == ["/mnist/train-images-idx3-ubyte.gz", "/mnist/train-labels-idx1-ubyte.gz"]
    assert (
        _sha256((root / "train-images-idx3-ubyte.gz").read_bytes()) == digests["train-images-idx3-ubyte.gz"]
    )
    MNIST(root=root, download=True, url=server.url, checksums=digests)
    assert len(server.requests) == 2  # present files are not fetched again


def test_download_fetches_only_missing_files_and_accepts_a_url_without_slash(
    tmp_path: Path, server: Server
) -> None:
    images, labels = tiny_mnist(n=3)
    digests = _serve_split(server, images, labels, train=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    ds = MNIST(train=False, root=tmp_path, download=True, url=server.url.rstrip("/"), checksums=digests)
    assert len(ds) == 3
    assert server.requests == ["/mnist/t10k-images-idx3-ubyte.gz"]


def test_wrong_checksum_leaves_no_file(tmp_path: Path, server: Server) -> None:
    images, labels = tiny_mnist()
    digests = _serve_split(server, images, labels)
    digests["train-images-idx3-ubyte.gz"] = "0" * 64
    with pytest.raises(
        DownloadError,
        match=r"train-images-idx3-ubyte.gz has SHA-256 [0-9a-f]{64}, expected 0{64}; it was discarded",
    ) as info:
        MNIST(root=tmp_path, download=True, url=server.url, checksums=digests)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, DezeroError)
    assert _files_in(tmp_path) == []


def test_a_cut_off_download_leaves_no_file(tmp_path: Path, server: Server) -> None:
    images, labels = tiny_mnist()
    digests = _serve_split(server, images, labels)
    cut_url = server.url.replace("/mnist/", "/cut/mnist/")
    with pytest.raises(
        DownloadError,
        match=r"MNIST: the download from .*/cut/mnist/train-images-idx3-ubyte\.gz was cut off after "
        r"\d+ of \d+ bytes",
    ):
        MNIST(root=tmp_path, download=True, url=cut_url, checksums=digests)
    assert _files_in(tmp_path) == []


def test_http_404_leaves_no_file(tmp_path: Path, server: Server) -> None:
    with pytest.raises(
        DownloadError,
        match=r"MNIST: downloading http://127.0.0.1:\d+/mnist/train-images-idx3-ubyte.gz failed: .*404",
    ) as info:
        MNIST(root=tmp_path, download=True, url=server.url)
    assert isinstance(info.value.__cause__, OSError)
    assert _files_in(tmp_path) == []


def test_unreachable_server(tmp_path: Path, server: Server) -> None:
    # Port 1 on the loopback interface: nothing listens there, the connection is refused at once.
    with pytest.raises(
        DownloadError,
        match=r"MNIST: downloading http://127\.0\.0\.1:1/mnist/train-images-idx3-ubyte\.gz failed",
    ):
        MNIST(root=tmp_path, download=True, url="http://127.0.0.1:1/mnist/")
    assert _files_in(tmp_path) == []


def test_a_file_without_a_digest_is_not_downloaded(tmp_path: Path, server: Server) -> None:
    images, labels = tiny_mnist()
    digests = _serve_split(server, images, labels)
    del digests["train-labels-idx1-ubyte.gz"]
    with pytest.raises(
        ValueError, match=r"MNIST: no SHA-256 digest for train-labels-idx1-ubyte\.gz in checksums"
    ):
        MNIST(root=tmp_path, download=True, url=server.url, checksums=digests)
    assert server.requests == ["/mnist/train-images-idx3-ubyte.gz"]
    assert _files_in(tmp_path) == ["train-images-idx3-ubyte.gz"]


class _Interrupted:
    """A response that delivers one chunk, then the user presses Ctrl-C."""

    headers: dict[str, str] = {}  # noqa: RUF012

    def __init__(self) -> None:
        self.calls = 0

    def __enter__(self) -> _Interrupted:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def read(self, size: int) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt
        return b"x" * size


def _opener(response: type[_Interrupted]) -> Callable[[str, float], _Interrupted]:
    def urlopen(url: str, timeout: float) -> _Interrupted:
        return response()

    return urlopen


def test_an_interrupted_download_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", _opener(_Interrupted))
    with pytest.raises(KeyboardInterrupt):
        MNIST(root=tmp_path, download=True)
    assert _files_in(tmp_path) == []


def test_a_download_without_content_length_is_checked_by_its_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Whole(_Interrupted):
        @override
        def read(self, size: int) -> bytes:
            self.calls += 1
            return body if self.calls == 1 else b""

    images, labels = tiny_mnist(n=2)
    body = gzip.compress(idx_bytes(images))
    monkeypatch.setattr(urllib.request, "urlopen", _opener(Whole))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    ds = MNIST(root=tmp_path, download=True, checksums={"train-images-idx3-ubyte.gz": _sha256(body)})
    assert len(ds) == 2
    assert _files_in(tmp_path) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte"]
