"""What the CPU is, and the instruction sets that decide how fast it computes.

Only one decision rests on them (:func:`torchbasics.device.choose_precision`): bfloat16
autocast is worth it only where the CPU computes bf16 natively, with AVX-512 BF16 or AMX.
Without them PyTorch emulates bf16, and a convnet training step was measured 13 times
slower than in fp32 (docs/guides/14-gpus.md). ``torchbasics doctor`` shows
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
    family: str = ""  # x86 "cpu family" and "model" numbers: tell CPU generations apart
    model_number: str = ""

    @property
    def native_bf16(self) -> bool:
        """True when the CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX)."""
        return any(self.flags.get(flag, False) for flag in NATIVE_BF16)

    def describe(self) -> str:
        """The CPU as measured figures name it, e.g. ``AMD EPYC (family 25, model 17;
        AVX2, AVX-512, AVX-512 BF16)``."""
        names = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16",
                 "amx_bf16": "AMX"}
        sets = ", ".join(names[flag] for flag in FLAGS if self.flags.get(flag)) or "no AVX2"
        generation = (f"family {self.family}, model {self.model_number}; "
                      if self.family else "")
        return f"{self.model} ({generation}{sets})"


def parse_cpuinfo(text: str) -> tuple[str, dict[str, bool]]:
    """The model name and :data:`FLAGS` of the first processor in Linux's /proc/cpuinfo."""
    fields = _first_processor(text)
    flags = set(fields.get("flags", "").split())
    return fields.get("model name", ""), {flag: flag in flags for flag in FLAGS}


def _first_processor(text: str) -> dict[str, str]:
    """The ``key: value`` lines of the first processor in /proc/cpuinfo."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "" and fields:  # the blank line after the first processor
            break
        fields.setdefault(key, value.strip())
    return fields


@functools.cache
def cpu_info() -> CpuInfo:
    """This machine's CPU (read once per process)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        model, flags = parse_cpuinfo(text)
        if any(flags.values()) or model:
            fields = _first_processor(text)
            return CpuInfo(model or platform.processor() or platform.machine(), flags,
                           "/proc/cpuinfo", fields.get("cpu family", ""),
                           fields.get("model", ""))
    except OSError:
        pass
    probes = {flag: bool(getattr(torch.cpu, probe, lambda: False)())
              for flag, probe in _TORCH_PROBES.items()}
    return CpuInfo(platform.processor() or platform.machine(), probes, "PyTorch's CPU probes")
