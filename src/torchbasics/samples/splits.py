"""Seeded splits of sample indices: a share held out, stratified by class where there are
classes, the same for the same seed.

Written with numpy rather than scikit-learn's ``train_test_split``: importing scikit-learn
costs about as much as importing PyTorch (``benchmarks/startup.py``), and a run needs it
for nothing else before its first step. Pictures (:mod:`torchbasics.data.splits`) and a
table's rows (:mod:`torchbasics.tabular.prepare`) are split alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError


def check_fraction(fraction: float, where: str) -> None:
    """Refuse a share that is not strictly between 0 and 1."""
    if not 0 < fraction < 1:
        raise TorchbasicsError(f"{fraction} is not a fraction between 0 and 1", where=where,
                               fix="use e.g. 0.1 for 10 %")


def random_indices(count: int, fraction: float, seed: int,
                   where: str = "--val-fraction") -> tuple[np.ndarray, np.ndarray]:
    """``(kept, held_out)`` row indices, ``ceil(fraction * count)`` held out, each sorted."""
    check_fraction(fraction, where)
    held = math.ceil(fraction * count)
    if held >= count:
        raise TorchbasicsError(f"cannot hold out {fraction:.0%} of {count} rows and keep any",
                               where=where, fix="use more data or a smaller fraction")
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[held:]), np.sort(order[:held])


def stratified_indices(
    labels: torch.Tensor | np.ndarray, fraction: float = 0.1, seed: int = 0, *,
    class_names: Sequence[str] | None = None, where: str = "--val-fraction",
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(kept, held_out)`` indices with every class in the same proportion in both.

    ``ceil(fraction * N)`` samples are held out, each class's share of them its share of
    the data (the largest remainders rounded up), and at least one of every class: a
    class needs two samples, one on each side.

    Returns:
        ``(kept, held_out)``, each sorted.

    Raises:
        TorchbasicsError: a bad fraction, or a class too small to split (named).
    """
    check_fraction(fraction, where)
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    held = _per_class(counts, math.ceil(fraction * len(labels)))
    small = np.flatnonzero(counts - held < 1)
    if len(small):
        label = int(classes[small[0]])
        name = f"'{class_names[label]}'" if class_names is not None else str(label)
        raise TorchbasicsError(
            f"class {name} has {int(counts[small[0]])} sample(s): a stratified split with "
            f"{fraction:.0%} held out needs at least 2 of every class", where=where,
            fix="add more of that class, or leave it out")
    rng = np.random.default_rng(seed)
    out = [rng.permutation(np.flatnonzero(labels == label))[:share]
           for label, share in zip(classes, held, strict=True)]
    held_out = np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out, assume_unique=True)
    return kept, held_out


def _per_class(counts: np.ndarray, total: int) -> np.ndarray:
    """How many of each class to hold out: ``total`` shared in proportion to ``counts``
    (largest remainders first), at least one each."""
    quota = counts * total / max(int(counts.sum()), 1)
    share = np.floor(quota).astype(np.int64)
    rest = total - int(share.sum())
    share[np.argsort(-(quota - share), kind="stable")[:rest]] += 1
    return np.maximum(share, 1)
