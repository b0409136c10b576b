"""Downloading files: DeZero's ``get_file`` and ``show_progress``, atomic and optionally checksummed.

:func:`fetch` is the one download routine of the package: ``get_file`` and the MNIST dataset both
use it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeAlias

from typed_dezero._checking import typechecked
from typed_dezero._typing import describe
from typed_dezero.errors import DezeroError, DezeroTypeError, DezeroValueError, DownloadError

__all__ = ["ProgressHook", "cache_dir", "get_file", "show_progress"]

ProgressHook: TypeAlias = Callable[[int, int, int], object]
"""Called as ``hook(block_num, block_size, total_size)`` after each block, like urlretrieve's
``reporthook``; ``total_size`` is -1 when the server does not say."""

CACHE_DIR_NAME: Final = ".typed_dezero"

cache_dir: Final[str] = os.path.join(os.path.expanduser("~"), CACHE_DIR_NAME)
"""Where :func:`get_file` stores files: ``~/.typed_dezero`` (DeZero: ``~/.dezero``). get_file looks
the home folder up at each call; this constant holds the folder as it was at import."""

_DOWNLOAD_TIMEOUT: Final = 60.0
_CHUNK_SIZE: Final = 1 << 16


def default_cache_dir() -> Path:
    """``~/.typed_dezero``, with the home folder as it is now (``HOME`` may change after import)."""
    return Path.home() / CACHE_DIR_NAME


def file_sha256(path: Path) -> str:
    """The SHA-256 hex digest of the file at `path`, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    where: str,
    url: str,
    dest: Path,
    sha256: str | None,
    progress: ProgressHook | None,
    *,
    checksum_error: type[DezeroError] = DownloadError,
) -> None:
    """Fetch `url` to `dest` through a temporary file in the same folder, checking its SHA-256.

    `where` names the caller in error messages. The file appears (by ``os.replace``, atomically)
    only once complete, flushed to disk and, when `sha256` is given, verified; any failure or
    interruption removes the temporary file. The folder is created when missing.

    Raises:
        DownloadError: the request failed (HTTP error, refused connection, ...) or the body is
            shorter than its Content-Length (an OSError).
        DezeroError: of class `checksum_error`, when the digest differs from `sha256`.
    """
    # Imported here: a download is rare, and these modules take a while to import.
    import http.client
    import urllib.error
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
                    declared: str | None = response.headers.get("Content-Length")
                    total = int(declared) if declared is not None and declared.isdigit() else -1
                    blocks = 0
                    while chunk := response.read(_CHUNK_SIZE):
                        digest.update(chunk)
                        out.write(chunk)
                        received += len(chunk)
                        blocks += 1
                        if progress is not None:
                            progress(blocks, _CHUNK_SIZE, total)
            except urllib.error.HTTPError as e:
                e.close()  # it holds the connection open
                msg = f"{where}: downloading {url} failed: HTTP {e.code} {e.reason}"
                raise DownloadError(msg) from e
            except (OSError, http.client.HTTPException) as e:
                msg = f"{where}: downloading {url} failed: {e!r}"
                raise DownloadError(msg) from e
            out.flush()
            os.fsync(out.fileno())
        # http.client returns a short body without complaint when the connection drops early.
        if total >= 0 and received != total:
            msg = f"{where}: the download from {url} was cut off after {received} of {total} bytes"
            raise DownloadError(msg)
        actual = digest.hexdigest()
        if sha256 is not None and actual != sha256:
            msg = (
                f"{where}: the file downloaded from {url} has SHA-256 {actual}, expected {sha256}; "
                "it was discarded"
            )
            raise checksum_error(msg)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _file_name_problem(name: str) -> str | None:
    """Why `name` cannot be a file name inside the cache folder, or None."""
    if not name or name in {".", ".."}:
        return "is empty or a relative folder name"
    separators = {"/", os.sep, os.altsep or "/", "\0"}
    if any(s in name for s in separators):
        return "contains a path separator or NUL"
    return None


def _check_url(url: object) -> str:
    if not isinstance(url, str):
        msg = f"get_file: url must be a str, got {describe(url)}"
        raise DezeroTypeError(msg)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        msg = f"get_file: url must be an http:// or https:// URL, got {url!r}"
        raise DezeroValueError(msg)
    return url


def _check_file_name(url: str, file_name: object) -> str:
    if file_name is None:
        # The last part of the URL's path, without query or fragment (DeZero kept those).
        path = urllib.parse.urlsplit(url).path
        name = urllib.parse.unquote(path[path.rfind("/") + 1 :])
        problem = _file_name_problem(name)
        if problem is not None:
            msg = (
                f"get_file: cannot take a file name from url {url!r}: the last part of its path "
                f"({name!r}) {problem}; pass file_name"
            )
            raise DezeroValueError(msg)
        return name
    if not isinstance(file_name, str):
        msg = f"get_file: file_name must be a str or None, got {describe(file_name)}"
        raise DezeroTypeError(msg)
    problem = _file_name_problem(file_name)
    if problem is not None:
        msg = (
            f"get_file: file_name must be a plain file name inside the cache folder, got "
            f"{file_name!r}: it {problem}"
        )
        raise DezeroValueError(msg)
    return file_name


def _check_sha256(sha256: object) -> str | None:
    if sha256 is None:
        return None
    if not isinstance(sha256, str):
        msg = f"get_file: sha256 must be a str of 64 hex digits or None, got {describe(sha256)}"
        raise DezeroTypeError(msg)
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        msg = f"get_file: sha256 must be 64 hex digits (a SHA-256 digest), got {sha256!r}"
        raise DezeroValueError(msg)
    return digest


@typechecked
def get_file(
    url: str,
    file_name: str | None = None,
    *,
    sha256: str | None = None,
    progress: ProgressHook | None = None,
) -> str:
    """Download `url` into the cache folder (``~/.typed_dezero``) unless already there; return its path.

    Arguments:
        url: an ``http://`` or ``https://`` URL.
        file_name: the name in the cache folder; a plain name, no folders. Default: the last
            part of the URL's path (percent-decoded, without query string).
        sha256: the file's SHA-256 hex digest (either case). A download is verified before it is
            moved into place. A cached file is checked too: if its digest differs it is
            downloaded again (and replaced only when the new copy matches). Without `sha256` a
            cached file is returned unchecked, as in DeZero.
        progress: called after each block as ``progress(block_num, block_size, total_size)``;
            pass :func:`show_progress` for DeZero's progress bar. Default: silent.

    Returns:
        the local path, as a str.

    The download goes to a temporary file in the cache folder, is flushed to disk and renamed into
    place (``os.replace``): a failed or interrupted download leaves neither a partial file nor a
    temporary one behind.

    Raises:
        DezeroTypeError: an argument of the wrong type (a TypeError naming get_file and it).
        DezeroValueError: a bad argument value; or the downloaded file's digest is not `sha256`
            (the message names the URL, the expected and the actual digest).
        DownloadError: the request failed or the body was cut short (an OSError).
    """
    # Hand-written checks guard the network: they hold with runtime type checking switched off.
    url = _check_url(url)
    name = _check_file_name(url, file_name)
    digest = _check_sha256(sha256)
    path = default_cache_dir() / name
    if path.is_file() and (digest is None or file_sha256(path) == digest):
        return str(path)
    fetch("get_file", url, path, digest, progress, checksum_error=DezeroValueError)
    return str(path)


_BAR_WIDTH: Final = 30


@typechecked
def show_progress(block_num: int, block_size: int, total_size: int) -> None:
    """Print a progress bar for a download (DeZero's ``show_progress``), on one line of stdout.

    Arguments are those of urlretrieve's ``reporthook`` (and :func:`get_file`'s `progress`): blocks
    done, bytes per block, total bytes (negative or 0 when unknown: then the bytes received are
    printed instead of a bar). The percentage is capped at 100 (the last block is usually short).
    For 10 of 40 bytes it prints ``\r[#######.......................] 25.00%``.

    Raises:
        DezeroValueError: `block_num` or `block_size` is negative.
    """
    for name, value in (("block_num", block_num), ("block_size", block_size)):
        if value < 0:
            msg = f"show_progress: {name} must be >= 0, got {value}"
            raise DezeroValueError(msg)
    done = block_num * block_size
    if total_size <= 0:
        sys.stdout.write(f"\r{done} bytes")
    else:
        fraction = min(done / total_size, 1.0)
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        sys.stdout.write(f"\r[{bar}] {fraction * 100:.2f}%")
    sys.stdout.flush()
