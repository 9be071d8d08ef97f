"""Train an image classifier run end to end: data, model, loop, checkpoints, run directory.

One :class:`ImageRun` per process, in four steps that each fit on a screen:
:meth:`ImageRun.start` (check everything, load the data, build the model, restore a resumed
run), :meth:`~ImageRun.begin` (write the run directory's first files), the loop
(:func:`~torchbasics.training.loop.fit`, with :meth:`~ImageRun.end_epoch` after every
epoch) and :meth:`~ImageRun.finish` (summary and figures).
"""

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
from torchbasics.checkpoint import (
    CLASSIFIER,
    build_model,
    check_weights_fit,
    describe,
    load_checkpoint,
    save_checkpoint,
)
from torchbasics.data.image_data import ImageSplit
from torchbasics.data.picture_cache import PictureOptions
from torchbasics.data.pictures import PictureSplits
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split
from torchbasics.data.splits import train_val_split
from torchbasics.data.transforms import ModelInput
from torchbasics.device import Precision, choose_precision, resolve_device
from torchbasics.errors import TorchbasicsError
from torchbasics.models import count_parameters
from torchbasics.runs import own_defaults, rundir
from torchbasics.runs.auto_lr import lr_facts, resolve_auto, test_on, with_placeholder_lr
from torchbasics.runs.budget import TimeBudget, measure
from torchbasics.runs.config import (
    TrainConfig,
    check,
    lengths_given,
    optimizer_and_schedule,
    resolve,
    step_plan,
)
from torchbasics.samples.batches import BatchSampler, drops_last_in_training
from torchbasics.training import distributed, divergence, tensorboard
from torchbasics.training.divergence import Diverged, DivergenceWatch
from torchbasics.training.interrupts import TrainingInterrupted, stop_on_signals
from torchbasics.training.loop import (
    ClassificationTask,
    EpochRecord,
    Interrupted,
    PartialEpoch,
    fit,
)
from torchbasics.training.lr_find import STEPS, RangeTest
from torchbasics.training.progress import Progress, format_epoch
from torchbasics.training.recovery import Recoveries, Recovery, Snapshot
from torchbasics.training.schedule import StepPlan

EVAL_BATCH_SIZE = 1000  # pictures per process, at most
EVAL_BATCH_BYTES = 64 << 20  # of float32 model input per evaluation batch, at most


def eval_batch_size(image_shape: tuple[int, ...]) -> int:
    """Pictures per evaluation batch: :data:`EVAL_BATCH_SIZE`, fewer for large pictures
    (1,000 photos at 224x224x3 would be 600 MB of floats, and a copy or two more)."""
    pixels = 1
    for side in image_shape:
        pixels *= side
    return max(1, min(EVAL_BATCH_SIZE, EVAL_BATCH_BYTES // (4 * pixels)))
MEASURE_SHARE = 0.01  # of a time budget spent measuring the speed (between 1 and 10 s)
RANK_SEED_STRIDE = 10_000  # rank r's random draws are seeded with seed + r * this
# What last.pt must hold, besides the model, to continue a run exactly: field -> type.
RESUME_FIELDS: dict[str, type | tuple[type, ...]] = {
    "optimizer_state": dict, "scheduler_state": dict, "augment_rng": torch.Tensor,
    "torch_rng": torch.Tensor, "epoch": int, "best_val_error": (int, float),
    "best_val_loss": (int, float), "stale_epochs": int, "train_seconds": (int, float),
    "finished": bool, "world_size": int, "scaler_state": dict, "plan": dict,
}
PARTIAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "epoch": int, "lr": (int, float), "loss_sum": torch.Tensor, "mistakes": torch.Tensor,
    "steps": int, "samples": int, "seconds": (int, float),
}


@dataclass
class Splits:
    """The data a run trains and validates on (the test split is not loaded here); for the
    user's own pictures, what was found in them (the cache, the files skipped)."""

    train: ImageSplit
    val: ImageSplit
    pictures: PictureSplits | None = None


def picture_options(config: TrainConfig) -> PictureOptions:
    """How the user's pictures are brought to the model's size (``--image-size``, ...)."""
    return PictureOptions(image_size=config.image_size, channels=config.channels or "auto",
                          resize=config.resize or "pad", strict=bool(config.strict))


def own_lists(config: TrainConfig) -> dict[str, str] | None:
    """The list files of the user's own pictures, split -> file, if the run has them."""
    if not config.train_list:
        return None
    return {"train": config.train_list, "val": config.val_list}


def load_train_val(config: TrainConfig, *, progress: bool = False,
                   log: Callable[[str], None] = print) -> Splits:
    """The training split, and validation carved from it (or given by list files or the
    user's ``val/`` folder)."""
    if get_dataset(config.dataset).own:
        from torchbasics.data.pictures import index_of, picture_splits

        found = picture_splits(index_of(get_dataset(config.dataset), own_lists(config)),
                               picture_options(config), val_fraction=config.val_fraction,
                               seed=config.seed, progress=progress, log=log)
        return Splits(found.train, found.val, found)
    full = load_split(config.dataset, "train", config.data_dir)
    if config.train_list:  # check() made sure val_list comes with it
        from torchbasics.data.image_files import load_list

        return Splits(load_list(config.train_list, full), load_list(config.val_list, full))
    return Splits(*train_val_split(full, config.val_fraction, config.seed))


def describe_model(config: TrainConfig, data: ImageSplit) -> dict[str, Any]:
    """The checkpoint's description of the model ``config`` trains on ``data``."""
    model_input = ModelInput(data.mean, data.std, deskew=config.deskew)
    picture = {"pipeline": get_dataset(config.dataset).picture_pipeline,
               "resize": config.resize or "pad"}
    return describe(CLASSIFIER, config.model, config.model_settings,
                    input_shape=data.image_shape, dataset=config.dataset,
                    config=config.to_dict(), class_names=list(data.class_names),
                    input=model_input.settings(), mirror_average=config.mirror_average,
                    picture=picture)


@dataclass
class TrainingSetup:
    """What a run trains with: the model, its batches, optimizer, schedule and loss."""

    description: dict[str, Any]  # what checkpoints say the model is
    model: torch.nn.Module
    channels_last: bool
    augment_rng: torch.Generator  # the augmentation's randomness, saved for exact resume
    train_batches: BatchSampler
    val_batches: BatchSampler
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    task: ClassificationTask
    precision: Precision
    scaler: torch.amp.GradScaler | None  # fp16 only: its state is saved for exact resume
    plan: StepPlan  # the steps in all; a TimeBudget re-plans them as it goes

    def scaler_state(self) -> dict[str, Any]:
        """The gradient scaler's state for a checkpoint (empty without one)."""
        return {} if self.scaler is None else self.scaler.state_dict()


def build_training(config: TrainConfig, data: Splits, device: torch.device, *,
                   rank: int = 0, world_size: int = 1,
                   plan: StepPlan | None = None) -> TrainingSetup:
    """Model, loaders, optimizer and schedule for a resolved ``config``, seeded by it.

    Used by :class:`ImageRun` and by ``benchmarks/speed.py``, so the benchmark measures
    exactly what `torchbasics train` runs. With ``world_size`` > 1 the loaders serve this
    ``rank``'s share of every (global) batch, and the rank draws its own dropout and
    augmentation randomness; rank 0 draws exactly what a one-process run does. ``plan``:
    the steps to lay the schedule over (default: ``config.steps``, else its epochs).
    """
    keep_freed_memory()  # see torchbasics.allocator: small CNN steps run much faster
    torch.manual_seed(config.seed)
    description = describe_model(config, data.train)
    model = build_model(description).to(device)
    channels_last = is_convolutional(model)
    if channels_last:  # the layout fast CPU and GPU convolution kernels use
        model = model.to(memory_format=torch.channels_last)
    if rank:  # the same initial weights (DDP copies rank 0's anyway), other dropout masks
        torch.manual_seed(config.seed + RANK_SEED_STRIDE * rank)
    augment_rng = torch.Generator().manual_seed(config.seed + 1 + RANK_SEED_STRIDE * rank)
    model_input = ModelInput(data.train.mean, data.train.std, deskew=config.deskew)
    train_batches = data.train.batches(
        batch_size=config.batch_size, shuffle=True, seed=config.seed,
        drop_last=drops_last_in_training(len(data.train), config.batch_size), device=device,
        rank=rank, world_size=world_size,
        transform=model_input.batches(augment=config.augment, generator=augment_rng,
                                      flips=get_dataset(config.dataset).mirror_invariant,
                                      channels_last=channels_last),
    )
    val_batches = data.val.batches(
        batch_size=eval_batch_size(data.val.image_shape) * world_size,
        device=device, rank=rank, world_size=world_size,
        transform=model_input.batches(channels_last=channels_last),
    )
    plan = plan or step_plan(config, len(train_batches))
    optimizer, scheduler = optimizer_and_schedule(model, config, plan)
    precision = choose_precision(config.precision, device)
    return TrainingSetup(description, model, channels_last, augment_rng, train_batches,
                         val_batches, optimizer, scheduler,
                         ClassificationTask(config.label_smoothing), precision,
                         precision.grad_scaler() if precision.scales_gradients else None, plan)


def plan_budget(config: TrainConfig, data: Splits, device: torch.device,
                started: float, *, allow_short: bool = False) -> TimeBudget:
    """The steps that fit ``config.time_budget`` counted from ``started`` (a
    ``time.perf_counter()`` value), measured on a throwaway copy of the run.

    Raises:
        TorchbasicsError: the budget affords less than a useful run (see
            :meth:`TimeBudget.refuse_if_useless`), unless ``allow_short``.
    """
    if distributed.world_size() > 1:
        raise TorchbasicsError("a time budget is planned by one process", where="--time-budget",
                               fix="give --steps (or --epochs) under torchrun")
    probe = build_training(config, data, device, plan=StepPlan(1_000_000))
    budget = config.time_budget
    timings = measure(probe, device, seconds=min(max(MEASURE_SHARE * budget, 1.0), 10.0))
    plan = TimeBudget(started + budget, budget, timings, len(probe.train_batches))
    if not allow_short:
        plan.refuse_if_useless(started)
    return plan


def image_range_test(config: TrainConfig, *, steps: int, log: Callable[[str], None] = print,
                     data: Splits | None = None) -> RangeTest:
    """The learning-rate range test on a throwaway copy of what ``config`` trains (its data
    loaded unless given); see :mod:`torchbasics.runs.lr_find`."""
    config = with_placeholder_lr(config)
    device = resolve_device(config.device)
    data = data or load_train_val(config, log=log)
    setup = build_training(config, data, device, plan=StepPlan(1_000_000))
    setup.train_batches.set_epoch(1)
    return test_on(setup.model, setup.train_batches, config, setup.task, device=device,
                   precision=setup.precision.name, steps=steps)


def train_images(config: TrainConfig, out: str | os.PathLike, *, force: bool = False,
                 resume: bool = False, progress: bool = False,
                 log: Callable[[str], None] = print,
                 started: float | None = None,
                 allow_short_budget: bool = False,
                 on_epoch: Callable[[EpochRecord], bool] | None = None) -> dict[str, Any]:
    """Train an image classifier, writing the run directory ``out``.

    With a time budget, the run plans its steps to end ``config.time_budget`` seconds after
    ``started`` (a ``time.perf_counter()`` value; default: now), and records the count. A
    budget too short for a useful run is refused before anything is written, unless
    ``allow_short_budget``. ``on_epoch`` sees each recorded epoch; True stops the run there.

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
        run = ImageRun.start(config, Path(out), force=force, resume=resume, log=log,
                             started=time.perf_counter() if started is None else started,
                             allow_short_budget=allow_short_budget)
        run.on_epoch = on_epoch
        run.begin(force=force, resume=resume)
        run.train(progress)
        return run.finish()


def picture_facts(pictures: PictureSplits | None) -> dict[str, Any]:
    """What ``config.json`` records about the user's pictures: how they were prepared, the
    cache that holds them, how many files were skipped."""
    if pictures is None:
        return {}
    cache = pictures.cache
    return {"picture_format": dataclasses.asdict(cache.picture), "picture_cache": str(
        cache.folder), "pictures_skipped": len(cache.skipped),
        "test_images": len(cache.rows("test"))}


def _silent(line: str) -> None:
    """The log of the ranks other than 0."""


@dataclass
class Previous:
    """An interrupted run to resume: its ``last.pt`` and the epochs of its metrics.csv."""

    checkpoint: dict[str, Any]
    records: list[EpochRecord]


@dataclass
class ImageRun:
    """One process's part of training an image classifier run (see the module docstring)."""

    config: TrainConfig
    out: Path
    setup: TrainingSetup
    data: Splits
    device: torch.device
    log: Callable[[str], None]
    progress: Progress
    partial: PartialEpoch | None = None  # an epoch interrupted part-way, to continue
    earlier_seconds: float = 0.0  # training time before a resume
    started: float = 0.0
    writer: Any = None  # TensorBoard's SummaryWriter, when asked for
    lr_found: RangeTest | None = None  # the range test that chose --lr auto's rate
    watch: DivergenceWatch | None = None  # judges every step's loss (set by start)
    recoveries: Recoveries = dataclasses.field(default_factory=Recoveries)
    good: Snapshot | None = None  # the last good state, to go back to on a divergence
    notes: list[str] = dataclasses.field(default_factory=list)  # defaults chosen, and why
    on_epoch: Callable[[EpochRecord], bool] | None = None  # True: stop here (tune's pruning)

    @classmethod
    def start(cls, config: TrainConfig, out: Path, *, force: bool, resume: bool,
              log: Callable[[str], None], started: float,
              allow_short_budget: bool = False) -> ImageRun:
        """Check the settings and ``out``, load the data, build the model, restore a resume."""
        given, config = config, resolve(config)  # recipe filled in, checked: before any write
        if config.tensorboard:
            tensorboard.writer_class()  # fail fast when not installed
        # Only rank 0 reads the run directory (on several machines only its disk has it);
        # every rank gets the checkpoint, or the same error.
        previous = distributed.from_main(lambda: check_out(out, force=force, resume=resume))
        plan = None
        if previous is not None:  # its settings, as resolved then, and its step plan
            config = TrainConfig.from_dict(previous.checkpoint["config"])
            check(config)
            check_world_size(previous.checkpoint, distributed.world_size(), out)
            plan = StepPlan.from_dict(previous.checkpoint["plan"])
        world = distributed.world_size()
        distributed.per_rank_batch(config.batch_size)  # refuses a batch that does not split
        device = distributed.local_device(resolve_device(config.device))
        data = load_train_val(config, progress=distributed.is_main(), log=log)
        for note in data.pictures.notes if data.pictures else ():
            log(note)
        if world > 1 and len(data.train) < config.batch_size:  # every rank needs a full share
            raise TorchbasicsError(f"{len(data.train)} training images do not fill one global "
                                   f"batch of {config.batch_size}", where="--batch-size",
                                   fix="use a smaller batch")
        notes = [note for note in [own_defaults.model_note(given, config)] if note]
        if previous is None and not lengths_given(given):
            config, sized = own_defaults.sized_to_data(config, len(data.train))
            notes += [sized] if sized else []
        config, lr_found = distributed.from_main(lambda: resolve_auto(
            config, lambda placeholder: image_range_test(placeholder, steps=STEPS, data=data),
            log))
        if config.time_budget and config.steps is None:
            plan = plan_budget(config, data, device, started, allow_short=allow_short_budget)
            config = dataclasses.replace(config, steps=plan.total)  # recorded, for reruns
        setup = build_training(config, data, device, rank=distributed.rank(), world_size=world,
                               plan=plan)
        run = cls(config, out, setup, data, device, log,
                  Progress(config.early_stopping, len(data.val)),
                  watch=divergence.watch_for(device, len(setup.train_batches)),
                  recoveries=Recoveries(allowed=bool(config.recover)), lr_found=lr_found,
                  notes=notes)
        if previous is not None:
            run.restore(previous)
        return run

    def restore(self, previous: Previous) -> None:
        """Load the weights, optimizer, schedule, random states and records of ``last.pt``."""
        saved, setup = previous.checkpoint, self.setup
        check_weights_fit(setup.model, saved, str(self.out / "last.pt"))  # data may differ
        setup.model.load_state_dict(saved["model_state"])
        setup.optimizer.load_state_dict(saved["optimizer_state"])
        setup.scheduler.load_state_dict(saved["scheduler_state"])
        if setup.scaler is not None:
            setup.scaler.load_state_dict(saved["scaler_state"])
        # Each rank's own random state and running sums (one row per rank in DDP).
        setup.augment_rng.set_state(distributed.own(saved["augment_rng"]))
        torch.set_rng_state(distributed.own(saved["torch_rng"]))
        self.progress = Progress.restore(saved, previous.records, self.config.early_stopping,
                                         len(self.data.val))
        self.earlier_seconds = saved["train_seconds"]
        if saved.get("divergence_watch"):  # optional: older checkpoints lack it
            self.watch.restore(saved["divergence_watch"])
        self.recoveries.done = [Recovery.from_dict(values)
                                for values in saved.get("recoveries", [])]
        if saved["partial_epoch"] is not None:
            values = saved["partial_epoch"]
            values = values | {name: distributed.own(values[name])
                               for name in ("loss_sum", "mistakes")}
            self.partial = PartialEpoch.from_dict(values, self.device)
        partial = self.partial
        where = (f"at epoch {partial.epoch}, step {partial.steps + 1}"
                 if partial and partial.steps else f"after epoch {saved['epoch']}")
        self.log(f"resuming {self.out} {where} with the settings stored in its checkpoint "
                 "(other flags are not used)")

    def begin(self, *, force: bool, resume: bool) -> None:
        """Make the run directory ready (rank 0), write config.json for a new run, log."""
        config, data = self.config, self.data
        world, parameters = distributed.world_size(), count_parameters(self.setup.model)
        if distributed.is_main():
            self.out = rundir.prepare_run_dir(self.out, force=force, resume=resume)
            if not resume:
                rundir.write_config(
                    self.out, config, device_used=str(self.device),
                    precision_used=self.setup.precision.name,
                    precision_reason=self.setup.precision.reason, parameters=parameters,
                    train_images=len(data.train), val_images=len(data.val),
                    data_source=data.train.source, world_size=world,
                    # The batch split over the processes; lr is used as given, not scaled.
                    batch_size_per_rank=config.batch_size // world,
                    global_batch_size=config.batch_size,
                    class_to_index={name: i for i, name in enumerate(data.train.class_names)},
                    **picture_facts(data.pictures), **lr_facts(self.out, self.lr_found))
                if data.pictures is not None and data.pictures.cache.skipped:
                    path = rundir.write_skipped(self.out, data.pictures.cache.skipped)
                    self.log(f"the files skipped, and why: {path}")
            if config.tensorboard:
                self.writer = tensorboard.open_writer(self.out)
        title = get_dataset(config.dataset).title
        self.log(f"training {config.model} ({parameters:,} parameters) on {title}: "
                 f"{len(data.train):,} train / {len(data.val):,} validation images, "
                 f"{self.length()}, {self.device} {self.setup.precision.name}"
                 + (f", {world} processes x batch {config.batch_size // world}"
                    if world > 1 else ""))
        for note in self.notes:
            self.log(f"  {note}")

    def train(self, progress: bool) -> None:
        """The loop, from where the run is to its last epoch (or an interruption); a
        divergence goes back to the last good state with a lower rate (see :meth:`recover`)."""
        setup = self.setup
        self.started = time.perf_counter()
        if isinstance(setup.plan, TimeBudget):
            setup.plan.start()
        trained = distributed.wrap(setup.model, self.device)  # DDP copies rank 0's weights
        self.good = self.snapshot()
        try:
            with stop_on_signals(**distributed.stop_signal_settings()) as stop_requested:
                should_stop = distributed.stop_together(stop_requested, self.device)
                while True:
                    try:
                        fit(trained, setup.train_batches, setup.val_batches, setup.optimizer,
                            setup.scheduler, setup.task, plan=setup.plan, device=self.device,
                            precision=setup.precision.name, scaler=setup.scaler,
                            start_epoch=self.progress.epoch + 1, resume=self.partial,
                            on_epoch_end=self.end_epoch, should_stop=should_stop,
                            progress=progress, watch=self.watch)
                        return
                    except Diverged as blow_up:
                        self.recover(blow_up)
        except Interrupted as stopped:
            raise self.interrupted(stopped.partial) from None
        finally:
            if self.writer is not None:
                self.writer.close()

    def snapshot(self) -> Snapshot:
        """The training state now, in memory: what :meth:`recover` goes back to."""
        setup = self.setup
        return Snapshot.take(
            setup.model, setup.optimizer, setup.scheduler, setup.scaler,
            augment_rng=setup.augment_rng.get_state(), watch=self.watch.state(),
            replans=list(setup.plan.replans), step=self.progress.epoch * len(
                setup.train_batches) + (self.partial.steps if self.partial else 0),
            partial=self.partial.to_dict() if self.partial else None)

    def recover(self, blow_up: Diverged) -> None:
        """Go back to the last good state with a lower peak learning rate, or give up
        (:class:`~torchbasics.training.recovery.Recoveries`)."""
        setup = self.setup
        extra = self.recoveries.go_back(blow_up, self.good, setup.model, setup.optimizer,
                                        setup.scheduler, setup.scaler,
                                        back_to_epoch=self.progress.epoch, log=self.log)
        setup.augment_rng.set_state(extra["augment_rng"])
        self.watch.restore(extra["watch"])
        setup.plan.rewind(extra["step"], extra["replans"])
        self.partial = (PartialEpoch.from_dict(extra["partial"], self.device)
                        if extra["partial"] else None)
        self.good = self.snapshot()

    def end_epoch(self, record: EpochRecord) -> bool:
        """Record the epoch, save the checkpoints and metrics; True to stop early."""
        record = dataclasses.replace(record, recovered=self.recoveries.in_epoch(record.epoch))
        kept = self.progress.add(record)  # the rule: training/progress.py
        stop = self.progress.should_stop or bool(self.on_epoch and self.on_epoch(record))
        last = record.epoch == self.setup.plan.epochs(len(self.setup.train_batches))
        state = self.checkpoint(record.epoch, finished=stop or last)
        if distributed.is_main():  # the records, and so `stop`, are the same on every rank
            rundir.write_metrics(self.out / "metrics.csv", self.progress.records)
            if kept:
                save_checkpoint(self.out / "best.pt", state)
            save_checkpoint(self.out / "last.pt", state)
        if self.writer is not None:
            tensorboard.log_epoch(self.writer, record)
        self.log(format_epoch(record, self.setup.plan.epochs(len(self.setup.train_batches)))
                 + ("  *" if kept else ""))
        self.good = self.snapshot()
        return stop

    def interrupted(self, unfinished: PartialEpoch) -> TrainingInterrupted:
        """Save ``last.pt`` with the unfinished epoch; the error that says how to resume.

        Saved outside the signal handlers: a second Ctrl-C now aborts the save, and atomic
        writes keep the previous last.pt whole if it does. In DDP every rank stopped at the
        same step (``stop_together``), so the gathered state is consistent.
        """
        state = self.checkpoint(unfinished.epoch - 1, unfinished=unfinished)
        if distributed.is_main():
            save_checkpoint(self.out / "last.pt", state)
        where = (f"at epoch {unfinished.epoch}, step {unfinished.steps}" if unfinished.steps
                 else f"after epoch {unfinished.epoch - 1}")
        launcher = "torchrun (with the same options) -m " if distributed.world_size() > 1 else ""
        return TrainingInterrupted(f"interrupted {where}; resume with: {launcher}torchbasics "
                                   f"train --resume --out {shlex.quote(str(self.out))}")

    def checkpoint(self, epoch: int, *, finished: bool = False,
                   unfinished: PartialEpoch | None = None) -> dict[str, Any]:
        """Everything needed to evaluate the model, or to continue after ``epoch``.

        Called on every rank: in DDP, each rank's random state and running sums are
        gathered (one row per rank), so that each can continue exactly.
        """
        setup, records = self.setup, self.progress.records
        partial_epoch = None
        if unfinished is not None:
            partial_epoch = unfinished.to_dict() | {
                "loss_sum": distributed.gather(unfinished.loss_sum).cpu(),
                "mistakes": distributed.gather(unfinished.mistakes).cpu()}
        return {
            **setup.description, "model_state": setup.model.state_dict(),
            "optimizer_state": setup.optimizer.state_dict(),
            "scheduler_state": setup.scheduler.state_dict(),
            "scaler_state": setup.scaler_state(), "plan": setup.plan.to_dict(),
            "augment_rng": distributed.gather(setup.augment_rng.get_state()),
            "torch_rng": distributed.gather(torch.get_rng_state()),
            "world_size": distributed.world_size(), "epoch": epoch, **self.progress.state(),
            "val_error": records[-1].val_error if records else None,
            "train_seconds": self.seconds(), "finished": finished,
            "partial_epoch": partial_epoch, "divergence_watch": self.watch.state(),
            "recoveries": self.recoveries.to_list(),
        }

    def length(self) -> str:
        """How long the run trains, for its first log line."""
        plan, per_epoch = self.setup.plan, len(self.setup.train_batches)
        epochs = f"{plan.epochs(per_epoch)} epoch{'s' * (plan.epochs(per_epoch) != 1)}"
        if self.config.steps is None:
            return epochs
        budget = (f", what fits in {self.config.time_budget:g} s"
                  if self.config.time_budget else "")
        return f"{plan.final:,} steps ({epochs}, the last partial){budget}" if (
            plan.final % per_epoch) else f"{plan.final:,} steps ({epochs}){budget}"

    def seconds(self) -> float:
        """Training time so far, across resumes."""
        return self.earlier_seconds + time.perf_counter() - self.started

    def finish(self) -> dict[str, Any]:
        """Write summary.json, the figures and report.md (rank 0); the summary."""
        records = self.progress.records
        summary = rundir.summarize(
            records, model=self.config.model, dataset=self.config.dataset,
            task="classification", parameters=count_parameters(self.setup.model),
            train_seconds=round(self.seconds(), 2),
            images_per_second=round(sum(r.images_per_second for r in records) / len(records)),
            steps=self.setup.plan.final, plan=self.setup.plan.to_dict(),
            recoveries=self.recoveries.to_list(),
            **self.progress.kept(),
        )
        if distributed.is_main():
            rundir.write_json(self.out / "summary.json", summary)
            rundir.write_figures(self.out, records)
        distributed.barrier()  # every rank returns once the run directory is complete
        return summary


def check_out(out: Path, *, force: bool, resume: bool) -> Previous | None:
    """Refuse ``out`` when it cannot take this run; for ``resume``, what to continue."""
    rundir.check_run_dir(out, force=force, resume=resume)
    if not resume:
        return None
    checkpoint = load_resume_point(out / "last.pt")
    return Previous(checkpoint, read_records(out, checkpoint["epoch"]))


def load_resume_point(path: Path) -> dict[str, Any]:
    """``last.pt`` of an unfinished image run, checked to hold everything resuming needs."""
    checkpoint = load_checkpoint(path)
    if checkpoint["kind"] != CLASSIFIER:
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
    if checkpoint["finished"]:
        raise TorchbasicsError(
            f"the run has already finished (after epoch {checkpoint['epoch']})",
            where=path.parent, fix=f"evaluate it with `torchbasics evaluate {path.parent}`, "
            "or start a new run in another folder",
        )
    return checkpoint


def check_world_size(previous: dict[str, Any], world: int, out: Path) -> None:
    """Refuse to resume with another number of processes than the run was trained with:
    the saved random states and running sums are one per process."""
    saved = previous["world_size"]
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
