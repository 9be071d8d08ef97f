"""The learning-rate range test (Smith, 2015; fastai's ``lr_find``), written out.

Train from the initial weights for a few hundred steps while the learning rate grows
exponentially from :data:`START` to :data:`END`, one step at each rate, and record the
loss. While the rate is too small, the loss stays where it began; then it falls, faster and
faster; past a point it turns and blows up, and the test stops (:data:`STOP_ABOVE` times the
lowest smoothed loss). The rate to train with sits well before the turn: the suggestion is
the rate where the smoothed loss was lowest, divided by :data:`BELOW_MINIMUM` (where the
loss still falls fast, and a one-cycle schedule's peak leaves room to spare).

The model and optimizer are changed by the test: give it copies made for the purpose.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from torchbasics.training.loop import Task, training_step

START, END = 1e-6, 10.0  # the rates tried, from and to
STEPS = 200  # steps (rates) at most
SMOOTHING = 0.9  # of the running mean of the loss the curve shows (bias-corrected)
STOP_ABOVE = 4.0  # stop once the smoothed loss is this many times its lowest
BELOW_MINIMUM = 10.0  # the suggestion: the rate of the lowest smoothed loss over this


@dataclass(frozen=True)
class RangeTest:
    """What the test found: the rates tried, the smoothed loss at each, the suggestion."""

    rates: list[float]
    losses: list[float]
    suggestion: float
    reason: str  # how the suggestion was found, in words

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"suggestion": self.suggestion, "reason": self.reason, "rates": self.rates,
                "losses": self.losses}


def rates(start: float = START, end: float = END, steps: int = STEPS) -> list[float]:
    """``steps`` rates from ``start`` to ``end``, evenly spaced on a log scale."""
    return [start * (end / start) ** (i / max(steps - 1, 1)) for i in range(steps)]


def range_test(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
               optimizer: torch.optim.Optimizer, task: Task, *, device: torch.device,
               precision: str = "fp32", steps: int = STEPS, start: float = START,
               end: float = END) -> RangeTest:
    """Run the test: one training step (the loop's own, ``training_step``) at each of
    :func:`rates`, until the loss blows up.

    Args:
        batches: ``(inputs, targets)``, repeated as often as needed.
        task: the task whose loss is trained (``ClassificationTask``, ``RegressionTask``).
    """
    model.train()
    tried_rates = rates(start, end, steps)
    base = optimizer.param_groups[0]["lr"]  # the schedule sets each step's rate from it
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: tried_rates[min(i, len(tried_rates) - 1)] / base)
    tried, smoothed, average = [], [], 0.0
    for step, (rate, (inputs, targets)) in enumerate(
            zip(tried_rates, _endless(batches), strict=False), start=1):
        loss, _ = training_step(model, inputs.to(device), targets.to(device), optimizer,
                                schedule, task, device=device, precision=precision)
        value = loss.item()  # one sync a step: the test is a few hundred steps
        if not math.isfinite(value):
            break
        average = SMOOTHING * average + (1 - SMOOTHING) * value
        tried.append(rate)
        smoothed.append(average / (1 - SMOOTHING ** step))
        if smoothed[-1] > STOP_ABOVE * min(smoothed):
            break
    return suggest(tried, smoothed)


def suggest(tried: list[float], smoothed: list[float]) -> RangeTest:
    """The suggestion for a curve: the rate of its lowest point over :data:`BELOW_MINIMUM`."""
    if not tried:
        raise ValueError("the loss was NaN or infinite from the first step")
    lowest = min(range(len(smoothed)), key=smoothed.__getitem__)
    if smoothed[lowest] >= 0.95 * smoothed[0]:
        reason = ("the loss hardly fell at any rate tried; the suggestion is a guess, "
                  "try more steps or another model")
    else:
        reason = (f"the smoothed loss was lowest ({smoothed[lowest]:.3g}) at {tried[lowest]:.3g}; "
                  f"divided by {BELOW_MINIMUM:g}")
    return RangeTest(tried, smoothed, tried[lowest] / BELOW_MINIMUM, reason)


def _endless(batches: Iterable) -> Iterator:
    """The batches over and over (a small data set has fewer than the test's steps)."""
    while True:
        yield from batches
