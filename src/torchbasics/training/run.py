"""Train an image classifier end to end: data, model, loop, checkpoints, run directory."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from torchbasics.data.image_data import ImageData
from torchbasics.data.loaders import TensorBatchLoader
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split
from torchbasics.data.splits import train_val_split
from torchbasics.data.transforms import standard_transform
from torchbasics.device import resolve_device, resolve_precision
from torchbasics.errors import TorchbasicsError
from torchbasics.models import count_parameters, create_model, get_model_entry
from torchbasics.training import rundir, tensorboard
from torchbasics.training.checkpoint import (
    check_weights_fit,
    describe_model,
    library_versions,
    load_checkpoint,
    save_checkpoint,
)
from torchbasics.training.config import TrainConfig, resolve
from torchbasics.training.interrupts import TrainingInterrupted, stop_on_signals
from torchbasics.training.loop import (
    ClassificationTask,
    EpochRecord,
    Interrupted,
    PartialEpoch,
    fit,
)
from torchbasics.training.optim import build_optimizer, build_scheduler

EVAL_BATCH_SIZE = 1000
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
    if checkpoint.get("kind") == "regression":
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


def build_training(config: TrainConfig, data: Splits, device: torch.device) -> TrainingSetup:
    """Model, loaders, optimizer and schedule for a resolved ``config``, seeded by it.

    Used by :func:`train` and by ``benchmarks/speed.py``, so the benchmark measures exactly
    what `torchbasics train` runs.
    """
    torch.manual_seed(config.seed)
    model = create_model(config.model, data.train.image_shape, data.train.num_classes,
                         **config.model_settings).to(device)
    channels_last = is_convolutional(model)
    if channels_last:  # measured: bf16 convolutions run ~2x faster in this layout on CPU
        model = model.to(memory_format=torch.channels_last)
    augment_rng = torch.Generator().manual_seed(config.seed + 1)
    train_batches = TensorBatchLoader(
        data.train, batch_size=config.batch_size, shuffle=True, seed=config.seed,
        drop_last=len(data.train) > config.batch_size, device=device,
        transform=standard_transform(
            data.train.mean, data.train.std, augment=config.augment,
            flips=get_dataset(config.dataset).mirror_invariant, generator=augment_rng,
            channels_last=channels_last,
        ),
    )
    val_batches = TensorBatchLoader(
        data.val, batch_size=EVAL_BATCH_SIZE, device=device,
        transform=standard_transform(data.val.mean, data.val.std, channels_last=channels_last),
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

    Returns:
        The run summary (also in ``out/summary.json``).
    """
    get_model_entry(config.model)  # fail fast on a bad name, before loading any data
    if config.tensorboard:
        tensorboard.writer_class()  # fail fast when not installed, before writing anything
    config = resolve(config)  # recipe defaults filled in, ranges checked: before any write
    out = rundir.check_run_dir(out, force=force, resume=resume)
    previous = load_resume_point(out / "last.pt") if resume else None
    if previous is not None:
        config = resolve(TrainConfig.from_dict(previous["config"]))
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)

    data = load_train_val(config)
    setup = build_training(config, data, device)
    model, optimizer, scheduler = setup.model, setup.optimizer, setup.scheduler
    augment_rng, task = setup.augment_rng, setup.task
    train_batches, val_batches = setup.train_batches, setup.val_batches
    description = describe_model(
        config.model, config.model_settings, input_shape=data.train.image_shape,
        class_names=data.train.class_names, dataset=config.dataset, mean=data.train.mean,
        std=data.train.std,
    )
    parameters = count_parameters(model)

    records: list[EpochRecord] = []
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
        augment_rng.set_state(previous["augment_rng"])
        torch.set_rng_state(previous["torch_rng"])
        records = read_records(out, previous["epoch"])
        best = (previous["best_val_error"], previous["best_val_loss"])
        stale_epochs = previous.get("stale_epochs", 0)
        if previous.get("partial_epoch") is not None:
            partial = PartialEpoch.from_dict(previous["partial_epoch"], device)
        where = (f"at epoch {partial.epoch}, step {partial.steps + 1}" if partial and partial.steps
                 else f"after epoch {previous['epoch']}")
        log(f"resuming {out} {where} with the settings stored in its checkpoint "
            "(other flags are not used)")
    out = rundir.prepare_run_dir(out, force=force, resume=resume)  # all checked: now write
    if previous is None:
        rundir.write_json(out / "config.json", {
            **config.to_dict(),
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
        f"{config.epochs} epochs, {device} {precision}")

    started = time.perf_counter()
    earlier_seconds = (previous or {}).get("train_seconds", 0.0)
    writer = tensorboard.open_writer(out) if config.tensorboard else None

    def checkpoint(epoch: int, *, finished: bool = False,
                   unfinished: PartialEpoch | None = None) -> dict[str, Any]:
        """Everything needed to evaluate the model, or to continue after ``epoch``."""
        return {
            **description, "config": config.to_dict(), "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(), "scheduler_state": scheduler.state_dict(),
            "augment_rng": augment_rng.get_state(), "torch_rng": torch.get_rng_state(),
            "epoch": epoch, "best_val_error": best[0], "best_val_loss": best[1],
            "stale_epochs": stale_epochs, "val_error": records[-1].val_error if records else None,
            "train_seconds": earlier_seconds + time.perf_counter() - started,
            "finished": finished,
            "partial_epoch": None if unfinished is None else unfinished.to_dict(),
        }

    def on_epoch_end(record: EpochRecord) -> bool:
        nonlocal best, stale_epochs
        records.append(record)
        improved = (record.val_error, record.val_loss) < best
        best = min(best, (record.val_error, record.val_loss))
        stale_epochs = 0 if improved else stale_epochs + 1
        stop = bool(config.early_stopping) and stale_epochs >= config.early_stopping
        state = checkpoint(record.epoch, finished=stop or record.epoch == config.epochs)
        rundir.write_metrics(out / "metrics.csv", records)
        if improved:
            save_checkpoint(out / "best.pt", state)
        save_checkpoint(out / "last.pt", state)
        if writer is not None:
            tensorboard.log_epoch(writer, record)
        log(format_epoch(record, config.epochs) + ("  *" if improved else ""))
        return stop

    try:
        with stop_on_signals() as stop_requested:
            fit(model, train_batches, val_batches, optimizer, scheduler, task,
                epochs=config.epochs, device=device, precision=precision,
                start_epoch=len(records) + 1, resume=partial, on_epoch_end=on_epoch_end,
                should_stop=stop_requested, progress=progress)
    except Interrupted as stopped:
        # Saved outside the signal handlers: a second Ctrl-C now aborts the save, and
        # atomic writes keep the previous last.pt whole if it does.
        unfinished = stopped.partial
        save_checkpoint(out / "last.pt", checkpoint(unfinished.epoch - 1, unfinished=unfinished))
        where = (f"at epoch {unfinished.epoch}, step {unfinished.steps}" if unfinished.steps
                 else f"after epoch {unfinished.epoch - 1}")
        raise TrainingInterrupted(f"interrupted {where}; resume with: torchbasics train "
                                  f"--resume --out {shlex.quote(str(out))}") from None
    finally:
        if writer is not None:
            writer.close()
    seconds = earlier_seconds + time.perf_counter() - started
    summary = rundir.summarize(
        records, model=config.model, dataset=config.dataset, parameters=parameters,
        train_seconds=round(seconds, 2),
        images_per_second=round(sum(r.images_per_second for r in records) / len(records)),
    )
    rundir.write_json(out / "summary.json", summary)
    write_run_figures(out, records)
    return summary


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
    from torchbasics.reports import write_report

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
