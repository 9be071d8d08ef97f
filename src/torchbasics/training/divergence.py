"""Catching a blow-up of the training loss in the epoch it starts, and what to do about it.

A learning rate too high for the data does not make the loss NaN at once: it grows, step
after step, for epochs (a thousandfold, then 10^24-fold) before it overflows. Waiting for the
NaN burns the budget on a model that stopped learning long before. :class:`DivergenceWatch`
follows the running mean of the steps' losses over the last :data:`SPAN` steps and calls a
step *blown up* when that mean is above both

- the loss of a guess that knows nothing (``ln K`` for ``K`` classes; for a regression on
  a standardized target, 1: the mean's), so a model that has learned anything is allowed
  its noisy batches as long as they beat guessing on the whole, and
- :data:`BLOW_UP` times the lowest running mean so far, so a model still near the guess
  is not caught by noise around it;

or when a loss is NaN or infinite. The mean, not each batch's own loss, because one batch
of a trained model can be far worse than a guess (a few confident mistakes in a small
batch) while the model is fine. With full-batch training (one step an epoch) there is no
batch noise to smooth, and the loss itself is judged. :data:`PATIENCE` blown-up steps in a
row are a divergence (one NaN is enough), and so is an epoch that ends on blown-up steps:
the end of an epoch is where a run keeps its state to go back to, and a state already
blowing up is no state to go back to.
The losses stay on the device and are read back every :data:`CHECK_EVERY` steps (one host
sync; with several processes, also a collective) and at the end of each epoch.

What happens next is the run's choice: by default it goes back to its last good state and
continues with a lower peak learning rate (:mod:`torchbasics.training.recovery`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.training import distributed

BLOW_UP = 4.0  # the running mean this many times its lowest so far, or more
PATIENCE = 3  # blown-up steps in a row that make a divergence
SPAN = 10  # steps the running (exponential) mean of the loss follows (full batch: 1)
CHECK_EVERY = {"cpu": 1, "cuda": 20, "mps": 20}  # steps between reads (others: 20)
# With several processes every read is also a collective (all ranks must stop at the same
# step), so it is made as seldom as on a GPU.
CHECK_EVERY_DISTRIBUTED = 20


class TrainingDiverged(TorchbasicsError):
    """The loss diverged (or became NaN or infinite), and the run stopped."""


class Diverged(Exception):
    """The loss diverged at ``epoch``, ``step`` (1-based within the epoch); the loop stops
    there without saving anything of the diverged steps. ``loss`` is the running mean that
    was judged (or the loss that was NaN or infinite)."""

    def __init__(self, epoch: int, step: int, loss: float, threshold: float,
                 steps: int = PATIENCE):
        self.epoch, self.step, self.loss, self.threshold = epoch, step, loss, threshold
        self.steps = steps  # blown-up steps in a row (fewer than PATIENCE: the epoch ended)
        super().__init__(self.describe())

    @property
    def first_step(self) -> int:
        """The epoch's step where the blow-up was first seen (its forward pass saw the
        weights the step before left: at step 1, those the last epoch ended with)."""
        return self.step if not math.isfinite(self.loss) else self.step - self.steps + 1

    def describe(self) -> str:
        """One phrase: where, and by how much."""
        if not math.isfinite(self.loss):
            return f"the loss became NaN or infinite at epoch {self.epoch}, step {self.step}"
        ended = " to the end of the epoch" if self.steps < PATIENCE else ""
        return (f"the loss diverged at epoch {self.epoch}, step {self.step}: its running mean "
                f"{self.loss:.3g}, above {self.threshold:.3g} for {self.steps} "
                f"step{'s' * (self.steps != 1)} in a row{ended}")


@dataclass
class DivergenceWatch:
    """The steps' losses, judged as described in the module docstring.

    Args:
        every: steps between reads of the losses kept on the device.
        span: steps the running mean follows (1: each step's own loss).
        guess_loss: the loss of a guess that knows nothing (see :func:`guess_loss`); set
            by the first :meth:`add` when not given.
    """

    every: int = 1
    span: int = SPAN
    guess_loss: float | None = None
    average: float = 0.0  # the running (exponential) mean of the loss, before bias correction
    seen: int = 0  # finite losses read in all
    lowest: float = math.inf  # the lowest bias-corrected running mean so far
    mean: float = math.nan  # the last bias-corrected running mean
    streak: int = 0  # blown-up steps in a row, up to the last one read
    last: float = math.nan  # the last loss read
    pending: list[torch.Tensor] = field(default_factory=list, repr=False)

    def add(self, loss: torch.Tensor, guess: float) -> None:
        """Keep one step's mean loss (a 0-d tensor, left on the device: no sync), and the
        loss of a guess for this task (the first one given is kept)."""
        if self.guess_loss is None:
            self.guess_loss = guess
        self.pending.append(loss.detach().float())

    def step(self, loss: torch.Tensor, guess: float, epoch: int, steps: int,
             anywhere: Callable[[bool], bool] = lambda diverged: diverged) -> None:
        """:meth:`add` one step's loss, then :meth:`check` when a check is :meth:`due`."""
        self.add(loss, guess)
        if self.due(steps):
            self.check(epoch, steps, anywhere)

    def due(self, steps: int) -> bool:
        """Whether, after ``steps`` steps of the epoch, the losses should be read now."""
        return steps % self.every == 0

    def check(self, epoch: int, step: int,
              anywhere: Callable[[bool], bool] = lambda diverged: diverged, *,
              ending: bool = False) -> None:
        """Read the losses kept since the last check and judge them, in order.

        Args:
            step: the epoch's step count after the last kept loss.
            anywhere: whether any process diverged, given this one's answer (several
                processes must stop at the same step: see ``distributed.any_rank``).
            ending: the epoch ends here (or stops), so blown-up steps diverged already.

        Raises:
            Diverged: naming the step where the divergence became certain.
        """
        losses = torch.stack(self.pending).tolist() if self.pending else []
        first, self.pending = step - len(losses), []
        found = None
        for offset, loss in enumerate(losses, start=1):
            threshold = self.threshold()
            if self._judge(loss) and found is None:
                found = Diverged(epoch, first + offset, self.judged(), threshold)
        if ending and found is None and self.streak:
            found = Diverged(epoch, step, self.judged(), self.threshold(), steps=self.streak)
        if anywhere(found is not None):  # here or in another process
            raise found or Diverged(epoch, step, self.judged(), self.threshold())

    def _judge(self, loss: float) -> bool:
        """Take one step's loss; True once it makes a divergence."""
        self.last = loss
        if not math.isfinite(loss):
            return True
        smoothing = 1 - 1 / self.span
        self.seen += 1
        self.average = smoothing * self.average + (1 - smoothing) * loss
        self.mean = self.average / (1 - smoothing ** self.seen)  # bias-corrected
        self.streak = self.streak + 1 if self.mean > self.threshold() else 0
        self.lowest = min(self.lowest, self.mean)
        return self.streak >= PATIENCE

    def judged(self) -> float:
        """The value last judged: the running mean, or the loss when it was not finite."""
        return self.last if not math.isfinite(self.last) else self.mean

    def threshold(self) -> float:
        """The loss above which a step counts as blown up (none before the first step)."""
        return max(self.guess_loss or 0.0, BLOW_UP * self.lowest)

    def state(self) -> dict[str, Any]:
        """Plain data for a checkpoint (saved after a check, so nothing is pending)."""
        return {"average": self.average, "seen": self.seen, "lowest": self.lowest,
                "streak": self.streak}

    def restore(self, values: dict[str, Any]) -> None:
        """Continue from :meth:`state` output (the span is this watch's: the run's own steps
        per epoch give it, as they gave the saved one)."""
        self.average, self.seen = float(values["average"]), int(values["seen"])
        self.lowest, self.streak = float(values["lowest"]), int(values["streak"])
        self.pending = []


def guess_loss(classes: int | None) -> float:
    """The loss of a guess that knows nothing: ``ln K`` (uniform over ``K`` classes) for a
    classifier; 1 (the mean of a standardized target) for a regression (``None``)."""
    return math.log(classes) if classes else 1.0


def watch_for(device: torch.device, steps_per_epoch: int) -> DivergenceWatch:
    """A new watch that reads the losses as often as is cheap on ``device`` (and in this
    process group); with one step an epoch (full batch), it judges each loss itself."""
    every = (CHECK_EVERY.get(device.type, 20) if distributed.world_size() == 1
             else CHECK_EVERY_DISTRIBUTED)
    return DivergenceWatch(every=every, span=1 if steps_per_epoch == 1 else SPAN)
