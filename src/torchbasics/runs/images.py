"""Train an image classifier end to end: data, model, loop, checkpoints, run directory."""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from torchbasics.allocator import keep_freed_memory
from torchbasics.data.image_data import ImageData
from torchbasics.data.loaders import TensorBatchLoader
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split
from torchbasics.data.splits import train_val_split
from torchbasics.data.transforms import standard_transform
from torchbasics.device import resolve_device, resolve_precision
from torchbasics.errors import TorchbasicsError
from torchbasics.models import count_parameters, create_model, get_model_entry
from torchbasics.runs import rundir
from torchbasics.training import distributed, tensorboard
from torchbasics.checkpoint import (
    check_weights_fit,
    describe_model,
    is_regression,
    library_versions,
    load_checkpoint,
    model_settings,
    save_checkpoint,
)
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.training.interrupts import TrainingInterrupted, stop_on_signals
from torchbasics.training.loop import (
    ClassificationTask,
    EpochRecord,
    Interrupted,
    PartialEpoch,
    fit,
)
from torchbasics.training.optim import build_optimizer, build_scheduler

EVAL_BATCH_SIZE = 1000  # per process
RANK_SEED_STRIDE = 10_000  # rank r's random draws are seeded with seed + r * this
# What last.pt must hold, besides the model, to continue a run exactly: field -> type.
RESUME_FIELDS: dict[str, type | tuple[type, ...]] = {
    "config": dict, "optimizer_state": dict, "scheduler_state": dict,
    "augment_rng": torch.Tensor, "torch_rng": torch.Tensor, "epoch": int,
    "best_val_error": (int, float), "best_val_loss": (int, float),
}
PARTIAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "epoch": int, "lr": (int, float), "loss_sum": torch.Tensor, "mistakes": torch.Tensor,
    "steps": int, "samples": int, "seconds": (int, float),
}


@dataclass
class Splits:
    """The data a run trains and validates on (the test split is not loaded here)."""

    train: ImageData
    val: ImageData


def load_train_val(config: TrainConfig) -> Splits:
    """The training split, and validation carved from it (or given by list files)."""
    full = load_split(config.dataset, "train", config.data_dir)
    if config.train_list or config.val_list:
        from torchbasics.data.image_files import load_list

        if not (config.train_list and config.val_list):
            raise TorchbasicsError("--train-list and --val-list go together",
                                   fix="give both, or neither for a stratified split")
        return Splits(load_list(config.train_list, full), load_list(config.val_list, full))
    train, val = train_val_split(full, config.val_fraction, config.seed)
    return Splits(train, val)


def load_resume_point(path: Path) -> dict[str, Any]:
    """``last.pt`` of an unfinished image run, checked to hold everything resuming needs."""
    checkpoint = load_checkpoint(path)
    if is_regression(checkpoint):
        raise TorchbasicsError("this is a regression run, and regression runs are not resumed",
                               where=path.parent, fix="train it again with --force")
    missing = [name for name, kind in RESUME_FIELDS.items()
               if not isinstance(checkpoint.get(name), kind)]
    if missing:
        raise TorchbasicsError(f"cannot resume: no usable training state ({', '.join(missing)})",
                               where=path, fix="start a new run without --resume")
    partial = checkpoint.get("partial_epoch")
    if partial is not None and not (isinstance(partial, dict) and all(
            isinstance(partial.get(name), kind) for name, kind in PARTIAL_FIELDS.items())):
        raise TorchbasicsError("damaged checkpoint: its unfinished epoch does not add up",
                               where=path, fix="start a new run without --resume")
    epochs = checkpoint["config"].get("epochs") or 0
    if checkpoint.get("finished", checkpoint["epoch"] >= epochs):
        raise TorchbasicsError(
            f"the run has already finished (epoch {checkpoint['epoch']} of {epochs})",
            where=path.parent, fix=f"evaluate it with `torchbasics evaluate {path.parent}`, "
            "or start a new run in another folder",
        )
    return checkpoint


@dataclass
class TrainingSetup:
    """What a run trains with: the model, its batches, optimizer, schedule and loss."""

    model: torch.nn.Module
    channels_last: bool
    augment_rng: torch.Generator  # the augmentation's randomness, saved for exact resume
    train_batches: TensorBatchLoader
    val_batches: TensorBatchLoader
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    task: ClassificationTask


def build_training(config: TrainConfig, data: Splits, device: torch.device, *,
                   rank: int = 0, world_size: int = 1) -> TrainingSetup:
    """Model, loaders, optimizer and schedule for a resolved ``config``, seeded by it.

    Used by :func:`train` and by ``benchmarks/speed.py``, so the benchmark measures exactly
    what `torchbasics train` runs. With ``world_size`` > 1 the loaders serve this
    ``rank``'s share of every (global) batch, and the rank draws its own dropout and
    augmentation randomness; rank 0 draws exactly what a one-process run does.
    """
    keep_freed_memory()  # measured ~2x faster small-CNN steps on CPU (torchbasics.allocator)
    torch.manual_seed(config.seed)
    model = create_model(config.model, data.train.image_shape, data.train.num_classes,
                         **config.model_settings).to(device)
    channels_last = is_convolutional(model)
    if channels_last:  # measured: bf16 convolutions run ~2x faster in this layout on CPU
        model = model.to(memory_format=torch.channels_last)
    if rank:  # the same initial weights (DDP copies rank 0's anyway), other dropout masks
        torch.manual_seed(config.seed + RANK_SEED_STRIDE * rank)
    augment_rng = torch.Generator().manual_seed(config.seed + 1 + RANK_SEED_STRIDE * rank)
    train_batches = TensorBatchLoader(
        data.train, batch_size=config.batch_size, shuffle=True, seed=config.seed,
        drop_last=len(data.train) > config.batch_size, device=device, rank=rank,
        world_size=world_size,
        transform=standard_transform(
            data.train.mean, data.train.std, deskew=config.deskew, augment=config.augment,
            flips=get_dataset(config.dataset).mirror_invariant, generator=augment_rng,
            channels_last=channels_last,
        ),
    )
    val_batches = TensorBatchLoader(
        data.val, batch_size=EVAL_BATCH_SIZE * world_size, device=device, rank=rank,
        world_size=world_size,
        transform=standard_transform(data.val.mean, data.val.std, deskew=config.deskew,
                                     channels_last=channels_last),
    )
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, len(train_batches))
    return TrainingSetup(model, channels_last, augment_rng, train_batches, val_batches,
                         optimizer, scheduler, ClassificationTask(config.label_smoothing))


def train(
    config: TrainConfig,
    out: str | os.PathLike,
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train ``config.model`` on ``config.dataset``, writing the run directory ``out``.

    Ctrl-C or SIGTERM stops training after the current step: ``last.pt`` then holds the
    unfinished epoch, and :class:`~torchbasics.training.interrupts.TrainingInterrupted`
    is raised, saying how to resume (``resume=True``), which ends exactly as an
    uninterrupted run would have.

    Started by ``torchrun`` with several processes, every process calls this and they
    train together with DistributedDataParallel (see
    :mod:`~torchbasics.training.distributed`): ``config.batch_size`` is the global batch,
    and rank 0 alone checks and writes ``out`` and calls ``log``.

    Returns:
        The run summary (also in ``out/summary.json``).
    """
    with distributed.process_group():
        if not distributed.is_main():
            log, progress = _silent, False
        return _train(config, out, force=force, resume=resume, progress=progress, log=log)


def _silent(line: str) -> None:
    """The log of the ranks other than 0."""


def _train(config: TrainConfig, out: str | os.PathLike, *, force: bool, resume: bool,
           progress: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """:func:`train`, in each process."""
    get_model_entry(config.model)  # fail fast on a bad name, before loading any data
    if config.tensorboard:
        tensorboard.writer_class()  # fail fast when not installed, before writing anything
    config = resolve(config)  # recipe defaults filled in, ranges checked: before any write
    check_mirror_average(config)
    world, rank = distributed.world_size(), distributed.rank()

    def check_out() -> tuple[Path, dict[str, Any] | None, list[EpochRecord]]:
        checked = rundir.check_run_dir(out, force=force, resume=resume)
        if not resume:
            return checked, None, []
        previous = load_resume_point(checked / "last.pt")
        return checked, previous, read_records(checked, previous["epoch"])

    # Only rank 0 reads the run directory (on several machines only its disk has it);
    # every rank gets the checkpoint, or the same error.
    out, previous, records = distributed.from_main(check_out)
    if previous is not None:
        config = resolve(TrainConfig.from_dict(previous["config"]))
        config = dataclasses.replace(config, model_settings=model_settings(previous))
        check_world_size(previous, world, out)
    per_rank = distributed.per_rank_batch(config.batch_size)
    device = distributed.local_device(resolve_device(config.device))
    precision = resolve_precision(config.precision, device)

    data = load_train_val(config)
    if world > 1 and len(data.train) < config.batch_size:  # every rank needs a full share
        raise TorchbasicsError(f"{len(data.train)} training images do not fill one global "
                               f"batch of {config.batch_size}", where="--batch-size",
                               fix="use a smaller batch")
    setup = build_training(config, data, device, rank=rank, world_size=world)
    model, optimizer, scheduler = setup.model, setup.optimizer, setup.scheduler
    augment_rng, task = setup.augment_rng, setup.task
    train_batches, val_batches = setup.train_batches, setup.val_batches
    description = describe_model(
        config.model, config.model_settings, input_shape=data.train.image_shape,
        class_names=data.train.class_names, dataset=config.dataset, mean=data.train.mean,
        std=data.train.std, deskew=config.deskew, mirror_average=config.mirror_average,
    )
    parameters = count_parameters(model)

    # The best epoch so far, compared as (validation error, validation loss): with a small
    # validation set, equal error rates are common, and the loss then tells them apart.
    best = (float("inf"), float("inf"))
    stale_epochs = 0  # epochs since the best, for early stopping
    partial: PartialEpoch | None = None  # an epoch interrupted part-way, to continue
    if previous is not None:
        check_weights_fit(model, previous, str(out / "last.pt"))  # the data may have changed
        model.load_state_dict(previous["model_state"])
        optimizer.load_state_dict(previous["optimizer_state"])
        scheduler.load_state_dict(previous["scheduler_state"])
        # Each rank's own random state and running sums (one row per rank in DDP).
        augment_rng.set_state(distributed.own(previous["augment_rng"]))
        torch.set_rng_state(distributed.own(previous["torch_rng"]))
        best = (previous["best_val_error"], previous["best_val_loss"])
        stale_epochs = previous.get("stale_epochs", 0)
        if previous.get("partial_epoch") is not None:
            values = previous["partial_epoch"]
            values = values | {name: distributed.own(values[name])
                               for name in ("loss_sum", "mistakes")}
            partial = PartialEpoch.from_dict(values, device)
        where = (f"at epoch {partial.epoch}, step {partial.steps + 1}" if partial and partial.steps
                 else f"after epoch {previous['epoch']}")
        log(f"resuming {out} {where} with the settings stored in its checkpoint "
            "(other flags are not used)")
    trained = distributed.wrap(model, device)  # after loading: DDP copies rank 0's weights
    if distributed.is_main():
        out = rundir.prepare_run_dir(out, force=force, resume=resume)  # all checked: write
    if previous is None and distributed.is_main():
        rundir.write_json(out / "config.json", {
            **config.to_dict(),
            # The batch split over the processes; lr is used as given, not scaled by them.
            "world_size": world,
            "batch_size_per_rank": per_rank,
            "global_batch_size": config.batch_size,
            "device_used": str(device),
            "precision_used": precision,
            "parameters": parameters,
            "train_images": len(data.train),
            "val_images": len(data.val),
            "data_source": data.train.source,
            "versions": library_versions(),
        })
    log(f"training {config.model} ({parameters:,} parameters) on {config.dataset}: "
        f"{len(data.train):,} train / {len(data.val):,} validation images, "
        f"{config.epochs} epochs, {device} {precision}"
        + (f", {world} processes x batch {per_rank}" if world > 1 else ""))

    started = time.perf_counter()
    earlier_seconds = (previous or {}).get("train_seconds", 0.0)
    writer = (tensorboard.open_writer(out) if config.tensorboard and distributed.is_main()
              else None)

    def checkpoint(epoch: int, *, finished: bool = False,
                   unfinished: PartialEpoch | None = None) -> dict[str, Any]:
        """Everything needed to evaluate the model, or to continue after ``epoch``.

        Called on every rank: in DDP, each rank's random state and running sums are
        gathered (one row per rank), so that each can continue exactly.
        """
        partial_epoch = None
        if unfinished is not None:
            partial_epoch = unfinished.to_dict() | {
                "loss_sum": distributed.gather(unfinished.loss_sum).cpu(),
                "mistakes": distributed.gather(unfinished.mistakes).cpu()}
        return {
            **description, "config": config.to_dict(), "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(), "scheduler_state": scheduler.state_dict(),
            "augment_rng": distributed.gather(augment_rng.get_state()),
            "torch_rng": distributed.gather(torch.get_rng_state()), "world_size": world,
            "epoch": epoch, "best_val_error": best[0], "best_val_loss": best[1],
            "stale_epochs": stale_epochs, "val_error": records[-1].val_error if records else None,
            "train_seconds": earlier_seconds + time.perf_counter() - started,
            "finished": finished, "partial_epoch": partial_epoch,
        }

    def on_epoch_end(record: EpochRecord) -> bool:
        nonlocal best, stale_epochs
        records.append(record)
        improved = (record.val_error, record.val_loss) < best
        best = min(best, (record.val_error, record.val_loss))
        stale_epochs = 0 if improved else stale_epochs + 1
        stop = bool(config.early_stopping) and stale_epochs >= config.early_stopping
        state = checkpoint(record.epoch, finished=stop or record.epoch == config.epochs)
        if distributed.is_main():  # the records, and so `stop`, are the same on every rank
            rundir.write_metrics(out / "metrics.csv", records)
            if improved:
                save_checkpoint(out / "best.pt", state)
            save_checkpoint(out / "last.pt", state)
        if writer is not None:
            tensorboard.log_epoch(writer, record)
        log(format_epoch(record, config.epochs) + ("  *" if improved else ""))
        return stop

    try:
        with stop_on_signals(**distributed.stop_signal_settings()) as stop_requested:
            fit(trained, train_batches, val_batches, optimizer, scheduler, task,
                epochs=config.epochs, device=device, precision=precision,
                start_epoch=len(records) + 1, resume=partial,
                mirror_average=config.mirror_average, on_epoch_end=on_epoch_end,
                should_stop=distributed.stop_together(stop_requested, device),
                progress=progress)
    except Interrupted as stopped:
        # Saved outside the signal handlers: a second Ctrl-C now aborts the save, and
        # atomic writes keep the previous last.pt whole if it does. In DDP every rank
        # stopped at the same step (stop_together), so the gathered state is consistent.
        unfinished = stopped.partial
        state = checkpoint(unfinished.epoch - 1, unfinished=unfinished)
        if distributed.is_main():
            save_checkpoint(out / "last.pt", state)
        where = (f"at epoch {unfinished.epoch}, step {unfinished.steps}" if unfinished.steps
                 else f"after epoch {unfinished.epoch - 1}")
        launcher = "torchrun (with the same options) -m " if world > 1 else ""
        raise TrainingInterrupted(f"interrupted {where}; resume with: {launcher}torchbasics "
                                  f"train --resume --out {shlex.quote(str(out))}") from None
    finally:
        if writer is not None:
            writer.close()
    seconds = earlier_seconds + time.perf_counter() - started
    summary = rundir.summarize(
        records, model=config.model, dataset=config.dataset, parameters=parameters,
        train_seconds=round(seconds, 2),
        images_per_second=round(sum(r.images_per_second for r in records) / len(records)),
    )
    if distributed.is_main():
        rundir.write_json(out / "summary.json", summary)
        write_run_figures(out, records)
    distributed.barrier()  # every rank returns once the run directory is complete
    return summary


def check_mirror_average(config: TrainConfig) -> None:
    """Refuse mirror averaging where a mirror image may be of another class (digits)."""
    if config.mirror_average and not get_dataset(config.dataset).mirror_invariant:
        raise TorchbasicsError(
            f"{config.dataset}: a mirrored image may not keep its class, so predictions "
            "must not average over mirror images", where="--mirror-average",
            fix="leave it off for this data set",
        )


def check_world_size(previous: dict[str, Any], world: int, out: Path) -> None:
    """Refuse to resume with another number of processes than the run was trained with:
    the saved random states and running sums are one per process."""
    saved = previous.get("world_size", 1)
    if saved != world:
        raise TorchbasicsError(
            f"the run was trained by {saved} process(es), and this is {world}", where=out,
            fix=f"resume it with {saved} process(es) in all (torchrun --nproc-per-node and "
            "--nnodes)" if saved > 1 else "resume it without torchrun",
        )


def read_records(out: Path, epochs: int) -> list[EpochRecord]:
    """The first ``epochs`` rows of ``out/metrics.csv``, which must hold that many."""
    records = rundir.read_metrics_records(out / "metrics.csv")[:epochs]
    if len(records) != epochs:
        raise TorchbasicsError(
            f"metrics.csv has {len(records)} epochs, but last.pt was saved after {epochs}",
            where=out, fix="the run directory was changed by hand; start a new run",
        )
    return records


def is_convolutional(model: torch.nn.Module) -> bool:
    """True when the model has 2-d convolutions (and so benefits from channels-last)."""
    return any(isinstance(module, torch.nn.Conv2d) for module in model.modules())


def write_run_figures(out: Path, records: list[EpochRecord]) -> None:
    """Loss curves PNG and report.md for the run so far."""
    import dataclasses

    import pandas as pd

    from torchbasics.plots import loss_curves, save_figure
    from torchbasics.runs.report import write_report

    metrics = pd.DataFrame([dataclasses.asdict(r) for r in records])
    save_figure(loss_curves(metrics), out / "loss_curves.png")
    write_report(out)


def format_epoch(record: EpochRecord, epochs: int) -> str:
    """One log line per epoch."""
    def error(value: float | None) -> str:
        return "" if value is None else f" error {100 * value:5.2f}%"

    width = len(str(epochs))
    return (f"epoch {record.epoch:>{width}}/{epochs}  "
            f"train loss {record.train_loss:.4f}{error(record.train_error)}  "
            f"val loss {record.val_loss:.4f}{error(record.val_error)}  "
            f"lr {record.lr:.2e}  {record.seconds:5.1f}s  {record.images_per_second:,.0f} img/s")
