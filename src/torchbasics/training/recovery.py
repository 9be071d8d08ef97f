"""Recovering from a divergence: back to the last good state, on with a lower peak rate.

A run keeps a :class:`Snapshot` of its training state in memory (at the start, and after
every epoch). When :class:`~torchbasics.training.divergence.Diverged` is raised, it restores
the snapshot, divides the peak learning rate by :data:`LOWER_BY` (:func:`lower_peak_lr`:
the schedule keeps its shape, lower), records a :class:`Recovery` and trains on from there.
After :data:`TRIES` recoveries the next divergence stops the run (:func:`give_up`). The
diverged steps leave nothing behind: the checkpoints on disk are those of the last good
epoch, and the random states are restored with the weights, so a recovered run is the same
from its seed every time.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from torchbasics.training.divergence import Diverged, TrainingDiverged

LOWER_BY = 5.0  # each recovery divides the peak learning rate by this
TRIES = 2  # recoveries before a run gives up


@dataclass
class Snapshot:
    """Deep copies of what training changes: weights, optimizer and schedule states, the
    gradient scaler's, the global random state, and whatever else the run adds."""

    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any] | None
    torch_rng: torch.Tensor
    extra: dict[str, Any]

    @classmethod
    def take(cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler,
             scaler: torch.amp.GradScaler | None = None, **extra: Any) -> Snapshot:
        """Copy the state now (``extra`` values are deep-copied too)."""
        return cls({name: value.detach().clone() for name, value in model.state_dict().items()},
                   copy.deepcopy(optimizer.state_dict()), copy.deepcopy(scheduler.state_dict()),
                   None if scaler is None else copy.deepcopy(scaler.state_dict()),
                   torch.get_rng_state(), copy.deepcopy(extra))

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler,
                scaler: torch.amp.GradScaler | None = None) -> dict[str, Any]:
        """Put the copied state back (copies again, so the snapshot can be restored twice);
        the ``extra`` values, copied, for the run to put back."""
        model.load_state_dict(self.model)
        optimizer.load_state_dict(copy.deepcopy(self.optimizer))
        scheduler.load_state_dict(copy.deepcopy(self.scheduler))
        if scaler is not None and self.scaler is not None:
            scaler.load_state_dict(copy.deepcopy(self.scaler))
        torch.set_rng_state(self.torch_rng)
        return copy.deepcopy(self.extra)


@dataclass(frozen=True)
class Recovery:
    """One divergence a run recovered from: where, and the peak rate before and after."""

    epoch: int
    step: int
    loss: float  # the running mean of the loss that was judged (NaN: a loss was not finite)
    lr_before: float
    lr_after: float
    back_to_epoch: int  # the run went back to the end of this epoch (0: the start)

    def line(self) -> str:
        """The log's line, and report.md's."""
        back = (f"the end of epoch {self.back_to_epoch}" if self.back_to_epoch
                else "the start")
        loss = (f"running mean {self.loss:.3g}" if math.isfinite(self.loss)
                else "loss NaN or infinite")
        return (f"the loss diverged at epoch {self.epoch}, step {self.step} ({loss}): "
                f"back to {back}, peak learning rate lowered from {self.lr_before:.3g} to "
                f"{self.lr_after:.3g}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json and checkpoints (NaN written as None)."""
        values = asdict(self)
        values["loss"] = self.loss if math.isfinite(self.loss) else None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recovery:
        """Rebuild from :meth:`to_dict` output."""
        loss = values["loss"]
        return cls(int(values["epoch"]), int(values["step"]),
                   math.nan if loss is None else float(loss), float(values["lr_before"]),
                   float(values["lr_after"]), int(values["back_to_epoch"]))


def give_up(diverged: Diverged, recoveries: list[Recovery], recover: bool) -> TrainingDiverged:
    """The one-line error of a run that stops: it was told not to recover, or tried enough."""
    if not recover:
        return TrainingDiverged(diverged.describe(), fix="lower the learning rate (--lr), or "
                                "leave out --no-recover")
    return TrainingDiverged(
        f"{diverged.describe()}, after {len(recoveries)} recoveries (peak learning rate "
        f"{recoveries[-1].lr_after:.3g})" if recoveries else diverged.describe(),
        fix="try the rate `torchbasics lr-find` suggests (--lr), or another model "
        "(`torchbasics models`; batch norm, as in convnet, steadies training)")


def peak_lr(optimizer: torch.optim.Optimizer) -> float:
    """The peak learning rate of the schedule: one-cycle's ``max_lr``, else the rate the
    schedule starts from."""
    group = optimizer.param_groups[0]
    return float(group.get("max_lr", group.get("initial_lr", group["lr"])))


def lower_peak_lr(optimizer: torch.optim.Optimizer,
                  scheduler: torch.optim.lr_scheduler.LRScheduler, factor: float) -> None:
    """Divide every rate the optimizer and its schedule hold by ``factor``: the rate now and
    the schedule's peak, start and end, so that the schedule goes on in its shape, lower."""
    for group in optimizer.param_groups:
        for key in ("lr", "max_lr", "initial_lr", "min_lr"):
            if key in group:
                group[key] = group[key] / factor
    if hasattr(scheduler, "base_lrs"):
        scheduler.base_lrs = [rate / factor for rate in scheduler.base_lrs]
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]


@dataclass
class Recoveries:
    """The recoveries a run has made, and the rule for the next divergence.

    Args:
        allowed: False for ``--no-recover``: the first divergence stops the run.
    """

    allowed: bool = True
    done: list[Recovery] = field(default_factory=list)

    def go_back(self, blow_up: Diverged, good: Snapshot, model: torch.nn.Module,
                optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler,
                scaler: torch.amp.GradScaler | None, *, back_to_epoch: int,
                log: Callable[[str], None]) -> dict[str, Any]:
        """Restore ``good`` and lower the peak rate, saying so; the snapshot's extras.

        Raises:
            TrainingDiverged: not allowed, or :data:`TRIES` recoveries made already.
        """
        if not self.allowed or len(self.done) >= TRIES:
            raise give_up(blow_up, self.done, self.allowed)
        before = peak_lr(optimizer)
        extra = good.restore(model, optimizer, scheduler, scaler)
        lower_peak_lr(optimizer, scheduler, LOWER_BY)
        self.done.append(Recovery(blow_up.epoch, blow_up.step, blow_up.loss, before,
                                  peak_lr(optimizer), back_to_epoch))
        log(self.done[-1].line())
        return extra

    def in_epoch(self, epoch: int) -> int:
        """How many times ``epoch`` started again (metrics.csv's ``recovered``)."""
        return sum(recovery.back_to_epoch + 1 == epoch for recovery in self.done)

    def to_list(self) -> list[dict[str, Any]]:
        """Plain data for summary.json and checkpoints."""
        return [recovery.to_dict() for recovery in self.done]
