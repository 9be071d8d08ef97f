"""Open a trained run for prediction: find its checkpoint, rebuild what it describes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from torchbasics.errors import TorchbasicsError

if TYPE_CHECKING:
    from torchbasics.inference.predictor import Classifier
    from torchbasics.inference.table import TableModel


def find_checkpoint(run: str | os.PathLike) -> Path:
    """``run`` itself when it is a file; else the run directory's ``best.pt`` or ``last.pt``."""
    run = Path(run)
    if run.is_file():
        return run
    if not run.is_dir():
        raise TorchbasicsError("no such run directory or checkpoint", where=run,
                               fix="give a folder made by `torchbasics train`, or a .pt file")
    for name in ("best.pt", "last.pt"):
        if (run / name).is_file():
            return run / name
    raise TorchbasicsError("no best.pt or last.pt here", where=run,
                           fix="is this a run directory made by `torchbasics train`?")


def load(run: str | os.PathLike) -> Classifier | TableModel:
    """The trained model of a run directory (or checkpoint file), ready to predict.

    The one place that tells the kinds of model apart, by the checkpoint's kind: an image
    classifier comes back as a
    :class:`~torchbasics.inference.predictor.Classifier` (``.predict(picture)``), a table
    model as a :class:`~torchbasics.inference.table.Regressor` or
    :class:`~torchbasics.inference.table.TableClassifier` (``.predict_one({...})``,
    ``.predict_csv(path)``). Every command opens its run through
    :func:`torchbasics.runs.kinds.open_run`, which starts here.
    """
    from torchbasics.checkpoint import CLASSIFIER, load_checkpoint

    path = find_checkpoint(run)
    checkpoint = load_checkpoint(path)
    if checkpoint["kind"] == CLASSIFIER:
        from torchbasics.inference.predictor import Classifier

        return Classifier.from_checkpoint(checkpoint, str(path))
    from torchbasics.inference.table import TableModel

    return TableModel.from_checkpoint(checkpoint, str(path))
