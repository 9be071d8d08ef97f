"""Validation splits: stratified, seeded, disjoint."""

from __future__ import annotations

import numpy as np
import pytest

from torchbasics.data.sources import load_split
from torchbasics.data.splits import train_val_split
from torchbasics.errors import TorchbasicsError
from torchbasics.samples.splits import stratified_indices


def test_split_is_disjoint_complete_and_stratified():
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    train, val = stratified_indices(labels, 0.1, seed=0)
    assert len(val) == 100 and len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == len(labels)
    np.testing.assert_array_equal(np.bincount(labels[val]), [10, 20, 30, 40])


def test_split_is_seeded():
    labels = np.arange(500) % 5
    val = stratified_indices(labels, 0.2, seed=1)[1]
    assert np.array_equal(val, stratified_indices(labels, 0.2, seed=1)[1])
    assert not np.array_equal(val, stratified_indices(labels, 0.2, seed=2)[1])


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_bad_fraction(fraction):
    with pytest.raises(TorchbasicsError, match="between 0 and 1"):
        stratified_indices(np.arange(10) % 2, fraction)


def test_too_few_images_per_class():
    with pytest.raises(TorchbasicsError, match="class 'b' has 1 sample"):
        stratified_indices(np.array([0, 0, 1, 2, 2]), 0.1, class_names=["a", "b", "c"])


@pytest.mark.parametrize("count", [70, 101, 999])
def test_the_held_out_share_is_rounded_up_and_every_class_is_on_both_sides(count):
    labels = np.random.default_rng(count).integers(0, 7, count)
    train, val = stratified_indices(labels, 0.1, seed=0)
    assert len(val) >= int(np.ceil(0.1 * count))
    assert set(labels[train]) == set(labels[val]) == set(labels)


def test_train_val_split_of_image_data(idx_dir):
    data = load_split("mnist", "train", idx_dir, download=False)
    train, val = train_val_split(data, 0.1, seed=0)
    assert len(train) == 180 and len(val) == 20
    assert val.class_counts() == [2] * 10
