"""``torchbasics predict``: predictions from a trained run's checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SINGLE_FLAGS = ("rating", "years", "projects")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the top-level parser."""
    parser = commands.add_parser(
        "predict", help="predict with a trained run (the bonus regression)",
        description="Predict with a run's checkpoint; it says which model, columns and scaling "
        "to use. For a bonus regression run: one employee from --rating, --years and "
        "--projects, or every row of a CSV (--csv IN), written with a predicted_bonus column "
        "added. Values outside the allowed ranges are refused.",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="run directory (its best.pt, else last.pt) or a checkpoint file")
    group = parser.add_argument_group("one employee")
    group.add_argument("--rating", type=float, help="performance rating, a whole number 1-10")
    group.add_argument("--years", type=float, help="years of experience, a number >= 0")
    group.add_argument("--projects", type=float,
                       help="projects completed, a whole number >= 0")
    group = parser.add_argument_group("a CSV of employees")
    group.add_argument("--csv", type=Path, metavar="IN",
                       help="CSV with the columns the model was trained on (others are kept)")
    group.add_argument("--out", type=Path, metavar="OUT",
                       help="where to write the CSV with predictions (default: standard output)")
    parser.set_defaults(handler=run_predict)


def find_checkpoint(run: Path) -> Path:
    """``run`` itself when it is a file; else the run directory's ``best.pt`` or ``last.pt``."""
    from torchbasics.errors import TorchbasicsError

    if run.is_file():
        return run
    if not run.is_dir():
        raise TorchbasicsError("no such run directory or checkpoint", where=run,
                               fix="give a folder made by `torchbasics train`, or a .pt file")
    for name in ("best.pt", "last.pt"):
        if (run / name).is_file():
            return run / name
    raise TorchbasicsError("no best.pt or last.pt here", where=run,
                           fix="is this a run directory made by `torchbasics train`?")


def run_predict(args: argparse.Namespace) -> int:
    """Dispatch on the checkpoint's kind, predict, and print or write the result."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.tabular.predict import Regressor
    from torchbasics.training.checkpoint import load_checkpoint

    path = find_checkpoint(args.run)
    checkpoint = load_checkpoint(path)
    if checkpoint.get("kind", "classification") != "regression":
        raise TorchbasicsError(
            "this is an image classifier, and image prediction is not available yet",
            where=path, fix=f"measure it on the test split with `torchbasics evaluate {args.run}`",
        )
    regressor = Regressor.from_checkpoint(checkpoint, str(path))
    single = {flag: getattr(args, flag) for flag in SINGLE_FLAGS}
    given = [f"--{flag}" for flag, value in single.items() if value is not None]
    if args.csv is not None and given:
        raise TorchbasicsError(f"{', '.join(given)} and --csv do not go together",
                               fix="give one employee's values, or a CSV, not both")
    if args.out is not None and args.csv is None:
        raise TorchbasicsError("--out needs --csv", fix="give the CSV to predict with --csv IN")
    if args.csv is not None:
        frame = regressor.predict_csv(args.csv, args.out)
        if args.out is None:
            sys.stdout.write(frame.to_csv(index=False))
        else:
            print(f"wrote {args.out}: {len(frame):,} rows with a {regressor.output_column} "
                  "column")
        return 0
    if not given:
        raise TorchbasicsError("nothing to predict",
                               fix="give --rating, --years and --projects, or --csv IN")
    value = regressor.predict_one(single)
    inputs = ", ".join(f"{column.name} {single[column.flag or column.name]:g}"
                       for column in regressor.columns)
    print(f"predicted {regressor.target.name}: {value:,.2f}  ({inputs})")
    return 0
