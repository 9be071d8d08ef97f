"""keep_freed_memory: a freed tensor buffer stays with the process, ready for the next step."""

from __future__ import annotations

import subprocess
import sys

import pytest

from torchbasics.allocator import keep_freed_memory

# Frees a 20 MB tensor and prints how much of it the process still holds (MB). Run in a
# fresh process each time: the setting is process-wide and cannot be undone.
PROGRAM = """
import os, sys, torch
if sys.argv[1] == "kept":
    from torchbasics.allocator import keep_freed_memory
    assert keep_freed_memory()
page = os.sysconf("SC_PAGE_SIZE")
def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page / 2**20
before = resident_mb()
buffer = torch.ones(5_000_000)  # 20 MB, touched
del buffer
print(resident_mb() - before)
"""


def held_after_free(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True,
                          check=True)
    return float(done.stdout)


@pytest.mark.skipif(not keep_freed_memory(), reason="needs glibc's mallopt (Linux)")
def test_a_freed_buffer_stays_with_the_process_instead_of_going_back_to_the_os():
    assert held_after_free("default") < 5  # glibc unmaps it: the next step faults it in anew
    assert held_after_free("kept") > 15  # reused by the next allocation, no page faults


def test_calling_again_is_harmless():
    assert keep_freed_memory() == keep_freed_memory()
