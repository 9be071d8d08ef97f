"""``torchbasics train`` on a tabular data set (``--dataset bonus``): its flags and handler.

``cli/train.py`` adds these flags to ``train`` and hands tabular data sets to
:func:`run_train_tabular`; everything else about ``train`` stays the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def add_tabular_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` flags for tabular data: the CSV, its column names, the test share."""
    group = parser.add_argument_group("tabular data (--dataset bonus --model linear)")
    group.add_argument("--csv", metavar="FILE",
                       help="CSV to train on (default: the data set's own, shipped in the package)")
    group.add_argument("--rating-column", metavar="NAME",
                       help="the CSV's performance-rating column (default: performance_rating)")
    group.add_argument("--years-column", metavar="NAME",
                       help="the CSV's years-of-experience column (default: years_experience)")
    group.add_argument("--projects-column", metavar="NAME",
                       help="the CSV's projects column (default: projects_completed)")
    group.add_argument("--target-column", metavar="NAME",
                       help="the CSV's column to predict (default: bonus)")
    group.add_argument("--test-fraction", type=float, default=0.2, metavar="FRACTION",
                       help="share of the rows held out for testing, seeded; --val-fraction "
                       "of the rest validates (default: 0.2)")


# Flags that mean something for one kind of data set only; giving one for the other kind
# is refused rather than silently ignored.
IMAGE_ONLY = ("hidden", "width", "channels", "dropout", "augment", "deskew", "mirror_average",
              "label_smoothing", "data_dir", "train_list", "val_list", "tensorboard")
TABULAR_ONLY = ("csv", "rating_column", "years_column", "projects_column", "target_column")


def refuse_flags(args: argparse.Namespace, names: tuple[str, ...], kind: str) -> None:
    """Raise naming any of ``names`` that was given on the command line."""
    from torchbasics.errors import TorchbasicsError

    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name, None)]
    if given:
        raise TorchbasicsError(
            f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to {kind} "
            f"data set '{args.dataset}'", fix="drop the flag(s); see `torchbasics train --help`",
        )


def is_tabular(dataset: str) -> bool:
    """True when ``dataset`` is a tabular (CSV) data set; unknown names raise the usual error."""
    from torchbasics.data.registry import get_dataset

    return get_dataset(dataset).kind == "tabular"


def run_train_tabular(args: argparse.Namespace) -> int:
    """Train a regression model, print the metrics and formulas, say where the run is."""
    from torchbasics.cli.train import config_from_args
    from torchbasics.tabular.bonus import FEATURES
    from torchbasics.tabular.formula import LinearFormula
    from torchbasics.tabular.regression import train_regression

    refuse_flags(args, IMAGE_ONLY, "the tabular")
    names = [args.rating_column, args.years_column, args.projects_column]
    feature_columns = None
    if any(name is not None for name in names):
        feature_columns = [name or column.name for name, column in zip(names, FEATURES,
                                                                       strict=True)]
    config = dataclasses.replace(
        config_from_args(args), csv=args.csv, feature_columns=feature_columns,
        target_column=args.target_column, test_fraction=args.test_fraction,
    )

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    summary = train_regression(config, args.out, force=args.force, resume=args.resume,
                               progress=sys.stderr.isatty() and not args.quiet, log=log)
    test, least = summary["metrics"]["test"], summary["least_squares_metrics"]["test"]
    print(f"test MSE {test['mse']:,.2f} (RMSE {test['rmse']:,.2f}, MAE {test['mae']:,.2f}, "
          f"R² {test['r2']:.4f}); least squares: test MSE {least['mse']:,.2f}; "
          f"{summary['train_seconds']:.2f} s")
    for label, key in (("learned", "formula"), ("least squares", "least_squares_formula"),
                       ("true rule", "true_formula")):
        if summary.get(key):
            print(f"{label + ':':<15}{LinearFormula.from_dict(summary[key])}")
    print(f"run directory: {args.out} (report.md, loss_curves.png, last.pt); next: "
          f"torchbasics predict {args.out} --rating 8 --years 5 --projects 12")
    return 0
