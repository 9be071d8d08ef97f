"""What a benchmark's JSON holds besides its figures: the machine, the date and the command.

A benchmark run with ``--json PATH`` writes its *measurement*, a dict of its own figures
(``rows`` and the like) plus the fields every measurement has::

    machine   the CPU (model name, x86 family and model, the flags that decide precision),
              logical CPUs, PyTorch's threads and the torch version (:func:`machine`)
    date      the day it ran, YYYY-MM-DD
    command   the command line that ran it
    source    how the figures got into the file: written by the run, or transcribed from
              the table a run printed (figures measured before the benchmark wrote JSON)
    seconds   how long the run took (when known)

The file is ``{"benchmark": NAME, "measurements": [measurement, ...]}``: a page may show
several runs (another CPU, another day), each keeping its own machine, date and command.
The files committed as ``benchmarks/results-NAME-DATE.json`` are what the documentation's
results pages are made from (``docs/hooks/generated.py``, the newest by name), printed by
the same function the benchmark prints its own table with, so a page and a run cannot
disagree on the layout, and a page and a README figure made from one file cannot disagree
on the figures. A field a transcribed run did not state is ``null``.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
WRITTEN = "written by the run (--json)"


def machine() -> dict[str, Any]:
    """This machine as a measurement records it (what :func:`describe` reads)."""
    import torch

    from torchbasics.cpu import FLAGS, cpu_info

    info = cpu_info()
    return {"cpu": info.model, "family": info.family or None, "model": info.model_number or None,
            "flags": [flag for flag in FLAGS if info.flags.get(flag)],
            "cpus": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__}


def describe(recorded: dict[str, Any]) -> str:
    """A recorded machine in words, e.g. ``AMD EPYC (family 26, model 2; AVX2, AVX-512,
    AVX-512 BF16), 2 logical CPUs, 2 threads, torch 2.13.0+cpu``; what was not recorded
    is left out."""
    from torchbasics.cpu import CpuInfo

    cpu = CpuInfo(recorded["cpu"], dict.fromkeys(recorded.get("flags") or [], True), "",
                  recorded.get("family") or "", recorded.get("model") or "")
    parts = [cpu.describe() if recorded.get("flags") else recorded["cpu"]]
    if recorded.get("cpus"):
        parts.append(f"{recorded['cpus']} logical CPUs")
    if recorded.get("threads"):
        parts.append(f"{recorded['threads']} threads")
    if recorded.get("torch"):
        parts.append(f"torch {recorded['torch']}")
    return ", ".join(parts)


def command_line(script: str, argv: list[str] | None = None) -> str:
    """``python benchmarks/SCRIPT`` with the arguments it was given (``sys.argv``'s)."""
    arguments = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", f"benchmarks/{script}", *arguments])


def measurement(command: str, started: float | None = None, **figures: Any) -> dict[str, Any]:
    """A measurement of this machine, today: ``figures`` with the fields every one has
    (``started``: the run's :func:`time.perf_counter` at its start, for ``seconds``)."""
    seconds = None if started is None else round(time.perf_counter() - started, 1)
    return {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "command": command,
            "source": WRITTEN, "seconds": seconds, **figures}


def write(path: Path, benchmark: str, measured: dict[str, Any]) -> None:
    """Write one measurement as a results file (see the module's docstring)."""
    path.write_text(json.dumps({"benchmark": benchmark, "measurements": [measured]},
                               indent=1, ensure_ascii=False) + "\n")


def heading(measured: dict[str, Any]) -> str:
    """The line above a measurement's table: when, what ran it, where, and the source."""
    took = ""
    if measured.get("seconds"):
        minutes, seconds = divmod(round(measured["seconds"]), 60)
        took = f", {minutes} min {seconds} s" if minutes else f", {seconds} s"
    source = "" if measured.get("source") == WRITTEN else f" ({measured['source']})"
    return (f"Measured on {measured['date']} by `{measured['command']}`{took}, on "
            f"{describe(measured['machine'])}{source}:")


def print_measurements(results: dict[str, Any],
                       print_table: Callable[[dict[str, Any]], Any]) -> None:
    """Each measurement of a results file: its :func:`heading`, then its table as
    ``print_table`` prints it."""
    for number, measured in enumerate(results["measurements"]):
        if number:
            print()
        print(heading(measured))
        print()
        print_table(measured)


def newest(name: str) -> Path:
    """The newest committed results file of a benchmark, ``results-NAME-DATE.json``."""
    found = sorted(BENCHMARKS.glob(f"results-{name}-*.json"))
    if not found:
        raise FileNotFoundError(f"no benchmarks/results-{name}-*.json")
    return found[-1]
