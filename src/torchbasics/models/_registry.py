"""The model registry: ``@register_model`` fills it, ``create_model(name, ...)`` builds from it.

Every model is built from the data's input shape and output count, so any image data set
works with any image model and any table with any table model; ``forward`` returns logits,
or the regression output (the loss belongs to the training step). Each entry says which
tasks (classification, regression) and inputs (images, table rows) it takes, and carries
its recipe: the training settings that reach its goals (data sets may adjust them, see
:class:`~torchbasics.data.registry.DatasetSpec`).

A model's own settings (``hidden``, ``width``, ...) are its builder's keyword arguments:
their defaults are the builder's, their ranges and help are :data:`MODEL_SETTINGS`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from torchbasics.errors import TorchbasicsError, lookup
from torchbasics.settings import SearchRange, Setting, flag_name

ModelBuilder = Callable[..., nn.Module]
TASKS = ("classification", "regression")
INPUTS = ("image", "table")  # pictures (C, H, W), or rows of features (F,)

# Every keyword a model builder may take, with its range and help.
MODEL_SETTINGS: dict[str, Setting] = {
    "hidden": Setting(int, "hidden units: of each of an MLP's hidden layers (several values, "
                      "several layers: --hidden 256 128), of convnet's fully connected layer",
                      low=1, group="model", many=True, metavar="N",
                      search=SearchRange(32, 1024, log=True, layers=(1, 3))),
    "width": Setting(int, "convnet's channels in its first block (2x and 4x in the next two)",
                     low=1, group="model", search=SearchRange(16, 64, log=True)),
    "filters": Setting(int, "cnn's convolution filters (its output channels)", low=1,
                       group="model", search=SearchRange(8, 64, log=True)),
    "dropout": Setting(float, "dropout probability", low=0, high=1, high_inclusive=False,
                       group="model", search=SearchRange(0.0, 0.5)),
}


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: how to build it, a one-line description, the tasks and inputs it
    takes, and its recipe."""

    name: str
    builder: ModelBuilder
    description: str
    tasks: tuple[str, ...] = ("classification",)  # regression: (B, 1) values, MSE
    inputs: tuple[str, ...] = ("image",)
    recipe: dict[str, Any] = field(default_factory=dict)  # TrainConfig field -> value
    several: tuple[str, ...] = ()  # its settings that take a list of values (MLP layers)

    def settings(self) -> dict[str, Any]:
        """The model settings its builder takes, with their defaults."""
        parameters = list(inspect.signature(self.builder).parameters.values())[2:]
        return {p.name: p.default for p in parameters}


_MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str, description: str, *, tasks: tuple[str, ...] = ("classification",),
    inputs: tuple[str, ...] = ("image",), recipe: dict[str, Any] | None = None,
    several: tuple[str, ...] = (),
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register ``builder(input_shape, num_classes, **settings) -> nn.Module`` as ``name``.

    For regression ``num_classes`` is the number of outputs (1). ``recipe`` holds the
    training settings (``TrainConfig`` fields) the model trains with unless told otherwise;
    ``several`` names the settings it takes a list of (e.g. an MLP's ``hidden`` sizes).
    """
    if not set(tasks) <= set(TASKS) or not set(inputs) <= set(INPUTS):
        raise ValueError(f"model '{name}': tasks must be among {TASKS}, inputs among {INPUTS}")

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model '{name}' is registered twice")
        entry = ModelEntry(name, builder, description, tuple(tasks), tuple(inputs),
                           dict(recipe or {}), tuple(several))
        unknown = set(entry.settings()) - set(MODEL_SETTINGS)
        if unknown:
            raise ValueError(f"model '{name}': settings {sorted(unknown)} are not in "
                             "MODEL_SETTINGS (declare their range and help there)")
        _MODELS[name] = entry
        return builder

    return decorate


def list_models(task: str | None = None, inputs: str | None = None) -> list[str]:
    """Names of the registered models, in registration order; only those for ``task`` and
    taking ``inputs`` (``"image"`` or ``"table"``), when given."""
    return [name for name, entry in _MODELS.items()
            if (task is None or task in entry.tasks) and (inputs is None or inputs in entry.inputs)]


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; a clear error naming the closest model otherwise."""
    return lookup(_MODELS, name, "model")


def check_model_settings(name: str, settings: dict[str, Any]) -> None:
    """Refuse settings the model ``name`` does not take, or values out of their range."""
    entry = get_model_entry(name)
    accepted = entry.settings()
    for key, value in settings.items():
        if key not in accepted:
            takes = ", ".join(flag_name(k) for k in accepted) or "no settings"
            raise TorchbasicsError(f"model '{name}' does not take this setting",
                                   where=flag_name(key), fix=f"'{name}' takes: {takes}")
        if isinstance(value, (list, tuple)) and key not in entry.several:
            raise TorchbasicsError(f"model '{name}' takes one value, got {len(value)}",
                                   where=flag_name(key), fix="give one value (several are for "
                                   "the MLPs' hidden layers)")
        MODEL_SETTINGS[key].check(flag_name(key), value)


def setting_defaults(key: str) -> dict[str, Any]:
    """Model name -> its default for the setting ``key``, for the models that take it."""
    return {name: entry.settings()[key] for name, entry in _MODELS.items()
            if key in entry.settings()}


def create_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, **settings: Any
) -> nn.Module:
    """Build the model ``name`` for inputs of ``input_shape`` and ``num_classes`` outputs.

    ``input_shape`` is ``(C, H, W)`` for images, ``(F,)`` for F tabular features.

    Args:
        settings: model-specific options (e.g. ``hidden=512`` for the MLPs); unknown ones
            and values out of range are refused (:func:`check_model_settings`).
    """
    check_model_settings(name, settings)
    return get_model_entry(name).builder(tuple(input_shape), num_classes, **settings)


def count_parameters(model: nn.Module) -> int:
    """How many trainable numbers the model has."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
