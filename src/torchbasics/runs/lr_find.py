"""``lr-find`` and ``--lr auto``: the range test on a run's own data, model and optimizer.

The test (:mod:`torchbasics.training.lr_find`) trains a throwaway copy of what ``train``
would build (the same data, augmentation, model, initial weights, optimizer and weight
decay), so its suggestion is for exactly that run. ``lr-find`` writes the curve as
``lr_find.png`` and ``lr_find.json``; ``train --lr auto`` runs it first and trains with the
suggestion, writing the same two files into its run directory
(:mod:`torchbasics.runs.auto_lr`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from torchbasics.data.registry import get_dataset
from torchbasics.runs.auto_lr import write_curve
from torchbasics.runs.config import TrainConfig
from torchbasics.training.lr_find import STEPS, RangeTest


def lr_find(config: TrainConfig, out: str | os.PathLike | None = None, *,
            steps: int = STEPS, log: Callable[[str], None] = print) -> RangeTest:
    """Run the range test for ``config`` (its ``lr`` is not used); with ``out``, write
    ``out/lr_find.png`` and ``out/lr_find.json`` there.

    Returns:
        The rates tried, the smoothed losses and the suggested peak learning rate.
    """
    if get_dataset(config.dataset or TrainConfig.default_dataset()).kind == "tabular":
        from torchbasics.runs.tables import table_range_test

        found = table_range_test(config, steps=steps, log=log)
    else:
        from torchbasics.runs.images import image_range_test

        found = image_range_test(config, steps=steps, log=log)
    if out is not None:
        write_curve(Path(out), found)
    return found
