"""The training loop, written out: forward -> loss -> backward -> optimizer step.

``fit`` calls ``train_one_epoch`` (a ``training_step`` per batch) and ``validate`` once per
epoch, and hands each epoch's record to an ``on_epoch_end`` hook (the run directory uses it
to save files). Running
sums stay on the device; reading them back (``.item()``) happens once per epoch, or every
``PROGRESS_EVERY`` steps for the progress bar, never per step, so the CPU/GPU is never
kept waiting on Python.

Stopping early on request (Ctrl-C) is one more small hook: ``should_stop()``, a plain
Python check after each step. When it says yes, the loop raises :class:`Interrupted`
carrying the unfinished epoch's :class:`PartialEpoch`, which the caller saves; passing it
back as ``resume`` continues that epoch at its next step, with the same final figures.

Under ``torchrun`` (see :mod:`torchbasics.training.distributed`) each process runs the same
loop on its share of every batch; the epoch's sums are added up over the processes once
per epoch, so every figure is the global one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm  # text bars: tqdm.auto warns in notebooks without ipywidgets

from torchbasics.device import autocast
from torchbasics.training import distributed, divergence
from torchbasics.training.divergence import DivergenceWatch, TrainingDiverged
from torchbasics.training.schedule import StepPlan

PROGRESS_EVERY = 25  # steps between progress-bar updates of the running loss


class Batches(Protocol):
    """What the loop trains on: an epoch's ``(inputs, targets)`` batches, and their count."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


class ClassificationTask:
    """Cross-entropy on logits; a mistake is an arg-max that differs from the label."""

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of ``(B, K)`` logits against ``(B,)`` labels."""
        return F.cross_entropy(outputs.float(), targets, label_smoothing=self.label_smoothing)

    def mistakes(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """How many of the batch are misclassified (a 0-d tensor, left on the device)."""
        return (outputs.argmax(dim=1) != targets).sum()

    def guess_loss(self, outputs: torch.Tensor) -> float:
        """The loss of a uniform guess over the ``(B, K)`` outputs' ``K`` classes."""
        return divergence.guess_loss(outputs.shape[1])


class RegressionTask:
    """Mean squared error; regression has no mistakes to count."""

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean squared error of ``(B, 1)`` outputs against ``(B, 1)`` targets."""
        return F.mse_loss(outputs.float(), targets)

    def mistakes(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        return None

    def guess_loss(self, outputs: torch.Tensor) -> float:
        """The loss of predicting the mean of a standardized target (its variance, 1)."""
        return divergence.guess_loss(None)


Task = ClassificationTask | RegressionTask


@dataclass(frozen=True)
class EpochRecord:
    """One row of ``metrics.csv``."""

    epoch: int
    train_loss: float
    train_error: float | None
    val_loss: float
    val_error: float | None
    lr: float
    seconds: float
    images_per_second: float
    recovered: int = 0  # times the epoch started again after the loss diverged in it

    @classmethod
    def of(cls, epoch: int, trained: dict[str, Any], validated: dict[str, Any]) -> EpochRecord:
        """The record of an epoch from what training and validation returned.

        Raises:
            TrainingDiverged: the validation loss is NaN or infinite.
        """
        if not math.isfinite(validated["loss"]):
            raise TrainingDiverged(f"the validation loss became NaN or infinite at epoch {epoch}",
                                   fix="lower the learning rate (--lr)")
        return cls(epoch=epoch, train_loss=trained["loss"], train_error=trained["error"],
                   val_loss=validated["loss"], val_error=validated["error"], lr=trained["lr"],
                   seconds=trained["seconds"],
                   images_per_second=trained["samples"] / max(trained["seconds"], 1e-9))


@dataclass
class PartialEpoch:
    """How far an epoch has got: its steps and running sums (the sums stay on the device).

    Saved in a checkpoint when training stops mid-epoch, so that the resumed epoch starts
    at step ``steps + 1`` and ends with exactly the figures of an uninterrupted one.
    """

    epoch: int
    lr: float  # the learning rate when the epoch began: the value its metrics row shows
    loss_sum: torch.Tensor  # sum over the samples so far of their loss, 0-d float32
    mistakes: torch.Tensor  # misclassified samples so far, 0-d int64
    steps: int = 0
    samples: int = 0
    seconds: float = 0.0

    @classmethod
    def begin(cls, epoch: int, lr: float, device: torch.device) -> PartialEpoch:
        """An epoch at step 0."""
        return cls(epoch, lr, torch.zeros((), device=device),
                   torch.zeros((), device=device, dtype=torch.long))

    def add(self, loss: torch.Tensor, mistakes: torch.Tensor | None, batch_size: int) -> None:
        """Count one more step: its mean loss and mistakes, kept on the device (no sync)."""
        self.loss_sum += loss * batch_size
        if mistakes is not None:
            self.mistakes += mistakes
        self.samples += batch_size
        self.steps += 1

    def to_dict(self) -> dict[str, Any]:
        """Plain data and CPU tensors, for a ``weights_only`` checkpoint."""
        return {"epoch": self.epoch, "lr": self.lr, "loss_sum": self.loss_sum.cpu(),
                "mistakes": self.mistakes.cpu(), "steps": self.steps, "samples": self.samples,
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, values: dict[str, Any], device: torch.device) -> PartialEpoch:
        """Rebuild from :meth:`to_dict` output, the sums moved to ``device``."""
        return cls(int(values["epoch"]), float(values["lr"]), values["loss_sum"].to(device),
                   values["mistakes"].to(device), int(values["steps"]), int(values["samples"]),
                   float(values["seconds"]))


class Interrupted(Exception):
    """Training stopped on request after a completed step; ``partial`` says where."""

    def __init__(self, partial: PartialEpoch):
        self.partial = partial
        super().__init__(f"stopped at epoch {partial.epoch}, step {partial.steps}")


def training_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    task: Task,
    *,
    device: torch.device,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of gradient descent on one batch: forward -> loss -> backward -> update.

    Args:
        scaler: for fp16, which needs it: the loss is scaled up before the backward pass
            so that small gradients do not underflow to zero, and the update is skipped
            (the scale lowered) when a gradient overflowed.

    Returns:
        The batch's mean loss (0-d) and the model's outputs, detached, on the device.
    """
    with autocast(device, precision):
        outputs = model(inputs)  # (B, K) logits, or (B, 1) for regression
    loss = task.loss(outputs, targets)

    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # unscales the gradients first
        scaler.update()
    scheduler.step()
    return loss.detach(), outputs.detach()


def train_one_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    task: Task,
    *,
    device: torch.device,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
    epoch: int = 1,
    plan: StepPlan | None = None,
    progress: bool = False,
    resume: PartialEpoch | None = None,
    should_stop: Callable[[], bool] | None = None,
    watch: DivergenceWatch | None = None,
) -> dict[str, float | None]:
    """One pass over the training batches, updating the weights after every batch.

    Args:
        scaler: gradient scaling for fp16 (see :func:`training_step`).
        plan: the run's steps; the epoch ends where the plan says (the last one may end
            part-way). ``None``: every batch.
        resume: the sums of this epoch's first steps, when continuing an interrupted
            epoch; ``batches`` then yields only the remaining batches.
        should_stop: checked after every step; when it returns True (and batches remain),
            the epoch stops there and :class:`Interrupted` is raised.
        watch: judges the losses (default: a new one); raises ``divergence.Diverged``.

    Returns:
        ``{"loss", "error", "samples", "seconds", "lr"}``: mean loss and error on the batches
        as trained (dropout, augmentation), and the rate the epoch began with.
    """
    model.train()
    sums = resume or PartialEpoch.begin(epoch, optimizer.param_groups[0]["lr"], device)
    watch = watch or divergence.watch_for(device, len(batches))
    anywhere = distributed.any_rank(device)
    per_epoch, stopped, start = len(batches), False, time.perf_counter()
    plan = plan or StepPlan(epoch * per_epoch)
    bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not progress, unit="batch",
               initial=sums.steps, total=plan.steps_in_epoch(epoch, per_epoch))
    for step, (inputs, targets) in enumerate(bar, start=sums.steps):
        inputs, targets = (part.to(device, non_blocking=True) for part in (inputs, targets))
        loss, outputs = training_step(model, inputs, targets, optimizer, scheduler, task,
                                      device=device, precision=precision, scaler=scaler)
        sums.add(loss, task.mistakes(outputs, targets), len(targets))  # on the device: no sync
        watch.step(loss, task.guess_loss(outputs), epoch, sums.steps, anywhere)
        if progress and step % PROGRESS_EVERY == 0:
            bar.set_postfix(loss=f"{sums.loss_sum.item() / sums.samples:.4f}")
        if plan.ends_epoch(epoch, sums.steps, per_epoch):  # the last one may end part-way
            break
        if should_stop is not None and should_stop():
            stopped = True
            break
    sums.seconds += time.perf_counter() - start
    watch.check(epoch, sums.steps, anywhere, ending=True)  # nothing diverged is saved
    if stopped:
        raise Interrupted(sums)
    return {**mean_loss_and_error(task, sums.loss_sum, sums.mistakes, sums.samples),
            "seconds": sums.seconds, "lr": sums.lr}


@torch.no_grad()
def validate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    task: Task,
    *,
    device: torch.device,
    precision: str = "fp32",
) -> dict[str, float | None]:
    """Mean loss and error over ``batches``, with the model in eval mode and no gradients."""
    model.eval()
    total_loss = torch.zeros((), device=device)
    total_mistakes = torch.zeros((), device=device, dtype=torch.long)
    samples = 0
    for inputs, targets in batches:
        inputs, targets = (part.to(device, non_blocking=True) for part in (inputs, targets))
        with autocast(device, precision):
            outputs = model(inputs)
        total_loss += task.loss(outputs, targets) * targets.shape[0]
        mistakes = task.mistakes(outputs, targets)
        if mistakes is not None:
            total_mistakes += mistakes
        samples += targets.shape[0]
    return mean_loss_and_error(task, total_loss, total_mistakes, samples)


def mean_loss_and_error(task: Task, loss_sum: torch.Tensor, mistakes: torch.Tensor,
                        samples: int) -> dict[str, Any]:
    """``{"loss", "error", "samples"}`` of an epoch from its sums, over all ranks in DDP.

    The one host sync of the epoch (reading the sums back); ``error`` is None for tasks
    without one (regression).
    """
    loss_sum, mistakes, samples = distributed.epoch_totals(loss_sum, mistakes, samples)
    has_error = isinstance(task, ClassificationTask)
    return {"loss": loss_sum / max(samples, 1),
            "error": mistakes / max(samples, 1) if has_error else None,
            "samples": samples}


@torch.no_grad()
def predict_probabilities(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device,
    precision: str = "fp32",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax probabilities ``(N, K)`` and labels ``(N,)`` for every batch, on the CPU."""
    model.eval()
    probabilities, labels = [], []
    for inputs, targets in batches:
        with autocast(device, precision):
            logits = model(inputs.to(device))
        probabilities.append(torch.softmax(logits.float(), dim=1).cpu())
        labels.append(targets.cpu())
    return torch.cat(probabilities), torch.cat(labels)


def fit(
    model: nn.Module,
    train_batches,
    val_batches,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    task: Task,
    *,
    plan: StepPlan,
    device: torch.device,
    precision: str = "fp32",
    scaler: torch.amp.GradScaler | None = None,
    start_epoch: int = 1,
    resume: PartialEpoch | None = None,
    on_epoch_end: Callable[[EpochRecord], bool | None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: bool = False,
    watch: DivergenceWatch | None = None,
) -> list[EpochRecord]:
    """Train from epoch ``start_epoch`` to the plan's end, validating after each epoch.

    ``train_batches`` may have ``set_epoch(epoch)`` (the torchbasics loaders do): it is
    called first so each epoch's order depends only on the seed and the epoch number.
    ``on_epoch_end(record)`` may return True to stop early.

    Args:
        plan: how many steps in all (see :class:`~torchbasics.training.schedule.StepPlan`);
            the epochs follow from it and ``len(train_batches)``, the last may be partial.
        resume: an interrupted epoch (``resume.epoch == start_epoch``) to continue after
            its ``resume.steps`` steps; ``train_batches`` must then take
            ``set_epoch(epoch, start_step)``.
        should_stop: checked after every step and between epochs; when it returns True,
            :class:`Interrupted` is raised with where training stopped.
        watch: judges every step's loss (default: a new one); when the loss blows up,
            :class:`~torchbasics.training.divergence.Diverged` is raised in that epoch.
    """
    history, epoch, per_epoch = [], start_epoch, len(train_batches)
    watch = watch or divergence.watch_for(device, per_epoch)
    while epoch <= plan.epochs(per_epoch):
        partial = resume if resume is not None and resume.epoch == epoch else None
        if partial is not None and partial.steps:
            train_batches.set_epoch(epoch, start_step=partial.steps)
        elif hasattr(train_batches, "set_epoch"):
            train_batches.set_epoch(epoch)
        trained = train_one_epoch(model, train_batches, optimizer, scheduler, task,
                                  device=device, precision=precision, scaler=scaler,
                                  epoch=epoch, plan=plan, progress=progress, resume=partial,
                                  should_stop=should_stop, watch=watch)
        evaluated = distributed.for_evaluation(model)
        validated = validate(evaluated, val_batches, task, device=device, precision=precision)
        record = EpochRecord.of(epoch, trained, validated)
        history.append(record)
        if on_epoch_end is not None and on_epoch_end(record):
            break
        if should_stop is not None and epoch < plan.epochs(per_epoch) and should_stop():
            # Between epochs: the next one, at step 0, is where to resume.
            raise Interrupted(PartialEpoch.begin(epoch + 1, optimizer.param_groups[0]["lr"],
                                                 device))
        epoch += 1
    return history
