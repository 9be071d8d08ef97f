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

    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="made by `torchbasics train`")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--split", default="test", choices=["train", "test"],
                        help="which split (default: test)")
    source.add_argument("--list", type=Path, metavar="FILE",
                        help="evaluate on the test-split IDs or image paths this list file names")
    source.add_argument("--csv", type=Path, metavar="FILE",
                        help="table runs: evaluate on every row of this CSV instead of the "
                        "run's test rows")
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
                          list_path=args.list, csv=args.csv, data_dir=args.data_dir,
                          checkpoint_name=f"{args.checkpoint}.pt", device=args.device)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "report"}, indent=2))
        return 0
    if "mse" in result:  # a table regression
        r2 = "—" if result["r2"] is None else f"{result['r2']:.4f}"
        print(f"{args.run_dir} on {result['evaluated_on']} ({result['count']:,} rows): MSE "
              f"{result['mse']:,.4f}, RMSE {result['rmse']:,.4f}, MAE {result['mae']:,.4f}, "
              f"R² {r2}")
        _filled_in(result)
        return 0
    if "log_loss" in result:  # a table classifier
        print(f"{args.run_dir} on {result['evaluated_on']} ({result['count']:,} rows): "
              f"accuracy {percent(result['accuracy'])}, error {percent(result['error'])}, "
              f"log-loss {result['log_loss']:.4f}\n")
        print(result["report"])
        print(f"figure: {args.run_dir}/confusion_matrix.png")
        _filled_in(result)
        return 0
    print(f"{args.run_dir}/{args.checkpoint}.pt on {result['evaluated_on']} "
          f"({result['count']:,} images): error {percent(result['error'])}, "
          f"accuracy {percent(result['accuracy'])}\n")
    print(result["report"])
    print(f"figures: {args.run_dir}/confusion_matrix.png, {args.run_dir}/mistakes.png")
    return 0


def _filled_in(result: dict) -> None:
    """The line about what had to be filled in, if anything."""
    import sys

    if result.get("filled_in"):
        print(f"note: {result['filled_in']}; filled in as in training", file=sys.stderr)
