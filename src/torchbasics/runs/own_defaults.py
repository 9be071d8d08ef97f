"""Defaults fitted to the user's own pictures: what was chosen for them, and why.

A recipe's epochs were chosen for its data set: the convnet's 15 epochs are 6,300 steps on
MNIST's 54,000 images, but a few dozen on a folder of a few hundred pictures, too few to
train. A run on the user's own pictures with no length given trains at least
:data:`MIN_STEPS` steps (more epochs; the schedule's warm-up, a share of the steps, grows
with them). The model chosen when none is named is the data set's (``data/own.py``).
"""

from __future__ import annotations

import dataclasses
import math

from torchbasics.data.registry import get_dataset
from torchbasics.runs.config import TrainConfig
from torchbasics.samples.batches import training_steps

MIN_STEPS = 500  # measured on folders of 300 to 1,500 photos: benchmarks/own_defaults.py


def sized_to_data(config: TrainConfig, train_images: int) -> tuple[TrainConfig, str | None]:
    """A resolved ``config`` of the user's own pictures with its epochs raised to at least
    :data:`MIN_STEPS` steps, and the line saying so (None: unchanged). Call it only when
    no length was given (:func:`~torchbasics.runs.config.lengths_given`)."""
    spec = get_dataset(config.dataset)
    if not spec.own or spec.kind != "image" or config.epochs is None:
        return config, None
    per_epoch = training_steps(train_images, config.batch_size)
    epochs = max(config.epochs, math.ceil(MIN_STEPS / per_epoch))
    if epochs == config.epochs:
        return config, None
    return dataclasses.replace(config, epochs=epochs), (
        f"{epochs} epochs of {per_epoch} steps: the recipe's {config.epochs} epochs are "
        f"{config.epochs * per_epoch} steps on {train_images:,} pictures; your own pictures "
        f"train at least {MIN_STEPS} steps (--epochs, --steps or --time-budget to choose)")


def model_note(given: TrainConfig, resolved: TrainConfig) -> str | None:
    """Why the model is the one trained, when the user named none and the data set says."""
    spec = get_dataset(resolved.dataset)
    if given.model is not None or not spec.default_model_why:
        return None
    return f"{resolved.model}: {spec.default_model_why}"
