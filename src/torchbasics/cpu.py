"""What the CPU is, and the instruction sets that decide how fast it computes.

Only one decision rests on them (:func:`torchbasics.device.choose_precision`): bfloat16
autocast is worth it only where the CPU computes bf16 natively, with AVX-512 BF16 or AMX.
Without them PyTorch emulates bf16, and a convnet training step was measured 13 times
slower than in fp32 (README, "GPUs and other accelerators"). ``torchbasics doctor`` shows
them all.
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

# The x86 flags that matter here, as Linux names them in /proc/cpuinfo.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
NATIVE_BF16 = ("avx512_bf16", "amx_bf16")
# PyTorch's own probes (private, but what its kernels dispatch on), where /proc/cpuinfo is
# not there to read (macOS, Windows).
_TORCH_PROBES = {"avx2": "_is_avx2_supported", "avx512f": "_is_avx512_supported",
                 "avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported"}


@dataclass(frozen=True)
class CpuInfo:
    """The CPU's model name, which of :data:`FLAGS` it has, and where that was read."""

    model: str
    flags: dict[str, bool]
    source: str

    @property
    def native_bf16(self) -> bool:
        """True when the CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX)."""
        return any(self.flags.get(flag, False) for flag in NATIVE_BF16)


def parse_cpuinfo(text: str) -> tuple[str, dict[str, bool]]:
    """The model name and :data:`FLAGS` of the first processor in Linux's /proc/cpuinfo."""
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
        elif key == "" and model and flags:  # the blank line after the first processor
            break
    return model, {flag: flag in flags for flag in FLAGS}


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    try:
        model, flags = parse_cpuinfo(Path("/proc/cpuinfo").read_text())
        if any(flags.values()) or model:
            return CpuInfo(model or platform.processor() or platform.machine(), flags,
                           "/proc/cpuinfo")
    except OSError:
        pass
    probes = {flag: bool(getattr(torch.cpu, probe, lambda: False)())
              for flag, probe in _TORCH_PROBES.items()}
    return CpuInfo(platform.processor() or platform.machine(), probes, "PyTorch's CPU probes")
