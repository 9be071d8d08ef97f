"""Speed goals: torchbasics' training path against plain PyTorch, measured in one run.

    .venv/bin/python benchmarks/speed.py                # every part (about 4 minutes, idle CPU)
    .venv/bin/python benchmarks/speed.py --only 1,2     # some parts
    .venv/bin/python benchmarks/speed.py --quick        # smoke run: small subsets, one epoch

Data: MNIST as found on the search path (MNIST-10k on the development machines), split
90/10 stratified with the seed as `torchbasics train` does; the official test split.

1. images/s of one training epoch (after a short warm-up) of `cnn` and `convnet` at their
   recipe's batch size: torchbasics' path exactly as `torchbasics train` runs it
   (TensorBatchLoader, batch-wise transforms with the recipe's deskewing and augmentation,
   channels-last, bf16 autocast where the CPU has it, fused optimizer, train_one_epoch)
   against a plain fp32 loop over the same model: per-sample Dataset + DataLoader(shuffle=
   True), NCHW, SGD, loss.item() every step, no deskewing or augmentation. Goal: 2.5x for
   the convnet; the cnn's row is information (its kernels bound it).
2. images/s of one `mlp-relu` epoch: torchbasics' path (its recipe's batch size and
   precision) against the classic per-sample Dataset + DataLoader(batch_size=64,
   shuffle=True) with the plain fp32 loop; neither side deskews or augments. Goal: 3x. A second
   row, without a goal, isolates the loaders: both at batch 64, fp32, the same loop.
3. Training time until the test accuracy first reaches 98.0 % (the test split evaluated
   after each epoch, outside the timed region): `convnet`'s recipe as `torchbasics train`
   runs it (its validation passes included) against pytorch/examples' MNIST recipe
   (benchmarks/_plain_pytorch.py) on every training image; that one stops at the mark
   unless --full. Goals: 5x, and 99.0 % test accuracy after convnet's last epoch.
4. Peak RSS of one shuffled epoch over a synthetic IDX file of --memory-gb GiB:
   memory-mapped against in memory, by benchmarks/memmap_memory.py. Goal: memmap < 1 GiB.
5. Test accuracy of `cnn` after a short recipe trained in bf16 against fp32, averaged over
   --precision-seeds seeds. Goal: within 0.1 percentage point.

torchbasics' side runs in this process, one part after another. Each plain-PyTorch baseline
runs in a fresh process (benchmarks/_fresh_baseline.py), as a learner's loop would: without
the allocator setting torchbasics makes (torchbasics.allocator), which would otherwise stay
with this process; part 1 also shows the baseline with that setting. Part 4 runs in its
own processes too. Run it on an otherwise idle machine. Prints a markdown table; exits 1
if a goal is missed (not with --quick, whose figures are too small to judge). With --json
PATH it also writes the rows with the machine, the date and the command
(benchmarks/_results.py); the Speed page is made from the committed file
(benchmarks/results-speed-DATE.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import _results
import torch

from torchbasics.data.datasets import classic_loader
from torchbasics.data.image_data import ImageData
from torchbasics.data.loaders import TensorBatchLoader
from torchbasics.data.sources import load_split
from torchbasics.data.splits import train_val_split
from torchbasics.data.transforms import standard_transform
from torchbasics.device import choose_precision, resolve_device
from torchbasics.errors import TorchbasicsError
from torchbasics.models import create_model
from torchbasics.runs.config import TrainConfig, optimizer_and_schedule, resolve, step_plan
from torchbasics.runs.images import EVAL_BATCH_SIZE, TrainingSetup, build_training
from torchbasics.training.loop import (
    ClassificationTask,
    EpochRecord,
    fit,
    train_one_epoch,
    validate,
)

PARTS = (1, 2, 3, 4, 5)
DATASET = "mnist"
THROUGHPUT_MODELS = ("cnn", "convnet")
THROUGHPUT_GOAL = 2.5  # part 1: times the plain loop's images/s
# The cnn row is information only: that small model runs at its kernels' ceiling, which
# bounds the ratio below the goal (docs/results/03-speed.md; retired as a goal by issue 19).
THROUGHPUT_JUDGED = ("convnet",)
LOADER_GOAL = 3.0  # part 2: times the classic loader's images/s
LOADER_MODEL = "mlp-relu"
CLASSIC_BATCH_SIZE = 64  # part 2: the classic DataLoader's batch size
MARK = 0.980  # part 3: the test accuracy both recipes can reach on MNIST-10k
TIME_GOAL = 5.0  # part 3: times faster to the mark
FINAL_GOAL = 0.990  # part 3: convnet's test accuracy after its recipe
EXAMPLES_EPOCHS = 14
MEMMAP_GOAL_GIB = 1.0  # part 4
PRECISION_GOAL_PP = 0.1  # part 5: |bf16 - fp32| in percentage points
QUICK_IMAGES = 500  # --quick: training and test images used
PEAK_MEMORY_SCRIPT = Path(__file__).with_name("_peak_memory.py")
FRESH_BASELINE_SCRIPT = Path(__file__).with_name("_fresh_baseline.py")


@dataclass
class Row:
    """One line of the table; ``met`` is None where there is no goal."""

    measure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None

    def markdown(self) -> str:
        met = "—" if self.met is None else ("yes" if self.met else "NO")
        return (f"| {self.measure} | {self.ours} | {self.baseline} | {self.ratio} "
                f"| {self.goal} | {met} |")


@dataclass
class Data:
    """The splits: ``train``/``val`` as `torchbasics train` carves them, ``full`` whole."""

    train: ImageData
    val: ImageData
    full: ImageData
    test: ImageData


@dataclass
class Recipe:
    """What `torchbasics train` builds from a config (training/run.py), minus the run folder."""

    config: TrainConfig  # resolved
    precision: str
    setup: TrainingSetup  # model, loaders, optimizer, schedule, loss


@dataclass
class EpochResult:
    """Timed training seconds so far (from the start), and the test accuracy after the epoch."""

    epoch: int
    seconds: float
    test_accuracy: float | None
    train_loss: float


# --- torchbasics' side ---


def build_recipe(config: TrainConfig, data: Data, device: torch.device) -> Recipe:
    """Model, loaders, optimizer and schedule exactly as ``training.run.train`` sets them up."""
    config = resolve(config)
    precision = choose_precision(config.precision, device).name
    return Recipe(config, precision, build_training(config, data, device))


def train_recipe(
    recipe: Recipe, data: Data, device: torch.device, *, test_every_epoch: bool = True
) -> list[EpochResult]:
    """Run ``fit`` as `torchbasics train` does; test after each epoch (or the last), untimed.

    The timed wall clock covers training and torchbasics' own validation pass per epoch;
    only the test evaluation is left out.
    """
    # The test images are prepared exactly as the run's validation images are (deskewing,
    # normalization, layout): the same transform object, not a second copy of its settings.
    test_batches = TensorBatchLoader(data.test, batch_size=EVAL_BATCH_SIZE, device=device,
                                     transform=recipe.setup.val_batches.transform)
    results: list[EpochResult] = []
    untimed = 0.0
    started = time.perf_counter()

    def on_epoch_end(record: EpochRecord) -> bool:
        nonlocal untimed
        paused = time.perf_counter()
        accuracy = None
        if test_every_epoch or record.epoch == recipe.config.epochs:
            # In fp32, as `torchbasics evaluate` tests a model whatever it trained in.
            tested = validate(recipe.setup.model, test_batches, recipe.setup.task, device=device,
                              precision="fp32")
            accuracy = 1.0 - tested["error"]
        results.append(EpochResult(record.epoch, paused - started - untimed, accuracy,
                                   record.train_loss))
        untimed += time.perf_counter() - paused
        return False

    setup = recipe.setup
    fit(setup.model, setup.train_batches, setup.val_batches, setup.optimizer, setup.scheduler,
        setup.task, plan=setup.plan, device=device, precision=recipe.precision,
        on_epoch_end=on_epoch_end)
    return results


def timed_epoch(
    model: torch.nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, task: ClassificationTask, *,
    device: torch.device, precision: str, warmup: int,
) -> float:
    """images/s of one ``train_one_epoch`` pass, after ``warmup`` untimed steps."""
    train_one_epoch(model, list(itertools.islice(batches, warmup)), optimizer, scheduler, task,
                    device=device, precision=precision)
    if hasattr(batches, "set_epoch"):
        batches.set_epoch(1)
    started = time.perf_counter()
    # train_one_epoch reads its sums back once at the end, so the device has finished.
    trained = train_one_epoch(model, batches, optimizer, scheduler, task, device=device,
                              precision=precision)
    return trained["samples"] / (time.perf_counter() - started)


# --- the parts ---


def part_throughput(args: argparse.Namespace, data: Data, device: torch.device) -> list[Row]:
    """Part 1: images/s of an epoch of cnn and convnet, torchbasics vs a plain fp32 loop."""
    rows = []
    for name in THROUGHPUT_MODELS:
        recipe = build_recipe(TrainConfig(dataset=DATASET, model=name, seed=args.seed),
                              data, device)
        config = recipe.config
        # Each side's median over --repeats epochs: ours one after another in this process,
        # the plain loop's each in a fresh process, since its speed varies from process to
        # process (glibc's malloc; docs/results/03-speed.md) far more than from epoch to epoch.
        ours = [timed_epoch(recipe.setup.model, recipe.setup.train_batches,
                            recipe.setup.optimizer, recipe.setup.scheduler, recipe.setup.task,
                            device=device, precision=recipe.precision, warmup=args.warmup)
                for _ in range(args.repeats)]
        plain = dict(model=name, batch_size=config.batch_size, lr=config.lr,
                     momentum=config.momentum, warmup=args.warmup, seed=args.seed)
        baseline = [fresh_baseline("plain-epoch", plain, args, device)["images_per_second"]
                    for _ in range(args.repeats)]
        with_allocator = fresh_baseline("plain-epoch", plain, args, device,
                                        keep_freed_memory=True)["images_per_second"]
        ratio = statistics.median(ours) / statistics.median(baseline)
        judged = name in THROUGHPUT_JUDGED
        rows.append(Row(
            f"images/s, one training epoch of `{name}`, batch {config.batch_size}"
            + (f", median of {args.repeats}" if args.repeats > 1 else ""),
            f"{statistics.median(ours):,.0f}{_spread(ours)} ({_path(recipe)})",
            f"{statistics.median(baseline):,.0f}{_spread(baseline)} (plain fp32 loop, each in "
            f"a fresh process; {with_allocator:,.0f} with torchbasics' allocator setting)",
            f"{ratio:.2f}×", f"≥ {THROUGHPUT_GOAL}×" if judged else "— (information)",
            ratio >= THROUGHPUT_GOAL if judged else None,
        ))
    return rows


def part_loader(args: argparse.Namespace, data: Data, device: torch.device) -> list[Row]:
    """Part 2: an mlp-relu epoch, torchbasics' path vs the classic DataLoader(64) fp32 loop.

    A second row, without a goal, isolates the loader: both at batch 64, fp32, the same loop.
    """
    # The classic side neither deskews nor augments; nor does this one: the same work.
    recipe = build_recipe(TrainConfig(dataset=DATASET, model=LOADER_MODEL, deskew=False,
                                      augment=0.0, seed=args.seed), data, device)
    setup = recipe.setup
    ours = timed_epoch(setup.model, setup.train_batches, setup.optimizer, setup.scheduler,
                       setup.task, device=device, precision=recipe.precision,
                       warmup=args.warmup)
    classic = fresh_baseline("plain-epoch", dict(
        model=LOADER_MODEL, batch_size=CLASSIC_BATCH_SIZE, lr=recipe.config.lr,
        momentum=recipe.config.momentum, warmup=args.warmup, seed=args.seed,
    ), args, device)["images_per_second"]
    ratio = ours / classic
    return [
        Row(f"images/s, one epoch of `{LOADER_MODEL}`: torchbasics vs the classic "
            f"Dataset + DataLoader(batch_size={CLASSIC_BATCH_SIZE}, shuffle=True)",
            f"{ours:,.0f} ({_path(recipe)}, batch {recipe.config.batch_size})",
            f"{classic:,.0f} (plain fp32 loop)", f"{ratio:.2f}×", f"≥ {LOADER_GOAL}×",
            ratio >= LOADER_GOAL),
        loader_alone(args, data, device),
    ]


def loader_alone(args: argparse.Namespace, data: Data, device: torch.device) -> Row:
    """The loaders' share of part 2: mlp-relu, fp32, batch 64, the same loop, one process."""
    config = resolve(TrainConfig(dataset=DATASET, model=LOADER_MODEL,
                                 batch_size=CLASSIC_BATCH_SIZE,
                                 augment=0.0, precision="fp32", seed=args.seed))
    normalize = standard_transform(data.train.mean, data.train.std)
    loaders = {
        "fast": TensorBatchLoader(data.train, batch_size=CLASSIC_BATCH_SIZE, shuffle=True,
                                  seed=args.seed,
                                  transform=normalize, device=device),
        "classic": classic_loader(data.train, batch_size=CLASSIC_BATCH_SIZE, shuffle=True,
                                  seed=args.seed,
                                  transform=normalize),
    }
    speed = {}
    for kind, loader in loaders.items():
        torch.manual_seed(args.seed)
        model = create_model(config.model, data.train.image_shape,
                             data.train.num_classes).to(device)
        optimizer, scheduler = optimizer_and_schedule(model, config,
                                                      step_plan(config, len(loader)))
        speed[kind] = timed_epoch(model, loader, optimizer, scheduler,
                                  ClassificationTask(), device=device, precision="fp32",
                                  warmup=args.warmup)
    ratio = speed["fast"] / speed["classic"]
    return Row(
        f"… the loaders alone: `{LOADER_MODEL}`, batch {CLASSIC_BATCH_SIZE}, fp32, "
        "the same loop (train_one_epoch), one process",
        f"{speed['fast']:,.0f} (TensorBatchLoader)",
        f"{speed['classic']:,.0f} (Dataset + DataLoader)", f"{ratio:.2f}×", "—", None,
    )


def fresh_baseline(name: str, settings: dict, args: argparse.Namespace, device: torch.device,
                   *, keep_freed_memory: bool = False) -> dict:
    """Measure a baseline of benchmarks/_fresh_baseline.py in a new interpreter."""
    settings = {**settings, "device": str(device), "keep_freed_memory": keep_freed_memory,
                "data": {"quick": args.quick, "data_dir": args.data_dir, "seed": args.seed}}
    done = subprocess.run(
        [sys.executable, str(FRESH_BASELINE_SCRIPT), name, json.dumps(settings)],
        check=True, stdout=subprocess.PIPE, text=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def first_at_mark(results: list[EpochResult], mark: float) -> EpochResult | None:
    """The first epoch whose test accuracy reached ``mark``, or None."""
    return next((r for r in results
                 if r.test_accuracy is not None and r.test_accuracy >= mark), None)


def part_time_to_mark(args: argparse.Namespace, data: Data, device: torch.device) -> list[Row]:
    """Part 3: training time to 98.0 % test accuracy, convnet's recipe vs pytorch/examples'."""
    epochs = 1 if args.quick else None
    recipe = build_recipe(TrainConfig(dataset=DATASET, model="convnet", seed=args.seed,
                                      epochs=epochs), data, device)
    ours = train_recipe(recipe, data, device)
    _log(f"convnet recipe: {_history(ours)}")
    measured = fresh_baseline("examples", dict(
        epochs=epochs or EXAMPLES_EPOCHS, seed=args.seed,
        stop_at=None if args.full or args.quick else MARK,
    ), args, device)
    theirs = [EpochResult(**epoch) for epoch in measured["epochs"]]
    _log(f"pytorch/examples recipe: {_history(theirs)}")

    ours_hit, theirs_hit = first_at_mark(ours, MARK), first_at_mark(theirs, MARK)
    ours_cell = (f"{ours_hit.seconds:.1f} s (epoch {ours_hit.epoch} of {len(ours)})"
                 if ours_hit else f"not reached in {_epochs(len(ours))}")
    theirs_cell = (f"{theirs_hit.seconds:.1f} s (epoch {theirs_hit.epoch})" if theirs_hit
                   else f"not reached in {_epochs(len(theirs))} ({theirs[-1].seconds:.1f} s)")
    if ours_hit is None:
        ratio, met = "—", False
    elif theirs_hit is None:  # still a lower bound: it took longer than all its epochs
        bound = theirs[-1].seconds / ours_hit.seconds
        ratio, met = f"> {bound:.1f}×", bound >= TIME_GOAL
    else:
        speedup = theirs_hit.seconds / ours_hit.seconds
        ratio, met = f"{speedup:.2f}×", speedup >= TIME_GOAL

    final = ours[-1].test_accuracy
    stopped = len(theirs) < EXAMPLES_EPOCHS and not args.quick
    theirs_final = (f"{_percent(theirs[-1].test_accuracy)} after epoch {len(theirs)} "
                    f"(stopped at the mark; --full runs all {EXAMPLES_EPOCHS})" if stopped
                    else f"{_percent(theirs[-1].test_accuracy)} ({_epochs(len(theirs))})")
    return [
        Row(f"training time to {_percent(MARK, 1)} test accuracy",
            f"{ours_cell}, `convnet` recipe", f"{theirs_cell}, pytorch/examples recipe",
            ratio, f"≥ {TIME_GOAL:g}×", met),
        Row("test accuracy after the recipe",
            f"{_percent(final)} (`convnet`, {_epochs(len(ours))})", theirs_final, "—",
            f"≥ {_percent(FINAL_GOAL, 1)} (torchbasics)", final >= FINAL_GOAL),
    ]


def part_memory(args: argparse.Namespace) -> list[Row]:
    """Part 4: peak RSS of the memory-mapped and the in-memory loader, one epoch each."""
    size_gib = 0.25 if args.quick else args.memory_gb
    goal = f"memmap < {MEMMAP_GOAL_GIB:g} GiB"
    if problem := memory_part_problem(size_gib):
        _log(f"part 4 not run: {problem}")
        return [Row(f"peak RSS, one shuffled epoch over a {size_gib:g} GiB IDX file",
                    f"not run: {problem}", "—", "—", goal, False)]
    done = subprocess.run(
        [sys.executable, str(PEAK_MEMORY_SCRIPT), "--size-gib", str(size_gib),
         "--seed", str(args.seed)],
        check=True, stdout=subprocess.PIPE, text=True,
    )
    measured = json.loads(done.stdout.splitlines()[-1])
    runs = {run["path"]: run for run in measured["results"]}
    gib = {path: run["peak_rss_bytes"] / (1 << 30) for path, run in runs.items()}
    speed = {path: run["images"] / run["epoch_seconds"] for path, run in runs.items()}
    return [Row(
        f"peak RSS, one shuffled epoch over a {measured['size_bytes'] / (1 << 30):.2f} GiB "
        f"IDX file ({runs['memmap']['images']:,} images)",
        f"{gib['memmap']:.2f} GiB (memory-mapped; {speed['memmap']:,.0f} images/s)",
        f"{gib['memory']:.2f} GiB (in memory; {speed['memory']:,.0f} images/s)",
        f"{gib['memory'] / gib['memmap']:.1f}× less", goal, gib["memmap"] < MEMMAP_GOAL_GIB,
    )]


def memory_part_problem(size_gib: float) -> str | None:
    """Why part 4 cannot run here (too little disk or memory), or None."""
    needed = size_gib * (1 << 30) * 1.01 + (64 << 20)  # images, labels, a margin
    folder = tempfile.gettempdir()
    free = shutil.disk_usage(folder).free
    if free < needed:
        return f"{free / (1 << 30):.1f} GiB free in {folder}, {needed / (1 << 30):.1f} needed"
    available = _meminfo_bytes("MemAvailable")
    # The in-memory loader holds the whole file, plus torch itself (~0.5 GiB).
    if available is not None and available < needed + (512 << 20):
        return (f"{available / (1 << 30):.1f} GiB of memory available, the in-memory loader "
                f"needs {(needed + (512 << 20)) / (1 << 30):.1f}")
    return None


def _meminfo_bytes(field: str) -> int | None:
    """A ``/proc/meminfo`` figure in bytes (Linux), or None elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def part_precision(args: argparse.Namespace, data: Data, device: torch.device) -> list[Row]:
    """Part 5: test accuracy of a short cnn recipe, bf16 vs fp32, over several seeds."""
    epochs = 1 if args.quick else args.precision_epochs
    seeds = range(args.seed, args.seed + (1 if args.quick else args.precision_seeds))
    accuracy: dict[str, list[float]] = {"bf16": [], "fp32": []}
    for seed in seeds:
        for precision in accuracy:
            recipe = build_recipe(TrainConfig(dataset=DATASET, model="cnn", epochs=epochs,
                                              seed=seed, precision=precision), data, device)
            result = train_recipe(recipe, data, device, test_every_epoch=False)[-1]
            accuracy[precision].append(result.test_accuracy)
            _log(f"cnn, {_epochs(epochs)}, seed {seed}, {precision}: "
                 f"{_percent(result.test_accuracy)}")
    differences = [100 * (b - f) for b, f in zip(accuracy["bf16"], accuracy["fp32"], strict=True)]
    mean_difference = statistics.fmean(differences)
    spread = f", sd {statistics.stdev(differences):.2f}" if len(differences) > 1 else ""
    return [Row(
        f"test accuracy, `cnn` recipe cut to {_epochs(epochs)}, mean of {len(seeds)} "
        f"seed{'s' * (len(seeds) > 1)}",
        f"{_percent(statistics.fmean(accuracy['bf16']))} (bf16)",
        f"{_percent(statistics.fmean(accuracy['fp32']))} (fp32)",
        f"Δ {mean_difference:+.2f} pp (per seed: "
        f"{', '.join(f'{d:+.2f}' for d in differences)}{spread})",
        f"Δ within ±{PRECISION_GOAL_PP} pp", abs(mean_difference) <= PRECISION_GOAL_PP,
    )]


# --- set-up and report ---


def load_data(args: argparse.Namespace) -> Data:
    """The training split carved 90/10 as `torchbasics train` does, and the test split."""
    full = load_split(DATASET, "train", args.data_dir, progress=False)
    test = load_split(DATASET, "test", args.data_dir, progress=False)
    if args.quick:
        full = full.subset(range(min(QUICK_IMAGES, len(full))), "quick")
        test = test.subset(range(min(QUICK_IMAGES, len(test))), "quick")
    train, val = train_val_split(full, 0.1, args.seed)
    return Data(train, val, full, test)


def table(rows: list[Row]) -> str:
    """The markdown table of every measured row."""
    return "\n".join([
        "| measure | torchbasics | baseline | ratio | goal | met |",
        "|---|---:|---:|---:|---|---|",
        *(row.markdown() for row in rows),
    ])


def print_table(measured: dict) -> None:
    """A measurement: its device and data (when recorded), and the table of its rows."""
    if measured.get("quick"):
        print("QUICK: a smoke run, goals not judged.\n")
    if measured.get("device"):
        print(f"Device: {measured['device']}." + ("  " if measured.get("data") else ""))
    if measured.get("data"):
        print(f"Data: {measured['data']}.")
    if measured.get("device") or measured.get("data"):
        print()
    print(table([Row(**row) for row in measured["rows"]]))


def print_results(results: dict) -> None:
    """Every measurement of a results file, each under the line naming its machine, date
    and command (what the Speed page shows)."""
    _results.print_measurements(results, print_table)


def parse_parts(text: str) -> list[int]:
    """``"1,3"`` -> ``[1, 3]``; anything else than part numbers is refused."""
    try:
        parts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        parts = []
    if not parts or not set(parts) <= set(PARTS):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated part numbers among {', '.join(map(str, PARTS))}")
    return parts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=parse_parts, default=list(PARTS), metavar="PARTS",
                        help="comma-separated parts to run, e.g. 1,2 (default: all five)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_IMAGES} training and test images, one epoch, "
                        "one seed, 0.25 GiB for part 4; goals not judged (default: off)")
    parser.add_argument("--full", action="store_true",
                        help=f"part 3: run pytorch/examples' recipe for all {EXAMPLES_EPOCHS} "
                        "epochs instead of stopping at the mark (default: off)")
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="part 4: size of the synthetic images file in GiB; needs as "
                        "much free disk and memory (default: 4)")
    parser.add_argument("--precision-seeds", type=int, default=3,
                        help="part 5: seeds averaged (default: 3)")
    parser.add_argument("--precision-epochs", type=int, default=5,
                        help="part 5: epochs of the cnn recipe (default: 5)")
    parser.add_argument("--warmup", type=int, default=5,
                        help="parts 1-2: untimed steps before the timed epoch (default: 5)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="part 1: epochs timed on each side, the median reported "
                        "(default: 3; 1 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument("--device", default="auto",
                        help="auto, cpu or cuda, for both sides (default: auto)")
    parser.add_argument("--data-dir", help="where the MNIST files are (default: the search "
                        "path, e.g. $TORCHBASICS_DATA)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the rows, machine, date and command here "
                        "(default: none)")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.repeats = min(args.warmup, 1), 1
    if args.memory_gb <= 0 or args.precision_seeds < 1 or args.precision_epochs < 1 \
            or args.repeats < 1 or args.warmup < 0:
        parser.error("--memory-gb, --precision-seeds, --precision-epochs and --repeats must "
                     "be positive, --warmup not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    device = resolve_device(args.device)
    data = load_data(args) if set(args.only) - {4} else None
    parts = {1: part_throughput, 2: part_loader, 3: part_time_to_mark, 5: part_precision}
    for part in args.only:
        began = time.perf_counter()
        new = part_memory(args) if part == 4 else parts[part](args, data, device)
        rows += new
        for row in new:
            _log(f"part {part} ({time.perf_counter() - began:.0f} s): {row.markdown()}")
    described = None if data is None else (
        f"{DATASET}, {len(data.train):,} training / {len(data.val):,} validation images "
        f"(90/10 split, seed {args.seed}) / {len(data.test):,} test images")
    measured = _results.measurement(
        _results.command_line("speed.py", argv), started, quick=args.quick, device=str(device),
        data=described, rows=[dataclasses.asdict(row) for row in rows])
    if args.json:
        _results.write(args.json, "speed", measured)
    print_results({"measurements": [measured]})
    missed = [row for row in rows if row.met is False]
    return 1 if missed and not args.quick else 0


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read after it counts it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _spread(values: list[float]) -> str:
    """' (lowest–highest)' of several measurements; nothing for one."""
    return f" ({min(values):,.0f}–{max(values):,.0f})" if len(values) > 1 else ""


def _path(recipe: Recipe) -> str:
    """How torchbasics' side trains: precision, layout, deskewing, augmentation."""
    layout = ", channels-last" if recipe.setup.channels_last else ""
    deskewing = ", deskew" if recipe.config.deskew else ""
    return f"{recipe.precision}{layout}{deskewing}, augment {recipe.config.augment:g}"


def _history(results: list[EpochResult]) -> str:
    return ", ".join(f"{r.epoch}: {r.seconds:.1f} s {_percent(r.test_accuracy)}"
                     for r in results if r.test_accuracy is not None)


def _percent(fraction: float, digits: int = 2) -> str:
    return f"{100 * fraction:.{digits}f} %"


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' * (count != 1)}"


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)  # progress, as each part finishes


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TorchbasicsError as exc:  # no data, no GPU: one line, as the CLI says it
        print(f"speed.py: error: {exc.message}", file=sys.stderr)
        sys.exit(2)
