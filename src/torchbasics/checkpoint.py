"""Checkpoints that describe themselves: enough to evaluate or predict with no other flags.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads
with ``torch.load(weights_only=True)``, which refuses (and never runs) arbitrary pickled
code. It holds the model name and settings, input shape, class names, normalization (and
whether images are deskewed first), whether predictions average over mirror images, the
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
from torchbasics.models.mirror import MirrorAveraged

FORMAT = "torchbasics-checkpoint"
FORMAT_VERSION = 2
# What a model name meant in checkpoints of an earlier format version, as the settings that
# rebuild it today: (version, model) -> settings. Version 1 is before 2026-11-22, when
# convnet ended in global average pooling instead of a hidden fully connected layer.
EARLIER_MODEL_SETTINGS: dict[tuple[int, str], dict[str, Any]] = {
    (1, "convnet"): {"head": "average"},
}


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
    deskew: bool = False,
    mirror_average: bool = False,
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
        "deskew": bool(deskew),
        "mirror_average": bool(mirror_average),
        "versions": library_versions(),
    }


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
    """Write a checkpoint atomically: a crash mid-write leaves the previous file intact."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    with atomic_write(path) as handle:
        handle.write(buffer.getbuffer())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check that it is ours.

    Raises:
        TorchbasicsError: missing, damaged, carrying pickled code (refused unexecuted),
            not a torchbasics checkpoint, or missing the fields that describe its model.
    """
    path = Path(path)
    if not path.is_file():
        raise TorchbasicsError("checkpoint not found", where=path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # The weights-only unpickler names the global (class or function) it refused to
        # look up; any other unpickling failure is plain damage.
        if "global" in str(exc).lower():
            raise TorchbasicsError(
                "refused: the file holds objects other than tensors and plain data, which "
                "could run code when loaded; nothing was executed",
                where=path, fix="only load checkpoints written by torchbasics",
            ) from exc
        raise TorchbasicsError("not a readable checkpoint (its data does not unpickle)",
                               where=path, fix="the file is damaged or not a PyTorch checkpoint",
                               ) from exc
    except Exception as exc:  # a damaged file can fail anywhere in the unpickler
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TorchbasicsError(
            f"not a readable checkpoint ({first_line})", where=path,
            fix="the file is damaged or not a PyTorch checkpoint",
        ) from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise TorchbasicsError("not a torchbasics checkpoint", where=path,
                               fix="train one with `torchbasics train`")
    check_fields(checkpoint, path)
    return checkpoint


# What every checkpoint holds, and a regression checkpoint besides: field -> type.
FIELDS: dict[str, type | tuple[type, ...]] = {
    "model": str, "model_settings": dict, "input_shape": list, "class_names": list,
    "dataset": str, "mean": list, "std": list, "model_state": dict,
}
# Fields later versions added: field -> (type, what checkpoints without it meant).
OPTIONAL_FIELDS: dict[str, tuple[type, Any]] = {
    "deskew": (bool, False), "mirror_average": (bool, False),
}
REGRESSION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "outputs": int, "features": list, "target": dict,
}


def is_regression(checkpoint: dict[str, Any]) -> bool:
    """Whether the checkpoint holds a regression model (the bonus predictor), not a classifier."""
    return checkpoint.get("kind") == "regression"


def deskews(checkpoint: dict[str, Any]) -> bool:
    """Whether the model was trained on deskewed images, so its input must be deskewed too."""
    return checkpoint.get("deskew", OPTIONAL_FIELDS["deskew"][1])


def mirror_averages(checkpoint: dict[str, Any]) -> bool:
    """Whether the model predicts from the mean logits of each image and its mirror image."""
    return checkpoint.get("mirror_average", OPTIONAL_FIELDS["mirror_average"][1])


def model_settings(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The settings that rebuild the checkpoint's model: its own, over those its version implied."""
    version = checkpoint.get("format_version", 1)
    return EARLIER_MODEL_SETTINGS.get((version, checkpoint["model"]), {}) | checkpoint[
        "model_settings"]


def check_fields(checkpoint: dict[str, Any], where: str | os.PathLike) -> None:
    """Refuse a checkpoint whose describing fields are missing or of the wrong type."""
    fields = FIELDS | (REGRESSION_FIELDS if is_regression(checkpoint) else {})
    optional = {name: kind for name, (kind, _) in OPTIONAL_FIELDS.items() if name in checkpoint}
    for name, kind in (fields | optional).items():
        if not isinstance(checkpoint.get(name), kind):
            raise TorchbasicsError(
                f"damaged checkpoint: '{name}' is missing or not a {_type_name(kind)}",
                where=where, fix="use a checkpoint written by `torchbasics train`",
            )
    shape = checkpoint["input_shape"]
    if not shape or not all(isinstance(size, int) and size > 0 for size in shape):
        raise TorchbasicsError(f"damaged checkpoint: input shape {shape} is not a list of "
                               "positive sizes", where=where)
    if not all(isinstance(value, torch.Tensor) for value in checkpoint["model_state"].values()):
        raise TorchbasicsError("damaged checkpoint: 'model_state' holds non-tensors",
                               where=where)


def model_from_checkpoint(checkpoint: dict[str, Any], where: str = "") -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights (eval mode).

    A model trained for mirror averaging comes wrapped in
    :class:`~torchbasics.models.mirror.MirrorAveraged`, so that every use of it (evaluation,
    prediction, export) predicts as its validation did.

    Raises:
        TorchbasicsError: the weights are not those the description promises (another
            model, input shape or class count), naming the mismatch.
    """
    model = create_model(
        checkpoint["model"], tuple(checkpoint["input_shape"]), len(checkpoint["class_names"]),
        **model_settings(checkpoint),
    )
    check_weights_fit(model, checkpoint, where)
    model.load_state_dict(checkpoint["model_state"])
    return (MirrorAveraged(model) if mirror_averages(checkpoint) else model).eval()


def check_weights_fit(model: nn.Module, checkpoint: dict[str, Any], where: str = "") -> None:
    """Refuse weights that do not fit ``model``, built from the checkpoint's description.

    The last entry of a state dict is the output layer's (bias or weight), whose first
    size is the number of outputs: a difference there is a class count mismatch; any other
    is another model, input shape or model setting.
    """
    expected, found = model.state_dict(), checkpoint["model_state"]
    name, shape = checkpoint["model"], tuple(checkpoint["input_shape"])
    classes = len(checkpoint["class_names"])
    fix = "the checkpoint's description and weights disagree; use the files a run wrote"
    missing = [key for key in expected if key not in found]
    unexpected = [key for key in found if key not in expected]
    if missing or unexpected:
        raise TorchbasicsError(
            f"the weights are not those of model '{name}' (missing {_few(missing)}; "
            f"unexpected {_few(unexpected)})", where=where or None, fix=fix,
        )
    output = list(expected)[-1]
    if found[output].ndim and found[output].shape[0] != expected[output].shape[0]:
        raise TorchbasicsError(
            f"the weights have {found[output].shape[0]} outputs, but the checkpoint names "
            f"{classes} classes", where=where or None, fix=fix,
        )
    for key, tensor in expected.items():
        if found[key].shape != tensor.shape:
            raise TorchbasicsError(
                f"the weights are not for input shape {shape} of model '{name}': '{key}' has "
                f"shape {tuple(found[key].shape)}, the model needs {tuple(tensor.shape)}",
                where=where or None, fix=fix,
            )


def _few(keys: list[str]) -> str:
    """Up to three names, for a message."""
    if not keys:
        return "none"
    return ", ".join(f"'{key}'" for key in keys[:3]) + (f" and {len(keys) - 3} more"
                                                        if len(keys) > 3 else "")


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
