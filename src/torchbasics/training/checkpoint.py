"""Checkpoints that describe themselves: enough to evaluate or predict with no other flags.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads
with ``torch.load(weights_only=True)``, which refuses (and never runs) arbitrary pickled
code. It holds the model name and settings, input shape, class names, normalization, the
data set, the training config, library versions, and, for resuming, the optimizer and
scheduler states and the epoch.
"""

from __future__ import annotations

import io
import os
import pickle
import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchbasics import __version__
from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write
from torchbasics.models import create_model

FORMAT = "torchbasics-checkpoint"
FORMAT_VERSION = 1


def library_versions() -> dict[str, str]:
    """Versions that affect results, recorded with every run."""
    return {
        "torchbasics": __version__,
        "torch": str(torch.__version__),  # a TorchVersion, which weights_only refuses
        "python": platform.python_version(),
    }


def describe_model(
    model_name: str,
    model_settings: dict[str, Any],
    *,
    input_shape: tuple[int, ...],
    class_names: tuple[str, ...],
    dataset: str,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> dict[str, Any]:
    """The part of a checkpoint that says what the model is and what data it expects."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "model_settings": dict(model_settings),
        "input_shape": list(input_shape),
        "class_names": list(class_names),
        "dataset": dataset,
        "mean": list(mean),
        "std": list(std),
        "versions": library_versions(),
    }


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
    """Write a checkpoint atomically: a crash mid-write leaves the previous file intact."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with atomic_write(path) as handle:
        handle.write(buffer.getbuffer())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check that it is ours."""
    path = Path(path)
    if not path.is_file():
        raise TorchbasicsError("checkpoint not found", where=path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise TorchbasicsError(
            "refused: the file holds objects other than tensors and plain data, which could "
            "run code when loaded; nothing was executed",
            where=path, fix="only load checkpoints written by torchbasics",
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise TorchbasicsError(
            f"not a readable checkpoint ({str(exc).splitlines()[0]})", where=path,
            fix="the file is damaged or not a PyTorch checkpoint",
        ) from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise TorchbasicsError("not a torchbasics checkpoint", where=path,
                               fix="train one with `torchbasics train`")
    return checkpoint


def model_from_checkpoint(checkpoint: dict[str, Any], where: str = "") -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights (eval mode)."""
    model = create_model(
        checkpoint["model"], tuple(checkpoint["input_shape"]), len(checkpoint["class_names"]),
        **checkpoint["model_settings"],
    )
    try:
        model.load_state_dict(checkpoint["model_state"])
    except RuntimeError as exc:
        raise TorchbasicsError(
            f"the weights do not fit model '{checkpoint['model']}' "
            f"({str(exc).splitlines()[0]})", where=where or None,
        ) from exc
    return model.eval()
