"""Keep freed tensor memory in the process instead of handing it back to the OS each step.

glibc's ``malloc`` serves large blocks (a batch of activations is several MB) with ``mmap``
and gives them back with ``munmap`` when freed, and trims the heap when its top is free. A
training step allocates and frees the same large buffers every time, so each step then pays
for fresh pages again: the kernel zero-fills them on first touch. Measured here, this cost
the seed CNN half its speed (a copy inside max-pooling's backward took 68 % of an epoch):
4,500-7,400 images/s, against 12,400-13,400 with the two thresholds raised. glibc adjusts
its mmap threshold on its own as blocks are freed, which is why the loss varied from run to
run. The price: memory freed during training stays with the process until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# From glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's upper limit on 64-bit systems
_TRIM_THRESHOLD = 2**31 - 1  # never trim during training

_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process); False where not glibc."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
    return _done
