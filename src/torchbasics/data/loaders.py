"""The fast path: a whole split as one uint8 tensor, served in batches by indexing.

No per-sample Python: each batch is one gather (``images[index]``) and a few tensor
operations for the transform. The uint8 data is 4x smaller than float32, so even all of
Fashion-MNIST (47 MB) sits comfortably in memory, or on the GPU.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from torchbasics.samples.batches import BatchSampler

if TYPE_CHECKING:  # only a type here: a split makes its own loader (ImageSplit.batches)
    from torchbasics.data.image_data import ImageData


class TensorBatchLoader(BatchSampler):
    """Iterate over ``(images, labels)`` batches of an in-memory split.

    Args:
        data: the split; it is moved to ``device`` once.
        options: how to batch it (``batch_size``, ``shuffle``, ``seed``, ``drop_last``,
            ``transform``, ``device``, ``rank``, ``world_size``; see :class:`BatchSampler`).
    """

    def __init__(self, data: ImageData, **options: Any):
        super().__init__(len(data), **options)
        self.images = data.images.to(self.device)  # (N, C, H, W) uint8
        self.labels = data.labels.to(self.device)  # (N,) int64

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = index.to(self.device)
        # index_select is several times faster than fancy indexing (images[index]) for
        # gathering whole rows on the CPU.
        return (torch.index_select(self.images, 0, index),
                torch.index_select(self.labels, 0, index))
