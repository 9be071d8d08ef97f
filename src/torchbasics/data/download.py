"""Download a data set's files: mirror after mirror, md5-checked while streaming, atomic.

Each file is fetched from the first mirror that delivers it whole and with the official
md5; a mirror that fails (HTTP error, refused or dropped connection, timeout, wrong bytes)
is reported in one line on stderr and the next one is tried. Bytes are streamed into a
temporary file beside the target, which is renamed only once the checksum matches, so an
interrupted or failed download never leaves a half file under the final name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from tqdm import tqdm

from torchbasics import __version__
from torchbasics.data.locate import content_md5, file_md5
from torchbasics.data.registry import DatasetSpec
from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write

# Some hosts answer 403 to Python's default "Python-urllib/3.x" agent.
USER_AGENT = f"torchbasics/{__version__} (python-urllib)"
CHUNK_BYTES = 1 << 16

# Network failures in a few words, for the one-line summary (first match wins).
_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (TimeoutError, "timed out"),
    (ConnectionRefusedError, "connection refused"),
    ((ConnectionResetError, ConnectionAbortedError, BrokenPipeError), "connection dropped"),
    (socket.gaierror, "host not found"),
)


class _MirrorFailed(Exception):
    """One mirror could not deliver one file; the message says why in a few words."""


def download_dataset(
    spec: DatasetSpec,
    dest: str | os.PathLike,
    *,
    mirrors: Sequence[str] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Fetch every file of ``spec`` into the folder ``dest`` and return that folder.

    Files already in ``dest`` with the official content (any gzip) are kept as they are.

    Args:
        spec: the data set (its ``files()`` give names and md5 checksums).
        dest: the folder to fill; created if needed.
        mirrors: base URLs to try in order, each serving every file; default ``spec.mirrors``.
        progress: show a tqdm bar per file (only when stderr is a terminal).
        timeout: seconds to wait for a connection or for the next bytes.

    Raises:
        TorchbasicsError: no mirrors, every mirror failed for some file (each failure
            summarized), or ``dest`` cannot be written.
    """
    dest = Path(dest).expanduser()
    if mirrors is None:
        mirrors = spec.mirrors
    elif isinstance(mirrors, str):
        mirrors = [mirrors]  # one URL, not a sequence of one-letter "mirrors"
    bases = [base if base.endswith("/") else f"{base}/" for base in mirrors]
    if not bases:
        raise TorchbasicsError(
            f"no download mirrors are known for '{spec.name}'", fix=spec.how_to_get or None
        )
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TorchbasicsError(
            f"cannot create the download folder ({exc.strerror})", where=dest,
            fix="choose a folder you can write to",
        ) from exc
    raw_md5s = spec.raw_md5s()
    for name, md5 in spec.files():
        path = dest / name
        if _already_valid(path, md5, raw_md5s[name]):
            continue
        _fetch_from_mirrors(path, md5, bases, progress=progress, timeout=timeout)
    return dest


def _already_valid(path: Path, md5: str, raw_md5: str) -> bool:
    """True for the official file, or a re-gzipped copy of it (e.g. Debian's): keep it."""
    if not path.is_file():
        return False
    if file_md5(path) == md5:
        return True
    try:
        return content_md5(path) == raw_md5
    except (OSError, EOFError, zlib.error, TorchbasicsError):  # damaged: fetch it again
        return False


def _fetch_from_mirrors(
    path: Path, md5: str, mirrors: Sequence[str], *, progress: bool, timeout: float
) -> None:
    """Try each mirror in turn for one file; raise with every mirror's failure if none works."""
    failures = []
    for index, base in enumerate(mirrors):
        try:
            _fetch(base + path.name, path, md5, progress=progress, timeout=timeout)
            return
        except _MirrorFailed as exc:
            failures.append(f"{base}: {exc}")
            then = "; trying the next mirror" if index + 1 < len(mirrors) else ""
            # tqdm.write keeps a bar that is on screen intact.
            tqdm.write(f"{path.name}: {base} failed ({exc}){then}", file=sys.stderr)
    raise TorchbasicsError(
        f"every mirror failed ({'; '.join(failures)})", where=path.name,
        fix=f"check the internet connection (urllib honours HTTP(S)_PROXY), or put the "
        f"official file into {path.parent} by hand",
    )


def _fetch(url: str, path: Path, md5: str, *, progress: bool, timeout: float) -> None:
    """Stream ``url`` into ``path`` through a temporary file, checking length and md5.

    Raises:
        _MirrorFailed: the server or the network let us down (nothing is left behind).
        TorchbasicsError: the file cannot be written locally (no other mirror would help).
    """
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()  # an HTTPError holds the open error response
        raise _MirrorFailed(_describe(exc)) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: bad URL
        raise _MirrorFailed(_describe(exc)) from exc
    # The temporary file is created only once the server has answered 200.
    with response, atomic_write(path) as out:
        _copy_verified(response, out, md5, desc=path.name, progress=progress)


def _copy_verified(
    response: http.client.HTTPResponse, out: IO[bytes], md5: str, *, desc: str, progress: bool
) -> None:
    """Copy the body into ``out``, hashing per chunk; raise if it is short or the md5 differs.

    Raising here, inside ``atomic_write``, is what keeps a bad download from being renamed.
    """
    expected = _content_length(response)
    digest = hashlib.md5()
    received = 0
    show = progress and sys.stderr is not None and sys.stderr.isatty()
    with tqdm(
        total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
        disable=not show,
    ) as bar:
        for chunk in _chunks(response):
            digest.update(chunk)
            out.write(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    # http.client returns b"" rather than raising when a Content-Length body ends early.
    if expected is not None and received < expected:
        raise _MirrorFailed(f"connection dropped after {received} of {expected} bytes")
    if digest.hexdigest() != md5:
        raise _MirrorFailed("md5 mismatch")


def _chunks(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The response body in chunks, network errors turned into :class:`_MirrorFailed`.

    ``atomic_write`` reports any ``OSError`` from its body as a local write failure, so a
    timeout or reset while reading must not reach it as one.
    """
    while True:
        try:
            chunk = response.read(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise _MirrorFailed(_describe(exc)) from exc
        if not chunk:
            return
        yield chunk


def _content_length(response: http.client.HTTPResponse) -> int | None:
    """The announced body size, or None when absent or unreadable."""
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, TypeError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    """A network failure in a few words, e.g. ``HTTP 403 Forbidden`` or ``timed out``."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}".strip()
    if isinstance(exc, urllib.error.URLError):
        # urlopen wraps the socket error that really happened; describe that one.
        reason = exc.reason
        return _describe(reason) if isinstance(reason, BaseException) else str(reason)
    if isinstance(exc, http.client.IncompleteRead):
        return "connection dropped mid-chunk"
    for kinds, words in _REASONS:
        if isinstance(exc, kinds):
            return words
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
