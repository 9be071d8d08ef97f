"""The real data sets, where present: counts, classes, and identity against official checksums."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import real_data_dir
from torchbasics.data.locate import find_dataset
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split


def test_fashion_mnist_is_complete_and_official():
    directory = real_data_dir("fashion-mnist")
    train = load_split("fashion-mnist", "train", directory, download=False)
    test = load_split("fashion-mnist", "test", directory, download=False)
    assert train.images.shape == (60_000, 1, 28, 28) and len(test) == 10_000
    assert train.class_counts() == [6000] * 10 and test.class_counts() == [1000] * 10
    located = find_dataset(get_dataset("fashion-mnist"), directory)
    assert all(located.official_files().values())
    mean = train.images.float().div(255).mean().item()
    assert mean == pytest.approx(get_dataset("fashion-mnist").mean[0], abs=1e-4)


def test_mnist_test_split_is_official():
    directory = real_data_dir("mnist")
    test = load_split("mnist", "test", directory, download=False)
    assert len(test) == 10_000 and test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    official = find_dataset(get_dataset("mnist"), directory).official_files()
    assert official["t10k-images-idx3-ubyte.gz"] and official["t10k-labels-idx1-ubyte.gz"]
    train = load_split("mnist", "train", directory, download=False)
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the first digits of official MNIST
    assert torch.unique(train.labels).tolist() == list(range(10))
