"""A split of an image data set held in memory, and loading one from IDX files."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from torchbasics.data.idx import read_idx
from torchbasics.errors import TorchbasicsError


@dataclass(frozen=True)
class ImageData:
    """Images and labels of one split, as compact uint8 tensors.

    Attributes:
        images: ``(N, C, H, W)`` uint8 pixels, 0 to 255.
        labels: ``(N,)`` int64 class indices.
        class_names: one name per class, in label order.
        mean, std: per-channel statistics on [0, 1] used to normalize (the data set's own).
        source: where it came from, for messages and reports.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = ""

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W) uint8, got {tuple(self.images.shape)} "
                             f"{self.images.dtype}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{len(self.images)} images but labels of shape "
                             f"{tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        """How many classes the labels index into."""
        return len(self.class_names)

    def subset(self, indices: torch.Tensor | np.ndarray | list[int], label: str = "") -> ImageData:
        """The images at ``indices`` (in that order), as a new ImageData."""
        index = torch.as_tensor(indices, dtype=torch.long)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(self)):
            raise TorchbasicsError(
                f"index out of range 0..{len(self) - 1}", where=self.source or None
            )
        source = f"{self.source} [{label}]" if label else self.source
        return replace(self, images=self.images[index], labels=self.labels[index], source=source)

    def class_counts(self) -> list[int]:
        """How many images each class has, in label order."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def take(self, indices: torch.Tensor | np.ndarray | list[int]) -> torch.Tensor:
        """The images at ``indices``, ``(B, C, H, W)`` uint8 (as a split on disk gives them)."""
        return self.images[torch.as_tensor(np.asarray(indices), dtype=torch.long)]


def load_idx_pair(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    *,
    class_names: tuple[str, ...],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    source: str = "",
) -> ImageData:
    """Read an images file and a labels file and check that they belong together.

    Images must be uint8 ``(N, H, W)`` (grayscale) or ``(N, H, W, C)``; labels uint8 or
    int ``(N,)`` with every value a valid class index.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise TorchbasicsError(
            f"expected uint8 images of shape (N, H, W), found {images.dtype} {images.shape}",
            where=images_path, fix="is this an images file (idx3)?",
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise TorchbasicsError(
            f"expected integer labels of shape (N,), found {labels.dtype} {labels.shape}",
            where=labels_path, fix="is this a labels file (idx1)?",
        )
    if len(images) != len(labels):
        raise TorchbasicsError(
            f"{len(labels)} labels for {len(images)} images in {images_path.name}",
            where=labels_path, fix="the two files must come from the same split and release",
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
        bad = int(np.flatnonzero((labels < 0) | (labels >= len(class_names)))[0])
        raise TorchbasicsError(
            f"label {int(labels[bad])} at index {bad} is outside 0..{len(class_names) - 1}",
            where=labels_path, fix="the labels file is corrupt or belongs to another data set",
        )
    pixels = torch.from_numpy(images.copy())
    pixels = pixels.unsqueeze(1) if pixels.ndim == 3 else pixels.permute(0, 3, 1, 2).contiguous()
    return ImageData(
        images=pixels,
        labels=torch.from_numpy(labels.astype(np.int64)),
        class_names=tuple(class_names),
        mean=tuple(mean),
        std=tuple(std),
        source=source or str(images_path),
    )
