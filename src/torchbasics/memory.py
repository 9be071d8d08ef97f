"""How much memory this process may still use: the machine's, or its container's limit.

Data too large for it is streamed from disk or refused with a message naming the limit,
never left to swap or to the kernel's out-of-memory killer.
"""

from __future__ import annotations

import os
from pathlib import Path

FALLBACK = 4 << 30  # bytes assumed where nothing can be read (no /proc, no sysconf)


def available_memory() -> int:
    """Bytes that can still be allocated: Linux's MemAvailable, lowered to what a cgroup
    limit (a container's, a job scheduler's) leaves; elsewhere the free physical pages."""
    found = [value for value in (_meminfo_available(), _cgroup_room()) if value is not None]
    if found:
        return min(found)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return FALLBACK


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """The limit of this process's cgroup (v2, else v1) minus what it uses, if limited."""
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory.limit_in_bytes", "memory.usage_in_bytes")):
        folder = _cgroup_folder(limit_file)
        if folder is None:
            continue
        try:
            limit = (folder / limit_file).read_text().strip()
            if limit == "max" or int(limit) >= 1 << 60:  # v1 says "no limit" with ~2**63
                return None
            return max(0, int(limit) - int((folder / usage_file).read_text()))
        except (OSError, ValueError):
            return None
    return None


def _cgroup_folder(limit_file: str) -> Path | None:
    """The cgroup folder of this process holding ``limit_file`` (v2 or v1 memory)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, relative = line.split(":", 2)
        if controllers in ("", "memory") or "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup") / ("memory" if controllers else "")
            for folder in (base / relative.lstrip("/"), base):
                if (folder / limit_file).is_file():
                    return folder
    return None
