"""``torchbasics train`` and ``torchbasics models``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``models`` to the top-level parser."""
    models = commands.add_parser(
        "models", help="list the models with parameter counts and training recipes",
        description="List the registered models with their parameter counts (for 28x28 "
        "grayscale pictures and 10 classes; for tables, 3 inputs and 1 output, or 2 classes "
        "for a classifier) and the "
        "recipe `train` uses by default on a data set (a picture model on the image data set "
        "named, a table model on the first table).",
    )
    models.add_argument("--dataset", default="mnist",
                        help="show the recipes for this data set (default: mnist; for "
                        "regression models, the first tabular data set)")
    models.set_defaults(handler=run_models)

    parser = commands.add_parser(
        "train", help="train a model on a data set, your pictures or a CSV table, write a run "
        "directory",
        description="Train a model on a registered data set, your own pictures (a folder of "
        "class folders, or list files) or any CSV table (a classifier or a regression, as "
        "its target column says); see --dataset. The run directory gets config.json, "
        "metrics.csv, best.pt, last.pt, loss_curves.png, summary.json and report.md. "
        "Every setting not given comes from the model's recipe (`torchbasics models`) or "
        "the setting's default. Started by torchrun with several processes (`torchrun "
        "--nproc-per-node N -m torchbasics train ...`), they train together with "
        "DistributedDataParallel and only the first writes the run directory.",
        populate=add_train_flags,
    )
    parser.set_defaults(handler=run_train)


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """``train``'s flags: where the run goes, then one per setting (see :mod:`.flags`)."""
    from torchbasics.cli.flags import add_setting_flags

    parser.add_argument("--out", type=Path, required=True, help="run directory to create")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing run directory (default: refuse)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last.pt, after Ctrl-C, "
                        "SIGTERM or a crash; ends as the uninterrupted run would have")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    add_budget_flag(parser)
    add_setting_flags(parser)


def add_budget_flag(parser: argparse.ArgumentParser) -> None:
    """``--allow-short-budget``, for ``train`` and ``compare``."""
    parser.add_argument("--allow-short-budget", action="store_true",
                        help="train even when --time-budget leaves less than one epoch (or "
                        "200 steps of a longer one) after start-up and the final figures "
                        "(default: refuse, saying what budget would do)")


def run_train(args: argparse.Namespace) -> int:
    """Train, print one line per epoch, and say where the results are."""
    from torchbasics.cli.exit_codes import EXIT_BAD_INPUT, EXIT_INTERRUPTED
    from torchbasics.cli.flags import config_from_args
    from torchbasics.data.registry import shadowing_note
    from torchbasics.errors import TorchbasicsError
    from torchbasics.runs.budget import process_age
    from torchbasics.runs.report import result_lines
    from torchbasics.runs.train import train
    from torchbasics.training import distributed

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    note = shadowing_note(args.dataset)
    if note:
        log(note)
    try:
        summary = train(config_from_args(args), args.out, force=args.force,
                        resume=args.resume, progress=sys.stderr.isatty() and not args.quiet,
                        log=log, started=time.perf_counter() - process_age(),
                        allow_short_budget=args.allow_short_budget)
    except (TorchbasicsError, KeyboardInterrupt) as exc:
        if distributed.is_main():
            raise
        # Under torchrun every rank stops alike; rank 0 alone says why.
        return EXIT_BAD_INPUT if isinstance(exc, TorchbasicsError) else EXIT_INTERRUPTED
    if distributed.is_main():
        print("\n".join(result_lines(summary, args.out)))
    return 0


def run_models(args: argparse.Namespace) -> int:
    """Print the model table: each model's parameters and recipe, for pictures and tables."""
    from torchbasics.data.registry import DATASETS, get_dataset
    from torchbasics.models import count_parameters, create_model, get_model_entry, list_models
    from torchbasics.runs.config import recipe_for

    chosen = get_dataset(args.dataset)  # an unknown name is refused, listing the known ones
    rows = []
    for inputs, kind, shape, outputs in (("image", "image", (1, 28, 28), 10),
                                         ("table", "tabular", (3,), 1)):
        dataset = chosen if chosen.kind == kind else next(
            spec for spec in DATASETS.values() if spec.kind == kind)
        for name in list_models(inputs=inputs):
            entry = get_model_entry(name)
            recipe = recipe_for(name, dataset.name)
            own = recipe.get("model_settings", {})
            count = 2 if inputs == "table" and "regression" not in entry.tasks else outputs
            parameters = count_parameters(create_model(name, shape, count, **own))
            rows.append((name, f"{parameters:,}", f"{inputs}s: {_brief(recipe, own)}",
                         f"{entry.description} ({', '.join(entry.tasks)})"))
    other = next(spec.name for spec in DATASETS.values() if spec.kind != chosen.kind)
    recipe_title = f"recipe on {chosen.name} (tables: {other})" if chosen.kind == "image" else (
        f"recipe on {chosen.name} (pictures: {other})")
    width = max(len(recipe_title), *(len(brief) for _, _, brief, _ in rows))
    print(f"{'model':<14}{'parameters':>12}  {recipe_title:<{width}}  description")
    for name, parameters, brief, description in rows:
        print(f"{name:<14}{parameters:>12}  {brief:<{width}}  {description}")
    return 0


def _brief(recipe: dict, own: dict) -> str:
    """A recipe in one line: model settings, optimizer, length, batch, augmentation."""
    warmup = f", warm-up {recipe['warmup']}" if recipe.get("schedule") == "onecycle" else ""
    length = (f"what fits in {recipe['time_budget'] / 60:g} min" if "time_budget" in recipe
              else f"{recipe.get('epochs', '?')} epochs")
    return ("".join(f"{key} {value}, " for key, value in own.items())
            + f"{recipe.get('optimizer', '?')} lr {recipe.get('lr', '?')}{warmup}, "
            f"{length}, batch {recipe.get('batch_size', '?')}"
            + (f", augment {recipe['augment']}" if recipe.get("augment") else "")
            + (", deskew" if recipe.get("deskew") else "")
            + (", mirror-averaged" if recipe.get("mirror_average") else ""))
