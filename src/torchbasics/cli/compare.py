"""``torchbasics compare``: several models, one split, one table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``compare`` to the top-level parser."""
    parser = commands.add_parser(
        "compare", help="train several models on the same split and compare them",
        description="Train each model with its recipe on the same split and seed, evaluate "
        "each on the test split, and write results.md (a row per model: final train error, "
        "final validation error, lowest validation error, test error, parameters, epochs, "
        "time, images/s), results.json (errors as fractions) and validation_curves.png into "
        "--out; each model's own run directory is OUT/MODEL. Any training setting given "
        "applies to every model; a --time-budget is each model's own (counted from the start "
        "of its training).",
        populate=add_compare_flags,
    )
    parser.set_defaults(handler=run_compare)


def add_compare_flags(parser: argparse.ArgumentParser) -> None:
    """``compare``'s flags: the models, where the results go, and the image settings."""
    from torchbasics.cli.flags import add_setting_flags
    from torchbasics.cli.train import add_budget_flag
    from torchbasics.runs.compare import SEED_MODELS

    parser.add_argument("--models", default=",".join(SEED_MODELS),
                        help=f"comma-separated models (default: {','.join(SEED_MODELS)}, "
                        "the seed project's four)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the comparison")
    parser.add_argument("--force", action="store_true",
                        help="overwrite earlier runs in --out (default: refuse)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    add_budget_flag(parser)
    add_setting_flags(parser, exclude=("model",), scopes=("image", "pictures"),
                      model_settings=False)


def run_compare(args: argparse.Namespace) -> int:
    """Run the comparison and print the table."""
    from torchbasics.cli.flags import config_from_args
    from torchbasics.errors import TorchbasicsError
    from torchbasics.runs.compare import compare

    models = [name.strip() for name in args.models.split(",") if name.strip()]
    if not models:
        raise TorchbasicsError("no models given", where="--models",
                               fix="e.g. --models softmax,cnn")

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    from torchbasics.data.registry import shadowing_note

    if shadowing_note(args.dataset):
        log(shadowing_note(args.dataset))

    rows = compare(config_from_args(args), models, args.out, force=args.force,
                   progress=sys.stderr.isatty() and not args.quiet, log=log,
                   allow_short_budget=args.allow_short_budget)
    print((args.out / "results.md").read_text())
    print(f"table: {args.out / 'results.md'}; curves: {args.out / 'validation_curves.png'}")
    failed = [row["model"] for row in rows if "failed" in row]
    if failed:
        raise TorchbasicsError(f"{len(failed)} of {len(rows)} models failed to train: "
                               f"{', '.join(failed)} (see the table)")
    return 0
