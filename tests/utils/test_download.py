"""utils.get_file and show_progress: downloads from a local 127.0.0.1 server into a temporary HOME.

The server is the MNIST tests' one (paths under /cut/ send half of the body and hang up).
"""

from __future__ import annotations

import hashlib
import inspect
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import typed_dezero
from tests.data import test_mnist
from tests.data.test_mnist import Server
from typed_dezero import DezeroError, DezeroTypeError, DezeroValueError
from typed_dezero.errors import DownloadError
from typed_dezero.utils import cache_dir, get_file, show_progress

server = test_mnist.server

BODY = b"typed_dezero " * 1000


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache folder, under a temporary HOME."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path / ".typed_dezero"


def _files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class _Recorder:
    """A progress hook that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, block_num: int, block_size: int, total_size: int) -> None:
        self.calls.append((block_num, block_size, total_size))


def _base(server: Server) -> str:
    return server.url.removesuffix("mnist/")


def test_downloads_into_the_cache_folder_and_returns_the_path(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    path = get_file(_base(server) + "files/data.bin")
    assert isinstance(path, str)
    assert Path(path) == home / "data.bin"
    assert Path(path).read_bytes() == BODY
    assert _files_in(home) == ["data.bin"]  # no temporary file left
    assert server.requests == ["/files/data.bin"]


def test_a_cached_file_is_not_downloaded_again(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    url = _base(server) + "files/data.bin"
    first = get_file(url)
    assert get_file(url) == first
    assert get_file(url, sha256=_sha256(BODY)) == first  # a matching digest: still no request
    assert server.requests == ["/files/data.bin"]


def test_sha256_is_checked_and_may_be_upper_case(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    path = get_file(_base(server) + "files/data.bin", "copy.bin", sha256=_sha256(BODY).upper())
    assert Path(path) == home / "copy.bin"
    assert Path(path).read_bytes() == BODY


def test_a_checksum_mismatch_leaves_nothing_behind(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    url = _base(server) + "files/data.bin"
    expected = "0" * 64
    with pytest.raises(DezeroValueError) as info:
        get_file(url, sha256=expected)
    message = str(info.value)
    assert message.startswith("get_file: ")
    assert url in message
    assert f"SHA-256 {_sha256(BODY)}, expected {expected}" in message
    assert isinstance(info.value, ValueError)
    assert _files_in(home) == []


def test_a_cached_file_with_a_wrong_digest_is_downloaded_again(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    url = _base(server) + "files/data.bin"
    home.mkdir()
    (home / "data.bin").write_bytes(b"stale")
    assert Path(get_file(url)).read_bytes() == b"stale"  # without a digest the cache is trusted
    assert server.requests == []
    path = get_file(url, sha256=_sha256(BODY))
    assert Path(path).read_bytes() == BODY
    assert server.requests == ["/files/data.bin"]
    assert _files_in(home) == ["data.bin"]


def test_a_bad_copy_on_the_server_keeps_the_cached_file(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = b"tampered"
    home.mkdir()
    (home / "data.bin").write_bytes(b"stale")
    with pytest.raises(DezeroValueError, match="expected"):
        get_file(_base(server) + "files/data.bin", sha256=_sha256(BODY))
    assert (home / "data.bin").read_bytes() == b"stale"  # only a verified copy replaces it
    assert _files_in(home) == ["data.bin"]


def test_http_404(home: Path, server: Server) -> None:
    url = _base(server) + "files/missing.bin"
    with pytest.raises(
        DownloadError, match=r"^get_file: downloading .*/files/missing\.bin failed: HTTP 404"
    ) as info:
        get_file(url)
    assert isinstance(info.value, OSError)
    assert isinstance(info.value, DezeroError)
    assert _files_in(home) == []


def test_a_cut_off_download_leaves_nothing_behind(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    with pytest.raises(
        DownloadError,
        match=rf"get_file: the download from .*/cut/files/data\.bin was cut off after \d+ of {len(BODY)}",
    ):
        get_file(_base(server) + "cut/files/data.bin")
    assert _files_in(home) == []


def test_a_refused_connection(home: Path, server: Server) -> None:
    with pytest.raises(DownloadError, match=r"get_file: downloading http://127\.0\.0\.1:1/x\.bin failed"):
        get_file("http://127.0.0.1:1/x.bin")
    assert _files_in(home) == []


class _Response:
    """A response without Content-Length that sends `chunks`, then raises `error` if set."""

    headers: dict[str, str] = {}  # noqa: RUF012 - read-only stand-in for the headers object
    chunks: tuple[bytes, ...] = (BODY,)
    error: BaseException | None = None

    def __init__(self) -> None:
        self.left = list(self.chunks)

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def read(self, size: int) -> bytes:
        if self.left:
            return self.left.pop(0)
        if self.error is not None:
            raise self.error
        return b""


def _serve_with(monkeypatch: pytest.MonkeyPatch, response: type[_Response]) -> None:
    def urlopen(url: str, timeout: float) -> _Response:
        return response()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def test_an_interrupted_download_leaves_neither_file_nor_temporary(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Interrupted(_Response):
        error = KeyboardInterrupt()

    _serve_with(monkeypatch, Interrupted)
    with pytest.raises(KeyboardInterrupt):
        get_file("https://example.org/data.bin")
    assert _files_in(home) == []


def test_a_download_without_content_length_reports_an_unknown_total(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class TwoChunks(_Response):
        chunks = (b"ab", b"cde")

    _serve_with(monkeypatch, TwoChunks)
    hook = _Recorder()
    path = get_file("https://example.org/data.bin", progress=hook)
    assert Path(path).read_bytes() == b"abcde"
    assert [(n, total) for n, _, total in hook.calls] == [(1, -1), (2, -1)]


def test_progress_sees_the_declared_total(home: Path, server: Server) -> None:
    server.files["/files/data.bin"] = BODY
    hook = _Recorder()
    get_file(_base(server) + "files/data.bin", progress=hook)
    calls = hook.calls
    assert calls
    assert all(total == len(BODY) for _, _, total in calls)
    assert calls[-1][0] * calls[-1][1] >= len(BODY)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.org/a/b/weights.npz", "weights.npz"),
        ("https://example.org/a/weights.npz?raw=true#top", "weights.npz"),  # DeZero kept "?raw=true"
        ("https://example.org/my%20file.txt", "my file.txt"),
    ],
)
def test_the_default_file_name_is_the_last_part_of_the_path(
    home: Path, monkeypatch: pytest.MonkeyPatch, url: str, name: str
) -> None:
    _serve_with(monkeypatch, _Response)
    assert get_file(url) == str(home / name)


def test_the_cache_folder_is_dezeros_home_folder_spelling() -> None:
    assert Path(cache_dir) == Path.home() / ".typed_dezero"
    assert typed_dezero.utils.cache_dir == cache_dir


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"url": "ftp://example.org/a.bin"},
            r"url must be an http:// or https:// URL, got 'ftp://example.org/a.bin'",
        ),
        ({"url": "example.org/a.bin"}, r"url must be an http:// or https:// URL"),
        ({"url": "http:///a.bin"}, r"url must be an http:// or https:// URL"),
        (
            {"url": "https://example.org/"},
            r"cannot take a file name from url 'https://example.org/'.*pass file_name",
        ),
        ({"url": "https://example.org/a/.."}, r"cannot take a file name from url .*\(\'\.\.\'\) is empty"),
        ({"url": "https://example.org/a%2Fb"}, r"cannot take a file name .*contains a path separator"),
        ({"file_name": ""}, r"file_name must be a plain file name inside the cache folder, got ''"),
        ({"file_name": "."}, r"file_name must be a plain file name .*got '\.'"),
        ({"file_name": "../evil"}, r"file_name must be a plain file name .*contains a path separator"),
        ({"file_name": "a/b"}, r"file_name must be a plain file name .*got 'a/b'"),
        ({"file_name": "a\0b"}, r"file_name must be a plain file name"),
        ({"sha256": "abc"}, r"sha256 must be 64 hex digits \(a SHA-256 digest\), got 'abc'"),
        ({"sha256": "g" * 64}, r"sha256 must be 64 hex digits"),
    ],
)
def test_bad_argument_values(home: Path, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"url": "https://example.org/a.bin", **kwargs}
    with pytest.raises(DezeroValueError, match=f"^get_file: {message}"):
        get_file(**args)
    assert not home.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": b"https://example.org/a.bin"}, r"url must be a str, got bytes"),
        ({"file_name": 3}, r"file_name must be a str or None, got int"),
        ({"sha256": 3}, r"sha256 must be a str of 64 hex digits or None, got int"),
    ],
)
def test_bad_argument_types(home: Path, kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"url": "https://example.org/a.bin", **kwargs}
    with pytest.raises(TypeError, match="get_file"):
        get_file(**args)  # the runtime type checker (when on) or the hand-written checks
    # The hand-written checks, which guard the network even with runtime checks switched off:
    with pytest.raises(DezeroTypeError, match=f"^get_file: {message}"):
        inspect.unwrap(get_file)(**args)
    assert not home.exists()


def test_show_progress_draws_dezeros_bar(capsys: pytest.CaptureFixture[str]) -> None:
    show_progress(1, 10, 40)
    assert capsys.readouterr().out == "\r[#######.......................] 25.00%"
    show_progress(5, 10, 40)  # the last block is usually short: capped at 100 %
    assert capsys.readouterr().out == "\r[##############################] 100.00%"
    show_progress(3, 10, -1)
    assert capsys.readouterr().out == "\r30 bytes"
    show_progress(0, 10, 0)
    assert capsys.readouterr().out == "\r0 bytes"


@pytest.mark.parametrize(("block_num", "block_size"), [(-1, 10), (1, -10)])
def test_show_progress_refuses_negative_counts(block_num: int, block_size: int) -> None:
    name, value = ("block_num", block_num) if block_num < 0 else ("block_size", block_size)
    with pytest.raises(DezeroValueError, match=f"show_progress: {name} must be >= 0, got {value}$"):
        show_progress(block_num, block_size, 100)


class _Reset(_Response):
    chunks = (b"part",)
    error = ConnectionResetError("reset by peer")


def test_a_connection_reset_mid_download(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve_with(monkeypatch, _Reset)
    with pytest.raises(
        DownloadError, match=r"get_file: downloading https://example.org/a.bin failed: ConnectionResetError"
    ):
        get_file("https://example.org/a.bin")
    assert _files_in(home) == []
