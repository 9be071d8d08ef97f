"""The epochs so far and the best of them: the bookkeeping at the end of every epoch.

Image and tabular training share it: which epoch ``best.pt`` keeps (and the summary and
report name, with the reason), how many epochs have passed without one worth keeping (for
early stopping), and what a checkpoint must remember of it so that a resumed run goes on
exactly.

**The rule**: keep the last epoch whose validation error is within one standard error of the
lowest, ``sqrt(p (1 - p) / n)`` for the lowest error ``p`` on ``n`` validation examples. A
validation set measures an error rate in steps of one example, and its noise near the
lowest is larger than those steps (1,000 pictures at 0.6 % error: 0.24 points, two or three
pictures), so the epoch with the lowest error is partly picked by chance, and usually
before the learning rate has annealed. Every later epoch that is as good, within that
noise, is kept instead: on an annealed schedule this is usually the last one, and an epoch
clearly worse than the lowest is never kept. ``benchmarks/best_epoch.py`` measured it
against the lowest error, the lowest loss and the last epoch (docs/results/01-accuracy.md,
"Which epoch best.pt keeps"). A regression has no error rate: its lowest validation loss is kept.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from torchbasics.training.loop import EpochRecord


def rank(record: EpochRecord) -> tuple[float, float]:
    """How low an epoch's validation figures are: (validation error, validation loss).

    With a small validation set equal error rates are common, and the loss then tells them
    apart; regression has no error, so its loss alone decides. The lowest by this order is
    the "lowest validation error" of the summary; :class:`Progress` decides what is kept.
    """
    return (0.0 if record.val_error is None else record.val_error, record.val_loss)


def noise(error: float, count: int) -> float:
    """One standard error of an error rate ``error`` measured on ``count`` examples,
    ``sqrt(p (1 - p) / n)`` (0 when ``count`` is unknown, i.e. 0)."""
    return math.sqrt(error * (1.0 - error) / count) if count > 0 else 0.0


@dataclass
class Progress:
    """The records of the epochs trained so far, the epoch kept, and early stopping.

    Args:
        patience: stop after this many epochs in a row not worth keeping (see the module
            docstring); 0 never stops.
        val_count: examples in the validation set, whose noise the rule allows for.
    """

    patience: int = 0
    val_count: int = 0
    records: list[EpochRecord] = field(default_factory=list)
    lowest: tuple[float, float] = (math.inf, math.inf)  # the lowest rank so far
    kept_epoch: int = 0  # the epoch best.pt holds (0 before the first)
    stale_epochs: int = 0  # epochs since the one kept

    def __deepcopy__(self, memo: dict[int, Any]) -> Progress:
        """A copy later epochs do not change: a new list of the same records (they are
        frozen). A deep copy of every record, as a recovery snapshot at every epoch's end
        made it, cost time growing with the square of the epochs: 1,000-epoch table runs."""
        return dataclasses.replace(self, records=list(self.records))

    def add(self, record: EpochRecord) -> bool:
        """Record an epoch; True when it is the one to keep (in ``best.pt``)."""
        self.records.append(record)
        self.lowest = min(self.lowest, rank(record))
        keep = self.keeps(record)
        if keep:
            self.kept_epoch = record.epoch
        self.stale_epochs = 0 if keep else self.stale_epochs + 1
        return keep

    def keeps(self, record: EpochRecord) -> bool:
        """Whether ``record`` (already added) is as good as the lowest, within the noise.

        The epoch kept so far stays kept unless a later one is within the noise of the
        lowest: a new lowest always is, so what this keeps as the epochs come is what the
        rule picks from all of them at the end (the last epoch within the noise).
        """
        if record.val_error is None:  # regression: the lowest loss
            return rank(record) <= self.lowest
        return record.val_error <= self.lowest[0] + self.tolerance

    @property
    def tolerance(self) -> float:
        """How far above the lowest validation error an epoch may be and still be kept."""
        return noise(self.lowest[0], self.val_count)

    @property
    def should_stop(self) -> bool:
        """Whether early stopping says enough."""
        return bool(self.patience) and self.stale_epochs >= self.patience

    @property
    def epoch(self) -> int:
        """The last epoch recorded (0 before the first)."""
        return self.records[-1].epoch if self.records else 0

    def kept(self) -> dict[str, Any]:
        """What the summary says of the epoch kept: ``best_epoch``, its validation error
        (classes) or loss, and ``best_reason``, in words."""
        record = next(r for r in self.records if r.epoch == self.kept_epoch)
        if record.val_error is None:
            return {"best_epoch": record.epoch, "best_val_loss": record.val_loss,
                    "best_reason": "the lowest validation loss"}
        lowest = min(self.records, key=rank)
        if record.val_error > self.lowest[0] + self.tolerance:  # resumed from an older release
            reason = "the lowest validation error (the rule of the release that began the run)"
        elif record.epoch == lowest.epoch == self.epoch:
            reason = "the lowest validation error, in the last epoch"
        elif record.epoch == lowest.epoch:
            reason = (f"the lowest validation error; no later epoch came within one standard "
                      f"error ({_points(self.tolerance)}) of it")
        else:
            reason = (f"the last epoch within one standard error ({_points(self.tolerance)}) "
                      f"of the lowest validation error ({_percent(lowest.val_error)}, epoch "
                      f"{lowest.epoch})")
        return {"best_epoch": record.epoch, "best_val_error": record.val_error,
                "best_reason": reason}

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, to continue exactly (see :meth:`restore`)."""
        return {"best_val_error": self.lowest[0], "best_val_loss": self.lowest[1],
                "best_epoch": self.kept_epoch, "stale_epochs": self.stale_epochs}

    @classmethod
    def restore(cls, state: dict[str, Any], records: list[EpochRecord], patience: int,
                val_count: int) -> Progress:
        """The progress a checkpoint's :meth:`state` and the run's records describe.

        A checkpoint written before ``best_epoch`` was recorded kept the lowest validation
        error's epoch in ``best.pt``; that is the epoch kept until a later one is.
        """
        kept = state.get("best_epoch")
        if kept is None:
            kept = min(records, key=rank).epoch if records else 0
        return cls(patience, val_count, list(records),
                   (state["best_val_error"], state["best_val_loss"]), kept,
                   state["stale_epochs"])


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2f} %"


def _points(fraction: float) -> str:
    return f"{100 * fraction:.2f} points"


def format_epoch(record: EpochRecord, epochs: int, *, regression: bool = False,
                 timed: bool = True) -> str:
    """The one log line of an epoch, for image and table runs alike.

    Args:
        record: the epoch.
        epochs: how many the run has (the epoch number is padded to its width).
        regression: the loss is a mean squared error, shown with its root (in the
            target's units); otherwise a loss, with the error rate when it was measured.
        timed: add the epoch's seconds and images a second (image runs: a table's epoch
            takes milliseconds, and its rows are not images).
    """
    width = len(str(epochs))
    parts = [f"epoch {record.epoch:>{width}}/{epochs}",
             f"train {_loss(record.train_loss, record.train_error, regression)}",
             f"val {_loss(record.val_loss, record.val_error, regression)}",
             f"lr {record.lr:.2e}"]
    if timed:
        parts.append(f"{record.seconds:5.1f}s  {record.images_per_second:,.0f} img/s")
    return "  ".join(parts)


def _loss(loss: float, error: float | None, regression: bool) -> str:
    """``loss 0.1234 error  5.00%``, or for regression ``MSE 12.3 (RMSE 3.51)``."""
    if regression:
        return f"MSE {loss:,.1f} (RMSE {loss ** 0.5:,.2f})"
    return f"loss {loss:.4f}" + ("" if error is None else f" error {100 * error:5.2f}%")
