"""Checkpoints that describe themselves: enough to evaluate or predict with no other flags.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads
with ``torch.load(weights_only=True)``, which refuses (and never runs) arbitrary pickled
code. Every checkpoint holds:

    format, format_version   "torchbasics-checkpoint", FORMAT_VERSION
    kind                     "classifier" (pictures), "table" (rows of a table), or
                             "regressor" (rows of the bonus table, before 0.3.0)
    model, model_settings    the registered model and its settings
    input_shape              (C, H, W) of an image, or (F,) model inputs
    dataset                  the data set it learned from (a name, or a path)
    model_state              the weights
    config, versions         the training settings; torchbasics, torch and Python versions

a classifier also ``class_names``, ``input`` (its :class:`ModelInput` settings: mean, std,
deskew), ``mirror_average`` and, from 0.3.0, ``picture`` (how a picture is brought to the
input shape: ``{"pipeline": "digits" | "fit" | "photo", "resize": "pad" | "crop" |
"squash"}``; earlier checkpoints take it from their registered data set); a table model
``schema`` (:class:`~torchbasics.tabular.schema.TableSchema`: the columns, their
statistics and categories, the target and its task or classes); a regressor of before
0.3.0 ``features`` and ``target`` (its columns) and ``scaler`` (the training rows' mean and
std), read as a schema. ``last.pt`` adds what resuming needs (see
:mod:`torchbasics.runs.images`). CHANGELOG.md says from which version on a format stays
readable.
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
from torchbasics.data.decode import RESIZE
from torchbasics.data.transforms import ModelInput
from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write
from torchbasics.models import create_model
from torchbasics.models.mirror import MirrorAveraged

FORMAT = "torchbasics-checkpoint"
PIPELINES = ("digits", "fit", "photo")  # how predict prepares a picture (inference.preprocess)
FORMAT_VERSION = 3
CLASSIFIER, TABLE, REGRESSOR = "classifier", "table", "regressor"

# What every checkpoint holds, and each kind besides: field -> type.
FIELDS: dict[str, type | tuple[type, ...]] = {
    "kind": str, "model": str, "model_settings": dict, "input_shape": list, "dataset": str,
    "model_state": dict, "config": dict, "versions": dict,
}
KIND_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    CLASSIFIER: {"class_names": list, "input": dict, "mirror_average": bool},
    TABLE: {"schema": dict},
    REGRESSOR: {"features": list, "target": dict, "scaler": dict},
}


def library_versions() -> dict[str, str]:
    """Versions that affect results, recorded with every run."""
    return {
        "torchbasics": __version__,
        "torch": str(torch.__version__),  # a TorchVersion, which weights_only refuses
        "python": platform.python_version(),
    }


def describe(kind: str, model: str, model_settings: dict[str, Any], *,
             input_shape: tuple[int, ...], dataset: str, config: dict[str, Any],
             **facts: Any) -> dict[str, Any]:
    """The part of a checkpoint that says what the model is and what data it expects.

    Args:
        kind: ``"classifier"`` or ``"table"``.
        facts: the kind's own fields (see the module docstring), e.g. ``class_names``,
            ``input`` (``ModelInput.settings()``) and ``mirror_average`` for a classifier.
    """
    missing = set(KIND_FIELDS[kind]) - set(facts)
    if missing:
        raise ValueError(f"a {kind} checkpoint needs {sorted(missing)}")
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "model": model,
            "model_settings": dict(model_settings), "input_shape": list(input_shape),
            "dataset": dataset, "config": config, "versions": library_versions(), **facts}


def build_model(description: dict[str, Any]) -> nn.Module:
    """The model a checkpoint (or its :func:`describe` part) describes, with fresh weights.

    The one place a model is made from a description, for training and every later use:
    a classifier trained to average over mirror images comes wrapped in
    :class:`~torchbasics.models.mirror.MirrorAveraged`, so validation, evaluation,
    prediction and export all predict alike.
    """
    outputs = outputs_of(description)
    settings = dict(description["model_settings"])
    if description["model"] == "cnn" and "channels" in settings:  # its name before 0.3.0
        settings["filters"] = settings.pop("channels")
    model = create_model(description["model"], tuple(description["input_shape"]), outputs,
                         **settings)
    if description["kind"] == CLASSIFIER and description["mirror_average"]:
        model = MirrorAveraged(model)
    return model


def outputs_of(description: dict[str, Any]) -> int:
    """How many outputs the described model has: one per class, or 1 for regression."""
    if description["kind"] == CLASSIFIER:
        return len(description["class_names"])
    if description["kind"] == TABLE:
        target = description["schema"]["target"]
        return len(target["classes"]) if target["task"] == "classification" else 1
    return 1  # a regressor of before 0.3.0 predicts its one target column


def model_input(checkpoint: dict[str, Any]) -> ModelInput:
    """A classifier's input step (deskewing, normalization) as it was trained."""
    return ModelInput(**checkpoint["input"])


def model_from_checkpoint(checkpoint: dict[str, Any], where: str = "") -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights (eval mode).

    Raises:
        TorchbasicsError: the weights are not those the description promises (another
            model, input shape or class count), naming the mismatch.
    """
    model = build_model(checkpoint)
    check_weights_fit(model, checkpoint, where)
    model.load_state_dict(checkpoint["model_state"])
    return model.eval()


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
    if checkpoint.get("format_version") != FORMAT_VERSION:
        raise TorchbasicsError(
            f"written in checkpoint format {checkpoint.get('format_version')}, and this "
            f"torchbasics {__version__} reads format {FORMAT_VERSION}", where=path,
            fix="train the model again with this version (formats before 0.2.0 were not kept)",
        )
    check_fields(checkpoint, path)
    return checkpoint


def check_fields(checkpoint: dict[str, Any], where: str | os.PathLike) -> None:
    """Refuse a checkpoint whose describing fields are missing or of the wrong type."""
    kind = checkpoint.get("kind")
    if kind not in KIND_FIELDS:
        raise TorchbasicsError(f"damaged checkpoint: unknown kind {kind!r}", where=where,
                               fix="use a checkpoint written by `torchbasics train`")
    for name, expected in (FIELDS | KIND_FIELDS[kind]).items():
        if not isinstance(checkpoint.get(name), expected):
            raise TorchbasicsError(
                f"damaged checkpoint: '{name}' is missing or not a {_type_name(expected)}",
                where=where, fix="use a checkpoint written by `torchbasics train`",
            )
    shape = checkpoint["input_shape"]
    if not shape or not all(isinstance(size, int) and size > 0 for size in shape):
        raise TorchbasicsError(f"damaged checkpoint: input shape {shape} is not a list of "
                               "positive sizes", where=where)
    if not all(isinstance(value, torch.Tensor) for value in checkpoint["model_state"].values()):
        raise TorchbasicsError("damaged checkpoint: 'model_state' holds non-tensors",
                               where=where)
    picture = checkpoint.get("picture")
    if picture is not None and not (isinstance(picture, dict)
                                    and picture.get("pipeline") in PIPELINES
                                    and picture.get("resize", "pad") in RESIZE):
        raise TorchbasicsError(f"damaged checkpoint: unknown picture preparation {picture!r}",
                               where=where, fix="use a checkpoint written by `torchbasics train`")
    statistics = checkpoint.get("input") or checkpoint.get("scaler")
    if statistics is not None and not _statistics_fit(statistics):
        raise TorchbasicsError("damaged checkpoint: its mean and std are not one positive std "
                               "per mean", where=where)


def _statistics_fit(values: dict[str, Any]) -> bool:
    """Whether ``{"mean": [...], "std": [...]}`` holds equally many numbers, std positive."""
    mean, std = values.get("mean"), values.get("std")
    numbers = (int, float)
    return (isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) > 0
            and all(isinstance(m, numbers) for m in mean)
            and all(isinstance(s, numbers) and s > 0 for s in std)
            and isinstance(values.get("deskew", False), bool))


def check_weights_fit(model: nn.Module, checkpoint: dict[str, Any], where: str = "") -> None:
    """Refuse weights that do not fit ``model``, built from the checkpoint's description.

    The last entry of a state dict is the output layer's (bias or weight), whose first
    size is the number of outputs: a difference there is a class count mismatch; any other
    is another model, input shape or model setting.
    """
    expected, found = model.state_dict(), checkpoint["model_state"]
    name, shape = checkpoint["model"], tuple(checkpoint["input_shape"])
    count = outputs_of(checkpoint)
    outputs = (f"{count} classes" if checkpoint["kind"] == CLASSIFIER
               else f"{count} output{'s' * (count != 1)}")
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
            f"{outputs}", where=where or None, fix=fix,
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
