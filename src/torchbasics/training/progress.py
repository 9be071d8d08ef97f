"""The epochs so far and the best of them: the bookkeeping at the end of every epoch.

Image and tabular training share it: which epoch is the best (for ``best.pt`` and the
summary), how many epochs have passed without a new best (for early stopping), and what a
checkpoint must remember of it so that a resumed run goes on exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torchbasics.training.loop import EpochRecord


def rank(record: EpochRecord) -> tuple[float, float]:
    """How good an epoch is, lower is better: (validation error, validation loss).

    With a small validation set equal error rates are common, and the loss then tells them
    apart; regression has no error, so its loss alone decides.
    """
    return (0.0 if record.val_error is None else record.val_error, record.val_loss)


@dataclass
class Progress:
    """The records of the epochs trained so far, the best rank, and early stopping.

    Args:
        patience: stop after this many epochs without a new best; 0 never stops.
    """

    patience: int = 0
    records: list[EpochRecord] = field(default_factory=list)
    best: tuple[float, float] = (math.inf, math.inf)
    stale_epochs: int = 0  # epochs since the best

    def add(self, record: EpochRecord) -> bool:
        """Record an epoch; True when it is the best so far."""
        self.records.append(record)
        improved = rank(record) < self.best
        self.best = min(self.best, rank(record))
        self.stale_epochs = 0 if improved else self.stale_epochs + 1
        return improved

    @property
    def should_stop(self) -> bool:
        """Whether early stopping says enough."""
        return bool(self.patience) and self.stale_epochs >= self.patience

    @property
    def epoch(self) -> int:
        """The last epoch recorded (0 before the first)."""
        return self.records[-1].epoch if self.records else 0

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, to continue exactly (see :meth:`restore`)."""
        return {"best_val_error": self.best[0], "best_val_loss": self.best[1],
                "stale_epochs": self.stale_epochs}

    @classmethod
    def restore(cls, state: dict[str, Any], records: list[EpochRecord],
                patience: int) -> Progress:
        """The progress a checkpoint's :meth:`state` and the run's records describe."""
        return cls(patience, list(records), (state["best_val_error"], state["best_val_loss"]),
                   state["stale_epochs"])


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
