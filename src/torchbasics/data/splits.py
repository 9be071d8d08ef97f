"""Seeded splits of an image data set: validation carved from the training set (so the test
set stays untouched), stratified by class (:mod:`torchbasics.samples.splits`).
"""

from __future__ import annotations

from torchbasics.data.image_data import ImageData
from torchbasics.samples.splits import stratified_indices


def train_val_split(
    data: ImageData, fraction: float = 0.1, seed: int = 0
) -> tuple[ImageData, ImageData]:
    """Split a training set into (train, validation) with
    :func:`~torchbasics.samples.splits.stratified_indices`."""
    train, val = stratified_indices(data.labels.numpy(), fraction, seed,
                                    class_names=data.class_names)
    return data.subset(train, "train part"), data.subset(val, "validation part")
