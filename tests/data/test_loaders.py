"""The fast in-memory loader and the classic Dataset/DataLoader pipeline."""

from __future__ import annotations

import pytest
import torch

from torchbasics.data.datasets import ImageDataset, classic_loader
from torchbasics.data.loaders import TensorBatchLoader
from torchbasics.data.sources import load_split
from torchbasics.data.transforms import standard_transform


@pytest.fixture
def data(idx_dir):
    return load_split("mnist", "train", idx_dir, download=False)  # 200 images


def test_every_image_once_per_epoch(data):
    loader = TensorBatchLoader(data, batch_size=64, shuffle=True, seed=1)
    assert len(loader) == 4
    seen = torch.cat([labels for _, labels in loader])
    assert len(seen) == 200
    assert sorted(seen.tolist()) == sorted(data.labels.tolist())


def test_batches_are_the_indexed_images(data):
    loader = TensorBatchLoader(data, batch_size=50, shuffle=True, seed=3)
    order = loader.order()
    images, labels = next(iter(loader))
    assert torch.equal(images, data.images[order[:50]])
    assert torch.equal(labels, data.labels[order[:50]])


def test_order_depends_only_on_seed_and_epoch(data):
    first = TensorBatchLoader(data, shuffle=True, seed=7)
    second = TensorBatchLoader(data, shuffle=True, seed=7)
    first.set_epoch(3)
    second.set_epoch(3)
    assert torch.equal(first.order(), second.order())
    second.set_epoch(4)
    assert not torch.equal(first.order(), second.order())
    other_seed = TensorBatchLoader(data, shuffle=True, seed=8)
    other_seed.set_epoch(3)
    assert not torch.equal(first.order(), other_seed.order())


def test_no_shuffle_keeps_stored_order_and_drop_last(data):
    loader = TensorBatchLoader(data, batch_size=64, drop_last=True)
    assert len(loader) == 3
    labels = torch.cat([batch for _, batch in loader])
    assert torch.equal(labels, data.labels[:192])


def test_transform_is_applied_batch_wise(data):
    transform = standard_transform(data.mean, data.std)
    images, _ = next(iter(TensorBatchLoader(data, batch_size=8, transform=transform)))
    assert images.dtype == torch.float32 and images.shape == (8, 1, 28, 28)
    torch.testing.assert_close(images, transform(data.images[:8]))


def test_classic_dataset_agrees_with_fast_loader(data):
    dataset = ImageDataset(data)
    image, label = dataset[5]
    fast, labels = next(iter(TensorBatchLoader(
        data, batch_size=10, transform=standard_transform(data.mean, data.std))))
    torch.testing.assert_close(image, fast[5])
    assert label == int(labels[5])


def test_classic_loader_batches_and_shuffles(data):
    loader = classic_loader(data, batch_size=64, shuffle=True, seed=0)
    images, labels = next(iter(loader))
    assert images.shape == (64, 1, 28, 28) and labels.shape == (64,)
    assert not torch.equal(labels, data.labels[:64])
    assert sum(len(batch) for _, batch in loader) == 200


def test_bad_batch_size(data):
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatchLoader(data, batch_size=0)
