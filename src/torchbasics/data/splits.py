"""Validation splits: carved from the training set, so the test set stays untouched."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from torchbasics.data.image_data import ImageData
from torchbasics.errors import TorchbasicsError


def stratified_indices(
    labels: torch.Tensor | np.ndarray, fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation indices with every class in the same proportion in both.

    Returns:
        ``(train_indices, val_indices)``, each sorted.
    """
    if not 0 < fraction < 1:
        raise TorchbasicsError(
            f"validation fraction must be between 0 and 1, got {fraction}",
            where="--val-fraction", fix="use e.g. 0.1 for 10 %",
        )
    labels = np.asarray(labels)
    try:
        train, val = train_test_split(
            np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed
        )
    except ValueError as exc:  # too few images of some class for a stratified split
        raise TorchbasicsError(
            f"cannot split {len(labels)} images stratified with {fraction:.0%} held out: {exc}",
            where="--val-fraction", fix="use more data or a larger fraction",
        ) from exc
    return np.sort(train), np.sort(val)


def train_val_split(
    data: ImageData, fraction: float = 0.1, seed: int = 0
) -> tuple[ImageData, ImageData]:
    """Split a training set into (train, validation) with :func:`stratified_indices`."""
    train, val = stratified_indices(data.labels.numpy(), fraction, seed)
    return data.subset(train, "train part"), data.subset(val, "validation part")
