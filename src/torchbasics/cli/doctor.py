"""``torchbasics doctor``: one screen about this installation, to paste into a bug report."""

from __future__ import annotations

import argparse
import json


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``doctor`` to the top-level parser."""
    parser = commands.add_parser(
        "doctor", help="check this installation: versions, device, CPU, extras, data",
        description="Print what a bug report needs: the versions of torchbasics, Python, "
        "PyTorch (and whether its build is CUDA, ROCm or CPU only) and NumPy; the device and "
        "precision that --device auto and --precision auto pick here, and why; the CPU and "
        "the flags that decide precision (AVX2, AVX-512, AVX-512 BF16, AMX); threads; which "
        "extras are installed (and the pip command for those that are not); where each data "
        "set was found; the cache folder and its free space. It only looks: nothing is "
        "downloaded, trained or written.",
    )
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (default: text)")
    parser.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    """Collect the report and print it."""
    from torchbasics.doctor import collect, format_report

    report = collect()
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0
