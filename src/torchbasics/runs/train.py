"""``train``: the one place a training run is sent to the trainer for its kind of data."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torchbasics.data.registry import get_dataset
from torchbasics.runs.config import TrainConfig

if TYPE_CHECKING:
    from torchbasics.training.loop import EpochRecord

    EpochHook = Callable[[EpochRecord], bool]  # after each recorded epoch; True stops the run


def train(config: TrainConfig, out: str | os.PathLike, *, force: bool = False,
          resume: bool = False, progress: bool = False, log: Callable[[str], None] = print,
          started: float | None = None, allow_short_budget: bool = False,
          on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Train ``config.model`` on ``config.dataset``, writing the run directory ``out``.

    An image data set trains a classifier (:func:`~torchbasics.runs.images.train_images`:
    resumable, DDP under torchrun), a table a regression or classification model
    (:func:`~torchbasics.runs.tables.train_table`). Every setting is checked
    before anything is read or written; an existing run in ``out`` is refused unless
    ``force`` (or ``resume``, to continue it). A time budget counts from ``started`` (a
    ``time.perf_counter()`` value; default: now), and one too short for a useful run is
    refused unless ``allow_short_budget``. ``on_epoch`` sees every epoch's record once the
    run has recorded it (``tune`` reports it to its study); when it returns True the run stops
    there and finishes as an early-stopped run does, every file written.

    Returns:
        The run summary (also in ``out/summary.json``).
    """
    if get_dataset(config.dataset or TrainConfig.default_dataset()).kind == "tabular":
        from torchbasics.runs.tables import train_table

        return train_table(config, out, force=force, resume=resume, progress=progress, log=log,
                           on_epoch=on_epoch)
    from torchbasics.runs.images import train_images

    return train_images(config, out, force=force, resume=resume, progress=progress, log=log,
                        started=started, allow_short_budget=allow_short_budget,
                        on_epoch=on_epoch)
