"""A split of an image data set: what every split answers (:class:`ImageSplit`), the one
held in memory (:class:`ImageData`), and loading one from IDX files.

A split read from disk as it is needed (``memmap.MappedImageData``) answers the same
questions, so training, evaluation and explanation never ask which one they hold.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from torchbasics.data.idx import read_idx
from torchbasics.errors import TorchbasicsError

if TYPE_CHECKING:
    from torchbasics.data.loaders import BatchSampler

Indices = torch.Tensor | np.ndarray | list[int]


class ImageSplit(ABC):
    """One split of an image data set, wherever its pixels are (in memory or on disk).

    Attributes:
        labels: ``(N,)`` int64 class indices.
        class_names: one name per class, in label order.
        mean, std: per-channel statistics on [0, 1] used to normalize (the data set's own).
        source: where it came from, for messages and reports.
    """

    labels: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    @abstractmethod
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""

    @property
    def num_classes(self) -> int:
        """How many classes the labels index into."""
        return len(self.class_names)

    def class_counts(self) -> list[int]:
        """How many images each class has, in label order."""
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    @abstractmethod
    def take(self, indices: Indices) -> torch.Tensor:
        """The images at ``indices`` (in that order), ``(B, C, H, W)`` uint8."""

    @abstractmethod
    def subset(self, indices: Indices, label: str = "") -> ImageSplit:
        """The images at ``indices`` (in that order) as a split of the same kind; ``label``
        is added to its source."""

    @abstractmethod
    def batches(self, **options: Any) -> BatchSampler:
        """A loader of ``(images, labels)`` batches of this split; ``options`` as every
        loader takes them (see :class:`~torchbasics.data.loaders.BatchSampler`)."""

    def _checked(self, indices: Indices) -> np.ndarray:
        """``indices`` as int64, refused unless each is in ``0..len - 1``."""
        index = np.asarray(indices, dtype=np.int64)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(self)):
            raise TorchbasicsError(
                f"index out of range 0..{len(self) - 1}", where=self.source or None
            )
        return index

    def _labelled(self, label: str) -> str:
        """The source of a subset called ``label``."""
        return f"{self.source} [{label}]" if label else self.source


@dataclass(frozen=True)
class ImageData(ImageSplit):
    """Images and labels of one split, in memory as compact uint8 tensors.

    Attributes:
        images: ``(N, C, H, W)`` uint8 pixels, 0 to 255.
        labels, class_names, mean, std, source: as every :class:`ImageSplit` has them.
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

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, indices: Indices, label: str = "") -> ImageData:
        """The images at ``indices`` (in that order), as a new ImageData."""
        index = torch.from_numpy(self._checked(indices))
        return replace(self, images=self.images[index], labels=self.labels[index],
                       source=self._labelled(label))

    def take(self, indices: Indices) -> torch.Tensor:
        """The images at ``indices``, ``(B, C, H, W)`` uint8 (as a split on disk gives them)."""
        return self.images[torch.as_tensor(np.asarray(indices), dtype=torch.long)]

    def batches(self, **options: Any) -> BatchSampler:
        """The fast loader: the whole split on the device, each batch one gather."""
        from torchbasics.data.loaders import TensorBatchLoader  # it imports this module

        return TensorBatchLoader(self, **options)


def check_images(dtype: np.dtype, shape: tuple[int, ...], where: str | os.PathLike) -> None:
    """Refuse an images file whose values are not uint8 ``(N, H, W)`` or ``(N, H, W, C)``."""
    if dtype != np.uint8 or len(shape) not in (3, 4):
        raise TorchbasicsError(
            f"expected uint8 images of shape (N, H, W), found {dtype} {shape}",
            where=where, fix="is this an images file (idx3)?",
        )


def check_labels(labels: np.ndarray, count: int, num_classes: int, where: str | os.PathLike,
                 images_path: str | os.PathLike) -> np.ndarray:
    """``labels`` if they are ``count`` integers in ``0..num_classes - 1``, one for each
    image of ``images_path``; else the error that names the labels file ``where``."""
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise TorchbasicsError(
            f"expected integer labels of shape (N,), found {labels.dtype} {labels.shape}",
            where=where, fix="is this a labels file (idx1)?",
        )
    if len(labels) != count:
        raise TorchbasicsError(
            f"{len(labels)} labels for {count} images in {Path(images_path).name}",
            where=where, fix="the two files must come from the same split and release",
        )
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        raise TorchbasicsError(
            f"label {int(labels[bad[0]])} at index {int(bad[0])} is outside "
            f"0..{num_classes - 1}",
            where=where, fix="the labels file is corrupt or belongs to another data set",
        )
    return labels


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
    check_images(images.dtype, images.shape, images_path)
    labels = check_labels(read_idx(labels_path), len(images), len(class_names), labels_path,
                          images_path)
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
