"""Reading an images + labels pair: shapes, and mismatched or damaged pairs refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchbasics.data.idx import write_idx
from torchbasics.data.image_data import load_idx_pair
from torchbasics.errors import TorchbasicsError

NAMES = tuple("abc")


def _pair(tmp_path, images, labels):
    write_idx(tmp_path / "images.gz", images)
    write_idx(tmp_path / "labels.gz", labels)
    return load_idx_pair(tmp_path / "images.gz", tmp_path / "labels.gz",
                         class_names=NAMES, mean=(0.5,), std=(0.25,))


def test_grayscale_pair_becomes_nchw(tmp_path):
    images = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    data = _pair(tmp_path, images, np.array([2, 0], np.uint8))
    assert data.images.shape == (2, 1, 4, 5) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert data.labels.tolist() == [2, 0] and data.labels.dtype == torch.int64
    assert data.image_shape == (1, 4, 5) and data.num_classes == 3


def test_colour_images_become_channels_first(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (2, 4, 5, 3), dtype=np.uint8)
    data = _pair(tmp_path, images, np.array([0, 1], np.uint8))
    assert data.images.shape == (2, 3, 4, 5)
    assert torch.equal(data.images[1, 2], torch.from_numpy(images[1, :, :, 2]))


def test_count_mismatch_is_refused(tmp_path):
    with pytest.raises(TorchbasicsError, match="2 labels for 3 images"):
        _pair(tmp_path, np.zeros((3, 4, 4), np.uint8), np.zeros(2, np.uint8))


def test_label_out_of_range_names_the_index(tmp_path):
    with pytest.raises(TorchbasicsError, match=r"label 7 at index 1 is outside 0\.\.2"):
        _pair(tmp_path, np.zeros((3, 4, 4), np.uint8), np.array([0, 7, 1], np.uint8))


def test_swapped_files_are_refused(tmp_path):
    with pytest.raises(TorchbasicsError, match="images file"):
        _pair(tmp_path, np.zeros(3, np.uint8), np.zeros((3, 4, 4), np.uint8))


def test_subset_keeps_order_and_checks_range(idx_dir):
    from torchbasics.data.sources import load_split

    data = load_split("mnist", "test", idx_dir, download=False)
    part = data.subset([5, 0, 5])
    assert torch.equal(part.images[0], data.images[5]) and part.labels[2] == data.labels[5]
    with pytest.raises(TorchbasicsError, match="out of range"):
        data.subset([len(data)])
