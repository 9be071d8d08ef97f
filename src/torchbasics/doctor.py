"""``torchbasics doctor``: everything about this installation that a bug report needs.

:func:`collect` gathers versions, the device and precision ``auto`` would pick and why, the
CPU and its flags, threads, the extras, the data sets found and the cache folder, as a dict
of sections (what ``--json`` prints); :func:`format_report` lays it out as one screen. It
only looks: nothing is downloaded, trained or written, and a part that fails to answer
shows its error instead of stopping the rest.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import torchbasics
from torchbasics.cpu import FLAGS, cpu_info
from torchbasics.data.locate import DATA_ENV, cache_dir, find_dataset
from torchbasics.data.registry import DATASETS
from torchbasics.device import choose_device, choose_precision
from torchbasics.extras import ALL, EXTRAS, installed_versions
from torchbasics.resources import resource_path

Section = dict[str, Any]


def collect() -> dict[str, Section]:
    """Every section of the report, in the order it is shown."""
    sections: dict[str, Callable[[], Section]] = {
        "versions": versions, "device": device, "cpu": cpu, "extras": extras, "data": data,
        "cache": cache,
    }
    return {name: _safely(build) for name, build in sections.items()}


def _safely(build: Callable[[], Section]) -> Section:
    try:
        return build()
    except Exception as exc:  # a diagnostic tool reports what it cannot find out
        return {"error": f"{type(exc).__name__}: {exc}"}


def versions() -> Section:
    """torchbasics, Python, PyTorch and its build, NumPy, the platform."""
    return {
        "torchbasics": torchbasics.__version__,
        "torchbasics_location": str(Path(torchbasics.__file__).parent),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "torch": torch.__version__,
        "torch_build": torch_build(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def torch_build() -> str:
    """``"CUDA 13.0"``, ``"ROCm 7.2"`` or ``"CPU only"``, and whether it has Apple's MPS."""
    if torch.version.hip:
        build = f"ROCm {torch.version.hip}"
    elif torch.version.cuda:
        build = f"CUDA {torch.version.cuda}"
    else:
        build = "CPU only"
    mps = getattr(torch.backends, "mps", None)
    return build + (", with MPS" if mps is not None and mps.is_built() else "")


def device() -> Section:
    """What ``--device auto`` and ``--precision auto`` would pick here, and why."""
    chosen = choose_device("auto")
    precision = choose_precision("auto", chosen.device)
    section: Section = {
        "device": str(chosen.device), "device_reason": chosen.reason,
        "precision": precision.name, "precision_reason": precision.reason,
        "gradient_scaling": precision.scales_gradients,
    }
    if torch.cuda.is_available():
        section["gpus"] = [_gpu(index) for index in range(torch.cuda.device_count())]
    return section


def _gpu(index: int) -> str:
    properties = torch.cuda.get_device_properties(index)
    return (f"cuda:{index} {properties.name}, compute capability {properties.major}."
            f"{properties.minor}, {properties.total_memory / 2**30:.1f} GiB")


def cpu() -> Section:
    """The CPU model, the flags that decide precision, and the threads PyTorch uses."""
    info = cpu_info()
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count())
    return {
        "model": info.model, "flags": info.flags, "flags_source": info.source,
        "native_bf16": info.native_bf16,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(), "usable_cpus": usable,
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def extras() -> Section:
    """Each extra: installed (with its packages' versions) or missing (with its pip command)."""
    section: Section = {}
    for name in EXTRAS:
        packages = installed_versions(name)
        missing = [package for package, version in packages.items() if version is None]
        section[name] = {"installed": not missing, "packages": packages,
                         "install": EXTRAS[name].pip_command if missing else None}
    return section


def data() -> Section:
    """Where each data set was found on the search path (nothing is downloaded)."""
    section: Section = {"search_path_env": os.environ.get(DATA_ENV)}
    for name, spec in DATASETS.items():
        if spec.csv_file is not None:  # tabular: shipped in the package
            section[name] = {"found": True, "where": str(resource_path(spec.csv_file)),
                             "origin": "shipped in the package"}
            continue
        try:
            located = find_dataset(spec)
        except Exception as exc:  # e.g. a folder holding the other data set's files
            section[name] = {"found": False, "problem": str(exc)}
            continue
        section[name] = (
            {"found": True, "where": str(located.directory), "origin": located.origin}
            if located is not None else
            {"found": False, "get": f"torchbasics data download {name}"})
    return section


def cache() -> Section:
    """The cache folder (downloads land there), the free space where it is or would be, and
    what the cache of decoded pictures holds."""
    from torchbasics.data.picture_cache import cache_size

    folder = cache_dir()
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    caches, size = cache_size()
    return {"folder": str(folder), "exists": folder.is_dir(),
            "free_gib": round(shutil.disk_usage(existing).free / 2**30, 1),
            "picture_caches": caches, "picture_cache_mib": round(size / 2**20, 1)}


def format_report(report: dict[str, Section]) -> str:
    """The report as one screen of text, a section per block."""
    blocks = {name: ([("could not find out", section["error"])] if "error" in section
                     else FORMATTERS[name](section)) for name, section in report.items()}
    width = max(len(key) for rows in blocks.values() for key, _ in rows) + 2
    lines = ["torchbasics doctor (paste all of it into a bug report)"]
    for name, rows in blocks.items():
        lines += ["", name, *(f"  {key:<{width}}{value}" for key, value in rows)]
    return "\n".join(lines)


def _versions_lines(section: Section) -> list[tuple[str, str]]:
    return [
        ("torchbasics", f"{section['torchbasics']} ({section['torchbasics_location']})"),
        ("python", f"{section['python']} ({section['python_executable']})"),
        ("torch", f"{section['torch']}, {section['torch_build']}"),
        ("numpy", section["numpy"]), ("platform", section["platform"]),
    ]


def _device_lines(section: Section) -> list[tuple[str, str]]:
    scaling = ", with gradient scaling" if section["gradient_scaling"] else ""
    lines = [("device auto", f"{section['device']}: {section['device_reason']}"),
             ("precision auto", f"{section['precision']}{scaling}: "
                                f"{section['precision_reason']}")]
    return lines + [("gpu", gpu) for gpu in section.get("gpus", [])]


def _cpu_lines(section: Section) -> list[tuple[str, str]]:
    flags = ", ".join(f"{flag} {'yes' if section['flags'][flag] else 'no'}" for flag in FLAGS)
    threads = section["OMP_NUM_THREADS"] or "unset"
    return [
        ("model", section["model"]),
        ("flags", f"{flags} (from {section['flags_source']}; PyTorch kernels: "
                  f"{section['torch_cpu_capability']})"),
        ("threads", f"{section['torch_threads']} torch threads; {section['usable_cpus']} of "
                    f"{section['logical_cpus']} logical CPUs usable; OMP_NUM_THREADS {threads}"),
    ]


def _extras_lines(section: Section) -> list[tuple[str, str]]:
    lines = []
    for name, extra in section.items():
        packages = ", ".join(f"{package} {version}" for package, version
                             in extra["packages"].items() if version is not None)
        lines.append((name, f"installed ({packages})" if extra["installed"] else
                      f"not installed: {extra['install']}" + (f" (has {packages})"
                                                              if packages else "")))
    missing = [name for name, extra in section.items() if not extra["installed"]]
    if missing:
        lines.append(("all of them", f"pip install 'torchbasics[{ALL}]'"))
    return lines


def _data_lines(section: Section) -> list[tuple[str, str]]:
    lines = []
    for name, found in section.items():
        if name == "search_path_env":
            continue
        if found["found"]:
            lines.append((name, f"{found['where']} ({found['origin']})"))
        else:
            lines.append((name, f"not found: {found.get('problem') or found['get']}"))
    lines.append((f"${DATA_ENV}", section["search_path_env"] or "unset"))
    return lines


def _cache_lines(section: Section) -> list[tuple[str, str]]:
    state = "" if section["exists"] else " (not created yet)"
    return [("folder", f"{section['folder']}{state}, {section['free_gib']:,.1f} GiB free"),
            ("pictures", f"{section['picture_caches']} folder(s) of your pictures decoded, "
                         f"{section['picture_cache_mib']:,.1f} MiB (`torchbasics data cache "
                         "--clear` empties it)")]


FORMATTERS: dict[str, Callable[[Section], list[tuple[str, str]]]] = {
    "versions": _versions_lines, "device": _device_lines, "cpu": _cpu_lines,
    "extras": _extras_lines, "data": _data_lines, "cache": _cache_lines,
}
