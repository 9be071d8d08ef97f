"""Learning-rate schedules laid over a run's steps, and the step plan they follow.

A run takes a planned number of optimizer steps (:class:`StepPlan`): its epochs times the
batches per epoch, or, for a time budget, what fits in the time (the last epoch may end
part-way). The schedule warms up and anneals over exactly those steps, so it has decayed
fully at the end. When a run with a time budget finds the machine slower (or faster) than
it measured at the start, it re-plans the rest: the steps left are fewer (or more), and the
schedule's remaining part is laid over them. Every re-plan is recorded, so a resumed run
follows the same plan exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from torchbasics.errors import TorchbasicsError, closest

SCHEDULES = ("onecycle", "cosine", "constant")


@dataclass
class StepPlan:
    """How many optimizer steps a run takes: as first planned, and each re-plan since.

    Attributes:
        total: the steps first planned; the schedule's shape is laid over them.
        replans: ``(at step, new total)`` pairs, in order: from ``at step`` on, the first
            plan's remaining steps are spread evenly over the new total's.
    """

    total: int
    replans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def final(self) -> int:
        """The steps the run takes as planned now."""
        return self.replans[-1][1] if self.replans else self.total

    def epochs(self, steps_per_epoch: int) -> int:
        """Epochs the plan takes, the last one possibly partial."""
        return math.ceil(self.final / steps_per_epoch)

    def steps_in_epoch(self, epoch: int, steps_per_epoch: int) -> int:
        """Steps of ``epoch`` (1-based) the plan takes: all, the rest, or none."""
        return max(0, min(steps_per_epoch, self.final - (epoch - 1) * steps_per_epoch))

    def position(self, step: int) -> float:
        """Where ``step`` lies on the first plan's schedule: ``step`` itself without
        re-plans; after one, the rest of the schedule spread evenly over the steps left."""
        if not self.replans:
            return step
        begin_step, begin, end_step = 0, 0.0, self.total  # the plan in force, from where
        for at, new_total in self.replans:
            if step < at:
                break
            begin = _along(begin, at - begin_step, self.total, end_step - begin_step)
            begin_step, end_step = at, new_total
        return min(float(self.total),
                   _along(begin, step - begin_step, self.total, end_step - begin_step))

    def ends_epoch(self, epoch: int, steps: int, steps_per_epoch: int) -> bool:
        """After ``steps`` steps of ``epoch``: whether the plan ends the epoch here (a time
        budget first checks its clock, and may re-plan)."""
        self.check((epoch - 1) * steps_per_epoch + steps)
        return steps >= self.steps_in_epoch(epoch, steps_per_epoch)

    def check(self, step: int) -> None:
        """Called after every step; a plan that watches a time budget re-plans here."""

    def replan(self, at_step: int, total: int) -> None:
        """From ``at_step`` on, take ``total`` steps in all (at least one more)."""
        self.replans.append((at_step, max(total, at_step + 1)))

    def rewind(self, step: int, replans: list[tuple[int, int]]) -> None:
        """Go back to ``step`` (after a divergence), with the re-plans made up to there."""
        self.replans = [tuple(pair) for pair in replans if pair[0] <= step]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint and config.json."""
        return {"total": self.total, "replans": [list(pair) for pair in self.replans]}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StepPlan:
        """Rebuild from :meth:`to_dict` output."""
        return cls(int(values["total"]), [(int(a), int(b)) for a, b in values["replans"]])


def _along(begin: float, steps: int, end: float, length: int) -> float:
    """The position ``steps`` into a stretch of ``length`` steps from ``begin`` to ``end``."""
    return begin + steps * (end - begin) / max(length, 1)


class PlannedOneCycle(torch.optim.lr_scheduler.OneCycleLR):
    """PyTorch's one-cycle schedule (warm up, then anneal; momentum the other way), laid
    over a :class:`StepPlan`: each step reads the schedule at its plan position."""

    def __init__(self, optimizer: torch.optim.Optimizer, plan: StepPlan, **options: Any):
        self.plan = plan
        super().__init__(optimizer, total_steps=max(1, plan.total), **options)

    def state_dict(self) -> dict[str, Any]:
        """The schedule's state without the plan (a checkpoint keeps that as plain data)."""
        return {key: value for key, value in super().state_dict().items() if key != "plan"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state, keeping the plan this schedule was built with."""
        super().load_state_dict({key: value for key, value in state_dict.items()
                                 if key != "plan"})

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        self.last_epoch = self.plan.position(step)  # read at the plan's position...
        try:
            return super().get_lr()
        finally:
            self.last_epoch = step  # ...and count steps as usual


def build_scheduler(
    optimizer: torch.optim.Optimizer, name: str, *, plan: StepPlan, warmup: float = 0.25,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step schedule over the plan's steps: one-cycle (warm up for the ``warmup`` share
    of the steps to the optimizer's rate, then anneal), cosine, or constant."""
    if name == "onecycle":
        return PlannedOneCycle(
            optimizer, plan, max_lr=optimizer.param_groups[0]["lr"], pct_start=warmup,
            # Momentum cycling is for SGD-like optimizers; Adam's betas are left alone.
            cycle_momentum=isinstance(optimizer, torch.optim.SGD),
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * plan.position(step)
                                                        / max(plan.total, 1))))
    if name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise TorchbasicsError(f"unknown schedule '{name}'", where="--schedule",
                           fix=closest(str(name), list(SCHEDULES)))
