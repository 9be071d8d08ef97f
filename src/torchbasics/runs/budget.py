"""Training for a time budget: measure the speed, plan the steps, re-plan as it goes.

A budget is what the user waits: the whole command, from the process's start to the last
file written. Before training, :func:`measure` times a few training steps, one validation
pass, a checkpoint and the final figures on a throwaway copy of the run (so the run itself
is exactly what a rerun with the chosen ``--steps`` does). :meth:`TimeBudget.plan` turns
the time left into a number of steps; the schedule is laid over them, so it decays fully
by the end. During training, :meth:`TimeBudget.check` compares the clock with the plan
every few steps and, when the run would end more than :data:`SLACK` of the budget late (or
early), re-plans the steps left.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.training.loop import EpochRecord, training_step, validate
from torchbasics.training.schedule import StepPlan

SLACK = 0.02  # re-plan when the projected end is off by more than this share of the budget
MARGIN = 0.01  # aim to finish this share of the budget early (clock noise, the last write)
CHECKS = 50  # look at the clock about this many times over a run
WARMUP_STEPS = 3  # untimed steps first: one-time costs (kernel choice, allocations)
MIN_TIMED_STEPS = 5
# A budget is worth training only if it affords one epoch, or this many steps of a longer
# one: fewer steps leave the one-cycle schedule no room to warm up and anneal, and a model
# at chance after the whole wait (issue 26) helps nobody.
USEFUL_STEPS = 200


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc; else since torchbasics was
    imported), so that a budget counts the interpreter start and the imports too."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # after boot, in seconds
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return time.perf_counter() - IMPORTED


IMPORTED = time.perf_counter()


@dataclass(frozen=True)
class Timings:
    """What one piece of a run costs here, in seconds."""

    step: float  # one training step
    validation: float  # one validation pass
    checkpoint: float  # writing best.pt and last.pt once
    finish: float  # summary, figures and report at the end


def measure(setup, device: torch.device, seconds: float) -> Timings:
    """Time the pieces of a run on ``setup`` (a :class:`~torchbasics.runs.images.TrainingSetup`
    built for measuring only: its weights change), taking about ``seconds`` for the steps."""
    step = _time_steps(setup, device, seconds)
    began = time.perf_counter()
    validate(setup.model, setup.val_batches, setup.task, device=device,
             precision=setup.precision.name)
    validation = time.perf_counter() - began
    return Timings(step, validation, _time_checkpoint(setup), _time_finish())


def _time_steps(setup, device: torch.device, seconds: float) -> float:
    """Seconds per training step, after a few untimed ones, over about ``seconds``."""
    batches = _endless(setup.train_batches)

    def step() -> None:
        inputs, targets = next(batches)
        training_step(setup.model, inputs.to(device), targets.to(device), setup.optimizer,
                      setup.scheduler, setup.task, device=device,
                      precision=setup.precision.name, scaler=setup.scaler)

    for _ in range(WARMUP_STEPS):
        step()
    timed, started = 0, time.perf_counter()
    while timed < MIN_TIMED_STEPS or time.perf_counter() - started < seconds:
        step()
        timed += 1
    return (time.perf_counter() - started) / timed


def _endless(batches: Iterable) -> Iterator:
    """The batches over and over (a short epoch does not end the measuring)."""
    while True:
        yield from batches


def _time_checkpoint(setup) -> float:
    """Writing best.pt and last.pt once: what a checkpoint of this model costs to save."""
    began = time.perf_counter()
    for _ in range(2):
        torch.save({"model": setup.model.state_dict(),
                    "optimizer": setup.optimizer.state_dict()}, io.BytesIO())
    return time.perf_counter() - began


def _time_finish() -> float:
    """Drawing the loss curves as the end of a run does (this also imports matplotlib, which
    the end of the run then finds loaded); the report and the writes cost about as much."""
    from torchbasics.plots import loss_curves
    from torchbasics.runs.rundir import metrics_columns

    began = time.perf_counter()
    records = [EpochRecord(epoch, 1.0, 0.1, 1.0, 0.1, 0.1, 1.0, 1.0) for epoch in (1, 2)]
    figure = loss_curves(metrics_columns(records))
    figure.savefig(io.BytesIO(), format="png", dpi=120, bbox_inches="tight")
    return 2 * (time.perf_counter() - began)


class BudgetTooShort(TorchbasicsError):
    """A time budget that affords less than a useful run; ``enough`` is one that would do
    (seconds, counted from where the refused budget counted)."""

    def __init__(self, what: str, *, enough: float, **where_and_fix: str):
        super().__init__(what, **where_and_fix)
        self.enough = enough


def useful_steps(steps_per_epoch: int) -> int:
    """The fewest steps a budget must afford: one epoch, or :data:`USEFUL_STEPS`."""
    return min(steps_per_epoch, USEFUL_STEPS)


class TimeBudget(StepPlan):
    """A :class:`StepPlan` that watches the clock: planned from measured costs, re-planned
    when the run drifts off its deadline.

    The costs it plans with are a training step's and the time between epochs (validation,
    checkpoints), as :func:`measure` found them, times a speed factor that every check
    learns from the run itself (how much longer the last stretch took than those costs
    predict): a busier or quieter machine slows or speeds both alike.

    Args:
        deadline: ``time.perf_counter()`` value by which the last file must be written.
        budget: the whole budget in seconds (for the slack and the checks' spacing).
        timings: measured costs (see :func:`measure`).
        steps_per_epoch: full epochs' steps (validation and checkpoints follow each epoch).
    """

    def __init__(self, deadline: float, budget: float, timings: Timings, steps_per_epoch: int):
        self.deadline, self.budget, self.timings = deadline, budget, timings
        self.steps_per_epoch = steps_per_epoch
        self.slowdown = 1.0  # how much longer things take than measured
        super().__init__(self.affordable(0, time.perf_counter()))
        self.start()

    def start(self) -> None:
        """Training begins now: the clock for the measured speed starts here."""
        self.checked_at, self.last_check = time.perf_counter(), 0

    def rewind(self, step: int, replans: list[tuple[int, int]]) -> None:
        """Go back to ``step``; the clock is watched afresh from there (the time the
        diverged steps took is gone from the deadline, and the next re-plan sees it)."""
        super().rewind(step, replans)
        self.checked_at, self.last_check = time.perf_counter(), step

    def _validated(self, step: int) -> int:
        """Epochs whose validation has run once ``step`` steps are done (it runs after the
        epoch's last step, so not yet at that step itself)."""
        return max(0, (step - 1) // self.steps_per_epoch)

    def _expected(self, steps: int, validations: int) -> float:
        """Seconds for that many steps and epoch ends, at the measured costs."""
        timings = self.timings
        return steps * timings.step + validations * (timings.validation + timings.checkpoint)

    def _seconds_to(self, step: int, total: int) -> float:
        """Training and between-epoch time from ``step`` to the end of a ``total``-step plan."""
        epochs = math.ceil(total / self.steps_per_epoch)
        return self.slowdown * self._expected(total - step, epochs - self._validated(step))

    def affordable(self, step: int, now: float) -> int:
        """The most total steps that end by the deadline, from ``step`` at ``now``."""
        left = self.deadline - now - self.timings.finish - MARGIN * self.budget
        step_time = self.slowdown * self.timings.step
        low, high = step + 1, step + max(1, math.floor(left / max(step_time, 1e-9)))
        while low < high:  # the largest total whose time fits (time grows with the total)
            middle = (low + high + 1) // 2
            low, high = (middle, high) if self._seconds_to(step, middle) <= left + 1e-9 else (
                low, middle - 1)
        return low

    def refuse_if_useless(self, started: float) -> None:
        """Refuse, naming a budget that would do, when this one affords fewer than
        :func:`useful_steps`; ``started`` is the ``time.perf_counter()`` value the budget
        counts from.

        Raises:
            BudgetTooShort: too short to train (nothing has been written yet).
        """
        need = useful_steps(self.steps_per_epoch)
        if self.total >= need:
            return
        now = time.perf_counter()
        spent, finish = now - started, self.timings.finish
        left = max(0.0, self.deadline - now - finish)
        enough = 5 * math.ceil((spent + self._seconds_to(0, need) + finish) / (1 - MARGIN) / 5)
        what = "one epoch" if need == self.steps_per_epoch else f"{need} steps"
        raise BudgetTooShort(
            f"a {self.budget:g} s budget leaves {left:.1f} s to train on this machine after "
            f"{spent:.1f} s of start-up and {finish:.1f} s for the final figures: "
            f"{self.total} step(s), and a useful run needs {what} ({need} steps)",
            where="--time-budget",
            fix=f"give at least {enough:g} s, or add --allow-short-budget to train for it "
            "anyway", enough=enough)

    def check(self, step: int) -> None:
        """Every few steps: update the measured costs, and re-plan if the run would end more
        than :data:`SLACK` of the budget after (or before) its deadline."""
        now = time.perf_counter()
        if (step - self.last_check < max(MIN_TIMED_STEPS, self.final // CHECKS)
                or now - self.checked_at < self.budget / CHECKS or step >= self.final):
            return
        expected = self._expected(step - self.last_check,
                                  self._validated(step) - self._validated(self.last_check))
        # A moving average: a change of pace shows within a few checks, noise is damped.
        self.slowdown = 0.5 * self.slowdown + 0.5 * (now - self.checked_at) / expected
        self.last_check, self.checked_at = step, now
        projected = now + self._seconds_to(step, self.final) + self.timings.finish
        if abs(projected - (self.deadline - MARGIN * self.budget)) > SLACK * self.budget:
            self.replan(step, self.affordable(step, now))
