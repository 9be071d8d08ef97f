"""The model registry: ``@register_model`` fills it, ``create_model(name, ...)`` builds from it.

Every model is built from the data's input shape and output count, so any IDX data set
works with any classification model; ``forward`` returns logits, or the regression output
(the loss belongs to the training step). Each entry says which task it is for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from torchbasics.errors import TorchbasicsError, closest

ModelBuilder = Callable[..., nn.Module]
TASKS = ("classification", "regression")


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: how to build it, a one-line description, and its task."""

    name: str
    builder: ModelBuilder
    description: str
    task: str = "classification"  # or "regression": (B, outputs) values, trained with MSE


_MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str, description: str, task: str = "classification"
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register ``builder(input_shape, num_classes, **settings) -> nn.Module`` as ``name``.

    For a regression model ``num_classes`` is the number of outputs.
    """
    if task not in TASKS:
        raise ValueError(f"model '{name}': task must be one of {TASKS}, not '{task}'")

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is registered twice")
        _MODELS[name] = ModelEntry(name, builder, description, task)
        return builder

    return decorate


def list_models(task: str | None = None) -> list[str]:
    """Names of the registered models (of ``task`` only, when given), in registration order."""
    return [name for name, entry in _MODELS.items() if task is None or entry.task == task]


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; a clear error naming the closest model otherwise."""
    try:
        return _MODELS[name]
    except KeyError:
        raise TorchbasicsError(
            f"unknown model '{name}'", fix=closest(name, list(_MODELS))
        ) from None


def create_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, **settings: Any
) -> nn.Module:
    """Build the model ``name`` for inputs of ``input_shape`` and ``num_classes`` outputs.

    ``input_shape`` is ``(C, H, W)`` for images, ``(F,)`` for F tabular features.

    Args:
        settings: model-specific options (e.g. ``hidden=512`` for the MLPs); unknown ones
            are refused rather than ignored.
    """
    entry = get_model_entry(name)
    try:
        return entry.builder(tuple(input_shape), num_classes, **settings)
    except TypeError as exc:
        raise TorchbasicsError(
            f"model '{name}' does not take these settings {sorted(settings)} ({exc})"
        ) from exc


def count_parameters(model: nn.Module) -> int:
    """How many trainable numbers the model has."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
