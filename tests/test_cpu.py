"""The CPU's model and instruction-set flags, read from Linux's /proc/cpuinfo or PyTorch."""

from __future__ import annotations

import pytest

from torchbasics import cpu
from torchbasics.cpu import CpuInfo, cpu_info, parse_cpuinfo


def _cpuinfo(model: str, flags: str) -> str:
    """Two processors as Linux lists them (the second must not be read)."""
    first = f"processor\t: 0\nvendor_id\t: X\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
    return first + "processor\t: 1\nmodel name\t: other\nflags\t\t: amx_bf16 avx512_bf16\n"


@pytest.mark.parametrize(("model", "flags", "expected", "native"), [
    # Intel Xeon (Sapphire Rapids): AMX and AVX-512 BF16, where bf16 was measured faster
    ("Intel(R) Xeon(R) Platinum 8481C", "fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile",
     {"avx2": True, "avx512f": True, "avx512_bf16": True, "amx_bf16": True}, True),
    # AMD Zen 4: AVX-512 BF16 without AMX (issue 19 measured bf16 faster there too)
    ("AMD EPYC 9R14", "fpu avx2 avx512f avx512_bf16",
     {"avx2": True, "avx512f": True, "avx512_bf16": True, "amx_bf16": False}, True),
    # This project's AVX2-only AMD EPYC: emulated bf16 measured 13x slower
    ("AMD EPYC", "fpu avx avx2 fma",
     {"avx2": True, "avx512f": False, "avx512_bf16": False, "amx_bf16": False}, False),
    # AVX-512 without its bf16 extension (Skylake-SP) is not enough
    ("Intel(R) Xeon(R) Gold 6148", "avx2 avx512f avx512bw",
     {"avx2": True, "avx512f": True, "avx512_bf16": False, "amx_bf16": False}, False),
])
def test_flags_of_the_first_processor(model, flags, expected, native):
    parsed_model, parsed_flags = parse_cpuinfo(_cpuinfo(model, flags))
    assert (parsed_model, parsed_flags) == (model, expected)
    assert CpuInfo(parsed_model, parsed_flags, "test").native_bf16 is native


def test_an_arm_cpuinfo_has_no_x86_flags():
    text = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd bf16\nCPU part\t: 0xd40\n"
    assert parse_cpuinfo(text) == ("", dict.fromkeys(cpu.FLAGS, False))


def test_without_proc_cpuinfo_pytorchs_probes_answer(monkeypatch):
    class Unreadable:
        def __init__(self, path):
            pass

        def read_text(self):
            raise FileNotFoundError("/proc/cpuinfo")

    monkeypatch.setattr(cpu, "Path", Unreadable)
    monkeypatch.setattr(cpu.torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    cpu_info.cache_clear()
    try:
        info = cpu_info()
    finally:
        cpu_info.cache_clear()
    assert info.source == "PyTorch's CPU probes"
    assert info.flags["avx512_bf16"] and info.native_bf16


def test_this_machine():
    info = cpu_info()
    assert info.model and set(info.flags) == set(cpu.FLAGS)
