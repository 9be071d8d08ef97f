"""``torchbasics train`` and ``torchbasics models``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torchbasics.cli.tabular import add_tabular_arguments

DEFAULT_FROM_RECIPE = "default: the model's recipe, see `torchbasics models`"
DEVICE_HELP = ("auto (an NVIDIA or AMD GPU, else Apple's MPS, else another accelerator this "
               "PyTorch knows, else the CPU), cpu, cuda, cuda:N or mps; `torchbasics doctor` "
               "shows what auto picks and why (default: auto)")
PRECISION_HELP = ("auto: bf16 where the GPU or CPU computes it natively (CUDA from Ampere on, "
                  "AVX-512 BF16/AMX CPUs), fp16 with gradient scaling on older NVIDIA GPUs, "
                  "else fp32; fp16 is for GPUs only (default: auto)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``models`` to the top-level parser."""
    models = commands.add_parser(
        "models", help="list the models with parameter counts and training recipes",
        description="List the registered models with their parameter counts (for 28x28 "
        "grayscale input, 10 classes; regression models: 3 features, 1 output) and the "
        "recipe `train` uses by default on a data set.",
    )
    models.add_argument("--dataset", default="mnist",
                        help="show the recipes for this data set (default: mnist)")
    models.set_defaults(handler=run_models)

    parser = commands.add_parser(
        "train", help="train a model (image classifier or bonus regression), write a run directory",
        description="Train a model on a data set. The run directory gets config.json, "
        "metrics.csv, best.pt, last.pt, loss_curves.png, summary.json and report.md. "
        "Every setting not given comes from the model's recipe (`torchbasics models`). "
        "Started by torchrun with several processes (`torchrun --nproc-per-node N -m "
        "torchbasics train ...`), they train together with DistributedDataParallel and "
        "only the first writes the run directory.",
    )
    parser.add_argument("--dataset", default="mnist", help="data set (default: mnist)")
    parser.add_argument("--model", default="cnn", help="model name (default: cnn)")
    parser.add_argument("--out", type=Path, required=True, help="run directory to create")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing run directory (default: refuse)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last.pt, after Ctrl-C, "
                        "SIGTERM or a crash; ends as the uninterrupted run would have")
    group = parser.add_argument_group("model settings (only for the models that take them)")
    group.add_argument("--hidden", type=int,
                       help="hidden units: of an MLP (default: 512), of convnet's fully "
                       "connected layer (default: 256)")
    group.add_argument("--width", type=int,
                       help="convnet channels of the first block (default: 32)")
    group.add_argument("--channels", type=int, help="cnn convolution channels (default: 32)")
    group.add_argument("--dropout", type=float, help="dropout probability")
    group = parser.add_argument_group("optimization")
    group.add_argument("--epochs", type=int, help=DEFAULT_FROM_RECIPE)
    group.add_argument("--batch-size", type=int,
                       help="the global batch: under torchrun, split evenly over the "
                       f"processes ({DEFAULT_FROM_RECIPE})")
    group.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], help=DEFAULT_FROM_RECIPE)
    group.add_argument("--lr", type=float, help=f"peak learning rate ({DEFAULT_FROM_RECIPE})")
    group.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    group.add_argument("--weight-decay", type=float, help=DEFAULT_FROM_RECIPE)
    group.add_argument("--schedule", choices=["onecycle", "cosine", "constant"],
                       help=DEFAULT_FROM_RECIPE)
    group.add_argument("--warmup", type=float, metavar="FRACTION",
                       help="one-cycle schedule: the share of the steps spent raising the "
                       f"learning rate to --lr before annealing it ({DEFAULT_FROM_RECIPE})")
    group.add_argument("--label-smoothing", type=float, help=DEFAULT_FROM_RECIPE)
    group.add_argument("--augment", type=float, metavar="STRENGTH",
                       help="random rotations/shifts/zoom of training images (and left-right "
                       "flips where the data set allows): 0 off, 1 standard (10 degrees, "
                       f"10 %% shift and zoom), 0.5 half ({DEFAULT_FROM_RECIPE})")
    group.add_argument("--deskew", action=argparse.BooleanOptionalAction,
                       help="straighten slanted images (shear upright, centre of mass to the "
                       "middle) in training and, recorded in the checkpoint, wherever the "
                       f"model is used afterwards ({DEFAULT_FROM_RECIPE})")
    group.add_argument("--mirror-average", action=argparse.BooleanOptionalAction,
                       help="predict from the mean logits of each image and its left-right "
                       "mirror image, in validation and, recorded in the checkpoint, wherever "
                       "the model is used afterwards; twice the work per prediction. Only for "
                       f"data sets whose classes survive mirroring ({DEFAULT_FROM_RECIPE})")
    group.add_argument("--early-stopping", type=int, default=0, metavar="EPOCHS",
                       help="stop after this many epochs without a new best (default: 0, off)")
    group = parser.add_argument_group("data")
    group.add_argument("--data-dir", type=Path, help="folder searched first for the data set")
    group.add_argument("--val-fraction", type=float, default=0.1,
                       help="share of the training set held out, stratified (default: 0.1)")
    group.add_argument("--train-list", type=Path, help="list file of training IDs/paths")
    group.add_argument("--val-list", type=Path, help="list file of validation IDs/paths")
    group = parser.add_argument_group("run")
    group.add_argument("--seed", type=int, default=0,
                       help="seed for everything random (default: 0)")
    group.add_argument("--device", default="auto", help=DEVICE_HELP)
    group.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                       help=PRECISION_HELP)
    group.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    group.add_argument("--tensorboard", action="store_true",
                       help="also log to RUN_DIR/tensorboard (needs the tensorboard extra: "
                       "pip install 'torchbasics[tensorboard]')")
    add_tabular_arguments(parser)
    parser.set_defaults(handler=run_train)


def config_from_args(args: argparse.Namespace):
    """The :class:`TrainConfig` the flags describe."""
    from torchbasics.training.config import TrainConfig

    settings = {name: getattr(args, name) for name in ("hidden", "width", "channels", "dropout")
                if getattr(args, name) is not None}
    return TrainConfig(
        dataset=args.dataset, model=args.model, model_settings=settings, epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
        weight_decay=args.weight_decay, schedule=args.schedule, warmup=args.warmup,
        label_smoothing=args.label_smoothing, deskew=args.deskew,
        mirror_average=args.mirror_average, augment=args.augment,
        val_fraction=args.val_fraction, seed=args.seed, device=args.device,
        precision=args.precision, early_stopping=args.early_stopping,
        tensorboard=args.tensorboard,
        data_dir=None if args.data_dir is None else str(args.data_dir),
        train_list=None if args.train_list is None else str(args.train_list),
        val_list=None if args.val_list is None else str(args.val_list),
    )


def run_train(args: argparse.Namespace) -> int:
    """Train, print one line per epoch, and say where the results are."""
    from torchbasics.cli.tabular import TABULAR_ONLY, is_tabular, refuse_flags, run_train_tabular

    if is_tabular(args.dataset):  # a CSV (bonus): regression, its own trainer and summary
        return run_train_tabular(args)
    refuse_flags(args, TABULAR_ONLY, "the image")
    from torchbasics.cli import EXIT_BAD_INPUT, EXIT_INTERRUPTED
    from torchbasics.errors import TorchbasicsError
    from torchbasics.reports import percent
    from torchbasics.training import distributed
    from torchbasics.training.run import train

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    try:
        summary = train(config_from_args(args), args.out, force=args.force,
                        resume=args.resume, progress=sys.stderr.isatty() and not args.quiet,
                        log=log)
    except (TorchbasicsError, KeyboardInterrupt) as exc:
        if distributed.is_main():
            raise
        # Under torchrun every rank stops alike; rank 0 alone says why.
        return EXIT_BAD_INPUT if isinstance(exc, TorchbasicsError) else EXIT_INTERRUPTED
    if not distributed.is_main():
        return 0
    print(f"final train error {percent(summary['final_train_error'])}, "
          f"final validation error {percent(summary['final_val_error'])}, "
          f"lowest validation error {percent(summary['lowest_val_error'])} "
          f"(epoch {summary['lowest_val_error_epoch']}); {summary['train_seconds']:.0f} s")
    print(f"run directory: {args.out} (report.md, loss_curves.png, best.pt); "
          f"next: torchbasics evaluate {args.out}")
    return 0


def run_models(args: argparse.Namespace) -> int:
    """Print the model table."""
    from torchbasics.data.registry import get_dataset
    from torchbasics.models import count_parameters, create_model, get_model_entry, list_models
    from torchbasics.training.config import recipe_for

    get_dataset(args.dataset)  # an unknown name is refused, listing the known ones
    rows = []
    for name in list_models():
        regression = get_model_entry(name).task == "regression"  # 3 features -> 1 value
        shape, outputs = ((3,), 1) if regression else ((1, 28, 28), 10)
        parameters = count_parameters(create_model(name, shape, outputs))
        recipe = recipe_for(name, None if regression else args.dataset)  # tabular: its own
        warmup = (f", warm-up {recipe['warmup']}"
                  if recipe.get("schedule") == "onecycle" else "")
        brief = (f"{recipe.get('optimizer', '?')} lr {recipe.get('lr', '?')}{warmup}, "
                 f"{recipe.get('epochs', '?')} epochs, batch {recipe.get('batch_size', '?')}"
                 + (f", augment {recipe['augment']}" if recipe.get("augment") else "")
                 + (", deskew" if recipe.get("deskew") else "")
                 + (", mirror-averaged" if recipe.get("mirror_average") else ""))
        rows.append((name, f"{parameters:,}", brief, get_model_entry(name).description))
    recipe_title = f"recipe on {args.dataset}"
    width = max(len(recipe_title), *(len(brief) for _, _, brief, _ in rows))
    print(f"{'model':<14}{'parameters':>12}  {recipe_title:<{width}}  description")
    for name, parameters, brief, description in rows:
        print(f"{name:<14}{parameters:>12}  {brief:<{width}}  {description}")
    return 0
