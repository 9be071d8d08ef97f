"""The classic pipeline: a map-style ``Dataset`` of single images for ``DataLoader``.

This is the way PyTorch tutorials teach data loading, one sample per ``__getitem__``. It
is flexible (any per-sample transform, worker processes) but pays Python overhead per
image; :class:`torchbasics.data.loaders.TensorBatchLoader` is the fast path for data
that fits in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from torchbasics.data.image_data import ImageData
from torchbasics.data.transforms import Transform, standard_transform


class ImageDataset(Dataset):
    """``dataset[i]`` -> ``(transform(image), label)`` for an in-memory split.

    Args:
        data: the split.
        transform: applied to each ``(C, H, W)`` uint8 image; default: to float and
            normalize with the data set's mean/std.
        target_transform: applied to each integer label.
    """

    def __init__(
        self,
        data: ImageData,
        transform: Transform | None = None,
        target_transform: Callable[[int], object] | None = None,
    ):
        self.data = data
        self.transform = transform or standard_transform(data.mean, data.std)
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, object]:
        image = self.transform(self.data.images[index])  # (C, H, W)
        label = int(self.data.labels[index])
        return image, self.target_transform(label) if self.target_transform else label

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the classes, in label order."""
        return self.data.class_names


def classic_loader(
    data: ImageData,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    transform: Transform | None = None,
    num_workers: int = 0,
) -> DataLoader:
    """``DataLoader(ImageDataset(data), batch_size, shuffle)`` with a seeded shuffle."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        ImageDataset(data, transform), batch_size=batch_size, shuffle=shuffle,
        generator=generator, num_workers=num_workers,
    )
