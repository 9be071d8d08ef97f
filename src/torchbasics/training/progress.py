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
