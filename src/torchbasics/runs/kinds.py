"""Open a trained run: the one place that picks the :class:`~.trained.TrainedRun` for the
kind of model a checkpoint holds."""

from __future__ import annotations

import os
from pathlib import Path

from torchbasics.errors import TorchbasicsError, closest
from torchbasics.runs.trained import TrainedRun
from torchbasics.runs.trained_images import TrainedImages
from torchbasics.runs.trained_table import TrainedTable

KINDS: dict[str, type[TrainedRun]] = {kind.kind: kind for kind in (TrainedImages, TrainedTable)}
CHECKPOINTS = ("best", "last")


def open_run(run: str | os.PathLike, checkpoint: str | None = None) -> TrainedRun:
    """The trained model of ``run``, a run directory or a checkpoint file.

    Args:
        run: a folder made by ``torchbasics train``, or a ``.pt`` file.
        checkpoint: ``"best"`` or ``"last"`` (``.pt`` may follow) in a run directory;
            ``None``: its ``best.pt``, else ``last.pt``. A checkpoint file names itself.

    Raises:
        TorchbasicsError: no such run or checkpoint, or not a torchbasics checkpoint.
    """
    from torchbasics.inference.loading import find_checkpoint, load

    path = checkpoint_path(Path(run), checkpoint) if checkpoint else find_checkpoint(run)
    model = load(path)
    return KINDS[model.kind](model, path)


def checkpoint_path(run: Path, name: str) -> Path:
    """``run/name.pt`` for a run directory, checked to exist; a file given as ``run`` must
    be that checkpoint."""
    stem = name.removesuffix(".pt")
    if stem not in CHECKPOINTS:
        raise TorchbasicsError(f"no checkpoint called '{name}'", where="--checkpoint",
                               fix=closest(stem, list(CHECKPOINTS)))
    if run.is_file():
        if run.stem != stem and run.suffix == ".pt":
            raise TorchbasicsError(f"a checkpoint file and --checkpoint {stem} do not go "
                                   "together", where=run, fix="give the run directory with "
                                   "--checkpoint, or the file alone")
        return run
    path = run / f"{stem}.pt"
    if not path.is_file():
        if not run.is_dir():
            raise TorchbasicsError("no such run directory or checkpoint", where=run,
                                   fix="give a folder made by `torchbasics train`, or a .pt "
                                   "file")
        others = [p.name for p in sorted(run.glob("*.pt"))]
        raise TorchbasicsError("checkpoint not found", where=path,
                               fix=f"this run has {', '.join(others)}" if others else
                               "is this a run directory made by `torchbasics train`?")
    return path
