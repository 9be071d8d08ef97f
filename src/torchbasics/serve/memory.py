"""Give freed memory back to the operating system while the server is idle (glibc only).

A decoded photo takes tens of megabytes; once freed, glibc's ``malloc`` keeps most of it in
the process (in the heaps of the threads that decoded it), so a long-running server's
resident memory only ever rises. ``malloc_trim`` returns the free pages; it costs a scan of
the heaps, so it runs at most once per :data:`INTERVAL` seconds, when no work is waiting.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from collections.abc import Callable

INTERVAL = 1.0  # seconds between trims at most


def trimmer() -> Callable[[], None]:
    """A function that trims the heaps (at most every :data:`INTERVAL` s); a no-op off glibc."""
    trim = _malloc_trim()
    if trim is None:
        return lambda: None
    last = [0.0]

    def maybe_trim() -> None:
        now = time.monotonic()
        if now - last[0] >= INTERVAL:
            last[0] = now
            trim(0)

    return maybe_trim


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where there is none (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
