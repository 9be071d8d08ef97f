"""``torchbasics lr-find``: the learning-rate range test for a data set and model."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``lr-find`` to the top-level parser."""
    parser = commands.add_parser(
        "lr-find", help="find a learning rate: the range test, its curve and a suggestion",
        description="The learning-rate range test (Smith, 2015): train a throwaway copy of "
        "what `train` would build with the same flags (data, model, initial weights, "
        "optimizer) for up to --steps steps while the learning rate grows from 1e-6 to 10, "
        "stopping when the loss blows up. Prints the suggested peak rate (where the "
        "smoothed loss was lowest, divided by 10) and writes lr_find.png (the loss against "
        "the rate, the suggestion marked) and lr_find.json into --out. `train --lr auto` "
        "does the same first and trains with the suggestion.",
        populate=add_lr_find_flags,
    )
    parser.set_defaults(handler=run_lr_find)


def add_lr_find_flags(parser: argparse.ArgumentParser) -> None:
    """``lr-find``'s flags: where the curve goes, how many steps, then the settings."""
    from torchbasics.cli.flags import add_setting_flags
    from torchbasics.training.lr_find import STEPS

    parser.add_argument("--out", type=Path, default=Path("runs/lr-find"),
                        help="folder for lr_find.png and lr_find.json (default: runs/lr-find)")
    parser.add_argument("--steps", type=_positive, default=STEPS,
                        help=f"steps (rates) to try at most (default: {STEPS})")
    add_setting_flags(parser, exclude=("lr", "epochs", "steps", "time_budget",
                                       "early_stopping", "tensorboard", "recover"))


def _positive(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {value}")
    return value


def run_lr_find(args: argparse.Namespace) -> int:
    """Run the test, print the suggestion and where the curve is."""
    from torchbasics.cli.flags import config_from_args
    from torchbasics.runs.lr_find import lr_find

    found = lr_find(config_from_args(args), args.out, steps=args.steps)
    print(f"suggested learning rate: {found.suggestion:.3g} ({found.reason})")
    print(f"curve: {args.out / 'lr_find.png'} (data: {args.out / 'lr_find.json'}); next: "
          f"torchbasics train ... --lr {found.suggestion:.3g}, or --lr auto")
    return 0
