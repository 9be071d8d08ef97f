"""Evaluate a trained run, whatever its model: pictures on their test split or a list file,
a table's test rows or another CSV (the work is the run's kind's: :mod:`.trained`)."""

from __future__ import annotations

import os
from typing import Any

from torchbasics.runs.kinds import open_run
from torchbasics.runs.trained import EvaluateRequest


def evaluate_run(
    run: str | os.PathLike,
    *,
    split: str = "test",
    list_path: str | os.PathLike | None = None,
    csv: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    checkpoint_name: str | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Evaluate a run's checkpoint and write its figures and ``evaluation.json``.

    Args:
        run: a run directory, or a checkpoint file in one.
        split: ``"test"`` or ``"train"`` (image data sets).
        list_path: evaluate on the pictures this list file names instead.
        csv: a table run: evaluate on every row of this CSV instead of the test rows.
        data_dir: searched first for a registered data set.
        checkpoint_name: ``"best.pt"`` or ``"last.pt"``; ``None``: ``best.pt`` if the run
            has one, else ``last.pt``.
        device: where the model runs (in fp32, as ``predict`` and exported files run it).

    Returns:
        What was evaluated, how many, and the metrics of the model's task: error, accuracy
            and a per-class report for classes; MSE, RMSE, MAE and R² for a number.
    """
    trained = open_run(run, checkpoint_name)
    return trained.evaluate(EvaluateRequest(split=split, list_path=list_path, csv=csv,
                                            data_dir=data_dir, device=device))
