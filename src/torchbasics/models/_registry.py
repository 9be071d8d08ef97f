"""The model registry: ``@register_model`` fills it, ``create_model(name, ...)`` builds from it.

Every model is built from the data set's image shape and class count, so any IDX data set
works with any model; ``forward`` returns logits (the loss belongs to the training step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from torchbasics.errors import TorchbasicsError, closest

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: how to build it, and a one-line description."""

    name: str
    builder: ModelBuilder
    description: str


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, description: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register ``builder(input_shape, num_classes, **settings) -> nn.Module`` as ``name``."""

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is registered twice")
        _MODELS[name] = ModelEntry(name, builder, description)
        return builder

    return decorate


def list_models() -> list[str]:
    """Names of every registered model, in registration order."""
    return list(_MODELS)


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
    """Build the model ``name`` for images of ``input_shape`` ``(C, H, W)`` and ``num_classes``.

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
