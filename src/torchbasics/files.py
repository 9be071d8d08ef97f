"""Atomic file writes: a file is either its old self or its complete new self, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from torchbasics.errors import TorchbasicsError

_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG, errno.EACCES,
                   errno.EPERM}


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    If the body raises (or the process dies), ``path`` is left as it was and the temporary
    file is removed (or, after a hard kill, left as an obviously named ``.tmp`` file).
    Storage failures (disk full, read-only, permission) become a :class:`TorchbasicsError`;
    any other exception from the body propagates unchanged.

    Args:
        path: the final file.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise TorchbasicsError(
            f"cannot write here ({exc.strerror})", where=directory,
            fix="choose a folder you can write to",
        ) from exc
    encoding = None if "b" in mode else "utf-8"
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        _fsync_directory(directory)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        # Only storage failures become "could not write"; other OSErrors raised by the
        # body (a network timeout while streaming a download, say) keep their meaning.
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            raise TorchbasicsError(
                f"could not write the file ({exc.strerror or exc})", where=path,
                fix="check free disk space and permissions",
            ) from exc
        raise


def _current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)
