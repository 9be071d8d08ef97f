"""``torchbasics evaluate``: test a trained run, with figures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` to the top-level parser."""
    parser = commands.add_parser(
        "evaluate", help="error, per-class report and confusion matrix of a trained run",
        description="Evaluate a run directory's checkpoint on the test split (or the images a "
        "list file names). Writes confusion_matrix.png, mistakes.png and evaluation.json into "
        "the run directory; on the full test split also records test_error in summary.json "
        "and report.md. The checkpoint says which data set, model and normalization to use. "
        "A table run is evaluated on its test rows, or every row of --csv FILE (a table with "
        "the same columns): MSE, RMSE, MAE and R² for a number, accuracy, error and "
        "log-loss (and a confusion matrix) for classes.",
        populate=add_evaluate_flags,
    )
    parser.set_defaults(handler=run_evaluate)


def add_evaluate_flags(parser: argparse.ArgumentParser) -> None:
    """``evaluate``'s flags; ``--device`` as ``train`` declares it."""
    from torchbasics.cli.flags import help_text
    from torchbasics.runs.config import SETTINGS

    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="made by `torchbasics train`, or a checkpoint file in one "
                        "(RUN_DIR/last.pt)")
    parser.add_argument("--split", choices=["train", "test"],
                        help="which split (default: test); with --list, the split its IDs "
                        "are in (train for a run's own --train-list and --val-list files)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--list", type=Path, metavar="FILE",
                        help="evaluate on the IDs (in --split) or image paths this list file "
                        "names")
    source.add_argument("--csv", type=Path, metavar="FILE",
                        help="table runs: evaluate on every row of this CSV instead of the "
                        "run's test rows")
    parser.add_argument("--checkpoint", choices=["best", "last"],
                        help="best (the epoch the run kept; its report.md says which and why) or "
                        "last epoch (default: best.pt "
                        "if the run has one, else last.pt)")
    parser.add_argument("--data-dir", type=Path, help="folder searched first for the data set")
    parser.add_argument("--device", default=SETTINGS["device"].default,
                        help=help_text("device", SETTINGS["device"]))
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate and print the result."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.runs.kinds import open_run
    from torchbasics.runs.trained import EvaluateRequest

    if args.csv is not None and args.split is not None:
        raise TorchbasicsError("--split is for picture runs; --csv names every row evaluated",
                               where="--split", fix="leave out --split")
    trained = open_run(args.run_dir, args.checkpoint)
    result = trained.evaluate(EvaluateRequest(
        split=args.split or "test", list_path=args.list, csv=args.csv,
        data_dir=args.data_dir, device=args.device))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "report"}, indent=2))
        return 0
    for line in trained.evaluation_lines(result):
        print(line)
    if result.get("filled_in"):
        print(f"note: {result['filled_in']}; filled in as in training", file=sys.stderr)
    return 0
