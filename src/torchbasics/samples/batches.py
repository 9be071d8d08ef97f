"""The batch order of every loader: which samples each batch of an epoch holds.

The pictures' loaders (:mod:`torchbasics.data.loaders`, :mod:`torchbasics.data.memmap`)
and a table's row batches (:mod:`torchbasics.tabular.prepare`) differ only in how they
fetch a batch; the order of the samples, resuming mid-epoch and sharding over processes
are the same for all, and are here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch


def drops_last_in_training(samples: int, batch_size: int) -> bool:
    """Whether a training epoch skips its final, smaller batch: yes when there are several
    batches (a few samples would weigh as much as a full batch in the step, and batch norm
    would normalize over them alone); with one batch or less, that batch is the epoch."""
    return samples > batch_size


def batch_count(samples: int, batch_size: int, drop_last: bool) -> int:
    """The batches of an epoch over ``samples``: the full ones, and a last smaller one
    unless it is dropped."""
    full, rest = divmod(samples, batch_size)
    return full if drop_last or rest == 0 else full + 1


def training_steps(samples: int, batch_size: int) -> int:
    """The steps of a training epoch over ``samples`` (see :func:`drops_last_in_training`)."""
    return max(1, batch_count(samples, batch_size,
                              drops_last_in_training(samples, batch_size)))


class BatchSampler:
    """Which samples make up each batch of an epoch: the bookkeeping every batch loader shares.

    The order of epoch ``e`` depends only on ``seed`` and ``e`` (see :meth:`set_epoch`),
    so a resumed run sees exactly the batches an uninterrupted one would have, whichever
    loader serves them. Subclasses say how to fetch a batch in :meth:`gather`.

    Sharded (``world_size`` > 1, one loader per training process): ``batch_size`` is the
    global batch, and every rank computes the same epoch order and the same global batches
    but serves only its ``rank``-th share of each: a contiguous ``batch_size //
    world_size`` samples of a full batch. So the ranks see disjoint shards, reshuffled each
    epoch, and together exactly the batches of a one-process run; every rank has
    ``len()`` steps. A final, smaller batch is split as evenly as it goes (shares differ by
    at most one sample, none is dropped or padded); a rank whose share is empty skips it,
    so training loaders, whose steps must match across ranks, should use ``drop_last``.

    Args (every loader takes them, after its data):
        batch_size: samples per batch.
        shuffle: a new random order every epoch; else the stored order.
        seed: seeds the shuffle.
        drop_last: skip the final, smaller batch.
        transform: batch-wise transform of ``(B, C, H, W)`` uint8 -> model input;
            ``None`` yields the uint8 images as they are.
        device: where batches are produced.
        rank, world_size: serve only this rank's share of every batch (see above);
            ``batch_size`` is then the global batch.
    """

    def __init__(
        self, num_samples: int, *, batch_size: int = 256, shuffle: bool = False, seed: int = 0,
        drop_last: bool = False, transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str = "cpu", rank: int = 0, world_size: int = 1,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} does not split over {world_size} ranks")
        self._num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.transform = transform
        self.device = torch.device(device)
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_step = 0

    @property
    def num_samples(self) -> int:
        """Samples per epoch (before dropping the last batch)."""
        return self._num_samples

    def __len__(self) -> int:
        return batch_count(self.num_samples, self.batch_size, self.drop_last)

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Choose the epoch whose order the next iteration follows, and where it starts.

        ``start_step`` skips the epoch's first batches (to continue an interrupted epoch)
        without gathering or transforming them, so a random transform's generator is not
        advanced by batches that were already trained on. ``len()`` stays the full epoch.
        """
        if not 0 <= start_step <= len(self):
            raise ValueError(f"start_step must be in 0..{len(self)}, got {start_step}")
        self.epoch = epoch
        self.start_step = start_step

    def order(self) -> torch.Tensor:
        """The sample order of the current epoch, shape ``(N,)``, on the CPU."""
        if not self.shuffle:
            return torch.arange(self.num_samples)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.num_samples, generator=generator)

    def share(self, index: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a global batch's ``index``."""
        size = len(index)
        return index[size * self.rank // self.world_size:
                     size * (self.rank + 1) // self.world_size]

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The uint8 images ``(B, C, H, W)`` and labels ``(B,)`` at ``index``, on the device."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.order()
        for batch in range(self.start_step, len(self)):
            index = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            if self.world_size > 1:
                index = self.share(index)
                if not len(index):
                    continue
            images, labels = self.gather(index)
            if self.transform is not None:
                images = self.transform(images)
            yield images, labels
