"""Getting a table ready to train on: a seeded split, standardization, and batches.

The standardization is fitted on the training rows only: validation and test rows are
scaled with the training mean and standard deviation, as new data will be at prediction
time (the checkpoint stores them), so nothing about them leaks into training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.samples.batches import BatchSampler
from torchbasics.samples.splits import random_indices, stratified_indices
from torchbasics.tabular.table import Table


@dataclass
class TableSplits:
    """The three disjoint parts of a table."""

    train: Table
    val: Table
    test: Table


def split_rows(count: int, *, test_fraction: float, val_fraction: float, seed: int,
               labels: np.ndarray | None = None,
               class_names: Sequence[str] | None = None) -> tuple[np.ndarray, ...]:
    """``(train, val, test)`` indices of ``count`` rows: ``test_fraction`` held out for
    testing, then ``val_fraction`` of the rest for validation, each sorted.

    Seeded (:mod:`torchbasics.samples.splits`): the same seed gives the same rows. With
    ``labels`` (one class index per row) both splits are stratified, every class in the
    same proportion in each part.
    """
    def split(rows: np.ndarray, fraction: float, where: str) -> tuple[np.ndarray, np.ndarray]:
        if labels is None:
            kept, held = random_indices(len(rows), fraction, seed, where=where)
        else:
            kept, held = stratified_indices(labels[rows], fraction, seed,
                                            class_names=class_names, where=where)
        return rows[kept], rows[held]

    rest, test = split(np.arange(count), test_fraction, "--test-fraction")
    train, val = split(rest, val_fraction, "--val-fraction")
    return train, val, test


def split_table(table: Table, *, test_fraction: float, val_fraction: float,
                seed: int) -> TableSplits:
    """Hold out ``test_fraction`` of the rows for testing, then ``val_fraction`` of the rest
    (:func:`split_rows`). Each part keeps the file's row order."""
    train, val, test = split_rows(len(table), test_fraction=test_fraction,
                                  val_fraction=val_fraction, seed=seed)
    if len(train) <= table.features.shape[1]:
        raise TorchbasicsError(
            f"only {len(train)} training rows for {table.features.shape[1]} features",
            where=table.source, fix="use more rows: a linear fit needs more rows than features",
        )
    return TableSplits(*(table.rows(part) for part in (train, val, test)))


@dataclass(frozen=True)
class Standardizer:
    """``z = (x - mean) / std`` per feature, with the statistics of the training rows."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, table: Table) -> Standardizer:
        """Mean and (population) standard deviation of each feature column of ``table``."""
        features = table.features.double()  # (N, F)
        mean = features.mean(dim=0)
        std = features.std(dim=0, correction=0)
        for column, spread in zip(table.columns, std.tolist(), strict=True):
            if spread == 0:
                raise TorchbasicsError(
                    f"column '{column.name}' has the same value in every training row, so "
                    "its effect cannot be learned", where=table.source,
                    fix="use data in which every feature varies",
                )
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def to_dict(self) -> dict[str, list[float]]:
        """``{"mean": [...], "std": [...]}``, as a checkpoint keeps it."""
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> Standardizer:
        """Rebuild from :meth:`to_dict` output."""
        return cls(tuple(values["mean"]), tuple(values["std"]))

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """Standardize ``(N, F)`` features (float32 out)."""
        mean = torch.tensor(self.mean, dtype=torch.float64)
        std = torch.tensor(self.std, dtype=torch.float64)
        return ((features.double() - mean) / std).float()


class RowBatches(BatchSampler):
    """Iterate over ``(features, target)`` batches of in-memory rows, reshuffled each epoch.

    The epoch bookkeeping is :class:`~torchbasics.samples.batches.BatchSampler`'s, so epoch
    ``e``'s order depends only on ``seed`` and ``e``. A batch size of at least the row
    count gives full-batch gradient descent (one step per epoch).
    """

    def __init__(self, features: torch.Tensor, target: torch.Tensor, *, batch_size: int,
                 shuffle: bool = False, seed: int = 0, device: torch.device | str = "cpu"):
        super().__init__(len(target), batch_size=batch_size, shuffle=shuffle, seed=seed,
                         drop_last=False, transform=None, device=device)
        self.features = features.to(self.device)  # (N, F)
        self.target = target.to(self.device)  # (N, 1)

    def order(self) -> torch.Tensor:
        """The stored order for a full batch (shuffling it would change nothing but the
        summation order); else the shuffled epoch order."""
        if self.batch_size >= self.num_samples:
            return torch.arange(self.num_samples)
        return super().order()

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = index.to(self.device)
        return self.features[index], self.target[index]
