"""``torchbasics evaluate``: test a trained run, with figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the top-level parser."""
    parser = commands.add_parser(
        "evaluate", help="error, per-class report and confusion matrix of a trained run",
        description="Evaluate a run directory's checkpoint on the test split (or the images a "
        "list file names). Writes confusion_matrix.png, mistakes.png and evaluation.json into "
        "the run directory; on the full test split also records test_error in summary.json "
        "and report.md. The checkpoint says which data set, model and normalization to use.",
        populate=add_evaluate_flags,
    )
    parser.set_defaults(handler=run_evaluate)


def add_evaluate_flags(parser: argparse.ArgumentParser) -> None:
    """``evaluate``'s flags; ``--device`` as ``train`` declares it."""
    from torchbasics.cli.flags import help_text
    from torchbasics.runs.config import SETTINGS

    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="made by `torchbasics train`")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--split", default="test", choices=["train", "test"],
                        help="which split (default: test)")
    source.add_argument("--list", type=Path, metavar="FILE",
                        help="evaluate on the test-split IDs or image paths this list file names")
    parser.add_argument("--checkpoint", default="best", choices=["best", "last"],
                        help="best (lowest validation error) or last epoch (default: best)")
    parser.add_argument("--data-dir", type=Path, help="folder searched first for the data set")
    parser.add_argument("--device", default=SETTINGS["device"].default,
                        help=help_text("device", SETTINGS["device"]))
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate and print the result."""
    from torchbasics.runs.evaluate import evaluate_run
    from torchbasics.runs.report import percent

    result = evaluate_run(args.run_dir, split=args.split if args.list is None else "test",
                          list_path=args.list, data_dir=args.data_dir,
                          checkpoint_name=f"{args.checkpoint}.pt", device=args.device)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "report"}, indent=2))
        return 0
    print(f"{args.run_dir}/{args.checkpoint}.pt on {result['evaluated_on']} "
          f"({result['count']:,} images): error {percent(result['error'])}, "
          f"accuracy {percent(result['accuracy'])}\n")
    print(result["report"])
    print(f"figures: {args.run_dir}/confusion_matrix.png, {args.run_dir}/mistakes.png")
    return 0
