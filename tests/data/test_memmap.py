"""Memory-mapped IDX data: the cache, the dataset and the batch loader agree with read_idx."""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from torchbasics.data import memmap
from torchbasics.data.idx import read_idx, write_idx
from torchbasics.data.image_data import ImageSplit
from torchbasics.data.loaders import TensorBatchLoader
from torchbasics.data.locate import cache_dir
from torchbasics.data.memmap import (
    MemmapBatchLoader,
    MemmapIdxDataset,
    decompressed_cache,
    open_idx_memmap,
)
from torchbasics.data.sources import load_split
from torchbasics.data.transforms import standard_transform
from torchbasics.errors import TorchbasicsError

IMAGES = "train-images-idx3-ubyte.gz"
LABELS = "train-labels-idx1-ubyte.gz"


@pytest.fixture
def data(idx_dir):
    return load_split("mnist", "train", idx_dir, download=False)  # 200 images, in memory


@pytest.fixture
def dataset(idx_dir):
    return MemmapIdxDataset(idx_dir / IMAGES, idx_dir / LABELS)


@pytest.fixture
def numbered(tmp_path):
    """A raw data set of 300 4x4 images whose first two pixels spell their own index."""
    index = np.arange(300)
    images = np.zeros((300, 4, 4), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = index // 256, index % 256
    write_idx(tmp_path / "images.idx", images)
    write_idx(tmp_path / "labels.idx", (index % 10).astype(np.uint8))
    return MemmapIdxDataset(tmp_path / "images.idx", tmp_path / "labels.idx")


def _indices(batches) -> list[int]:
    """The image indices a loader yielded, in order (decoded from the pixels)."""
    images = torch.cat([images for images, _ in batches])  # (N, 1, 4, 4)
    return (images[:, 0, 0, 0].long() * 256 + images[:, 0, 0, 1].long()).tolist()


# --- decompressed_cache and open_idx_memmap ---


def test_cached_copy_equals_read_idx(idx_dir):
    cached = decompressed_cache(idx_dir / IMAGES)
    assert cached.parent == cache_dir() / "memmap"
    assert cached.name.startswith("train-images-idx3-ubyte-")
    np.testing.assert_array_equal(read_idx(cached), read_idx(idx_dir / IMAGES))
    np.testing.assert_array_equal(open_idx_memmap(idx_dir / IMAGES), read_idx(idx_dir / IMAGES))


def test_second_call_reuses_the_cache(idx_dir, monkeypatch):
    first = decompressed_cache(idx_dir / IMAGES)
    stamp = first.stat().st_mtime_ns

    def fail(*args):
        raise AssertionError("decompressed again")

    monkeypatch.setattr(memmap, "_decompress", fail)
    assert decompressed_cache(idx_dir / IMAGES) == first
    assert first.stat().st_mtime_ns == stamp


def test_changed_source_gets_a_fresh_copy(tmp_path):
    source = tmp_path / "x.idx.gz"
    write_idx(source, np.arange(6, dtype=np.uint8))
    first = decompressed_cache(source)
    write_idx(source, np.arange(7, dtype=np.uint8))
    os.utime(source, ns=(1, 1))  # make sure the mtime differs, whatever the clock's grain
    second = decompressed_cache(source)
    assert second != first
    assert read_idx(second).tolist() == list(range(7))


def test_raw_file_is_used_in_place(tmp_path):
    write_idx(tmp_path / "x.idx", np.arange(6, dtype=np.uint8))
    assert decompressed_cache(tmp_path / "x.idx") == tmp_path / "x.idx"
    assert not (cache_dir() / "memmap").exists()


def test_memmap_is_read_only_big_endian_and_past_the_header(tmp_path):
    array = np.array([[258, -3], [7, 1000]], dtype=np.int16)
    write_idx(tmp_path / "x.idx", array)
    mapped = open_idx_memmap(tmp_path / "x.idx")
    assert mapped.dtype == np.dtype(">i2") and mapped.shape == (2, 2)
    assert not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, array)


def _gzip(content: bytes) -> bytes:
    return gzip.compress(content, mtime=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_gzip(struct.pack(">II", 0x0801, 4) + b"\x00\x01"), "truncated: 10 bytes"),
        (_gzip(struct.pack(">II", 0x0801, 2) + b"\x00\x01\x02"), "trailing data"),
        (_gzip(struct.pack(">II", 0x1234_0801, 1) + b"\x00"), "not an IDX file"),
        (_gzip(struct.pack(">II", 0x0801, 4) + b"\x00" * 4)[:-6], "corrupt or truncated gzip"),
        (b"\x1f\x8b" + b"\x00" * 20, "corrupt or truncated gzip"),
    ],
    ids=["short-payload", "long-payload", "bad-magic", "cut-stream", "not-gzip-data"],
)
def test_damaged_gzip_is_refused_and_not_cached(tmp_path, content, message):
    (tmp_path / "x.gz").write_bytes(content)
    with pytest.raises(TorchbasicsError, match=message) as error:
        decompressed_cache(tmp_path / "x.gz")
    assert str(tmp_path / "x.gz") in str(error.value)
    assert not any((cache_dir() / "memmap").glob("*"))  # no partial copy, no temp file


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (struct.pack(">IIII", 0x0803, 3, 2, 2) + bytes(10), "truncated: 26 bytes"),
        (struct.pack(">II", 0x0801, 2) + bytes(3), "trailing data"),
        (b"\x00\x00", "truncated"),
    ],
    ids=["short", "long", "no-header"],
)
def test_damaged_raw_file_is_refused(tmp_path, content, message):
    (tmp_path / "x.idx").write_bytes(content)
    with pytest.raises(TorchbasicsError, match=message) as error:
        open_idx_memmap(tmp_path / "x.idx")
    assert str(tmp_path / "x.idx") in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(TorchbasicsError, match="file not found"):
        decompressed_cache(tmp_path / "nope.gz")


# --- MemmapIdxDataset ---


def test_items_equal_the_in_memory_arrays(dataset, data):
    assert len(dataset) == len(data) and dataset.image_shape == data.image_shape
    for index in (0, 1, 57, 199, -1):
        image, label = dataset[index]
        assert image.dtype == torch.uint8 and image.shape == (1, 28, 28)
        assert torch.equal(image, data.images[index])
        assert label == int(data.labels[index])
    with pytest.raises(IndexError):
        dataset[200]


def test_per_image_transform(idx_dir, data):
    transform = standard_transform(data.mean, data.std)
    dataset = MemmapIdxDataset(idx_dir / IMAGES, idx_dir / LABELS, transform=transform)
    torch.testing.assert_close(dataset[3][0], transform(data.images[3]))


def test_colour_images_come_out_channels_first(tmp_path):
    images = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)  # (N, H, W, C)
    write_idx(tmp_path / "images.idx", images)
    write_idx(tmp_path / "labels.idx", np.array([0, 1], dtype=np.uint8))
    dataset = MemmapIdxDataset(tmp_path / "images.idx", tmp_path / "labels.idx")
    assert dataset.image_shape == (3, 3, 4)
    assert torch.equal(dataset[1][0], torch.from_numpy(images[1]).permute(2, 0, 1))


def test_labels_must_match_the_images(idx_dir):
    with pytest.raises(TorchbasicsError, match="60 labels for 200 images"):
        MemmapIdxDataset(idx_dir / IMAGES, idx_dir / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(TorchbasicsError, match=r"outside 0\.\.4"):
        MemmapIdxDataset(idx_dir / IMAGES, idx_dir / LABELS, num_classes=5)
    with pytest.raises(TorchbasicsError, match="expected uint8 images"):
        MemmapIdxDataset(idx_dir / LABELS, idx_dir / LABELS)


def test_pickles_without_its_mapping(dataset, data):
    dataset[0]  # map the file
    state = pickle.dumps(dataset)
    assert len(state) < 10_000  # labels and paths, not the images
    copy = pickle.loads(state)
    assert copy._rows._map is None
    assert torch.equal(copy[5][0], data.images[5])


def test_dataloader_with_workers(dataset, data):
    loader = DataLoader(dataset, batch_size=50, num_workers=2)
    images, labels = zip(*loader, strict=True)
    assert torch.equal(torch.cat(images), data.images)
    assert torch.equal(torch.cat(labels), data.labels)


# --- MemmapBatchLoader ---


def test_every_index_once_per_epoch(numbered):
    loader = MemmapBatchLoader(numbered, batch_size=64, shuffle=True, seed=1)
    assert len(loader) == 5 and loader.num_samples == 300
    for epoch in range(3):
        loader.set_epoch(epoch)
        seen = _indices(loader)
        assert sorted(seen) == list(range(300))
        assert seen == loader.order().tolist()  # the shuffled order, also within a batch


def test_order_depends_only_on_seed_and_epoch(numbered):
    first = MemmapBatchLoader(numbered, batch_size=64, shuffle=True, seed=7)
    second = MemmapBatchLoader(numbered, batch_size=64, shuffle=True, seed=7)
    first.set_epoch(3)
    second.set_epoch(3)
    assert _indices(first) == _indices(second)
    second.set_epoch(4)
    assert _indices(first) != _indices(second)


def test_sequential_and_drop_last(numbered):
    loader = MemmapBatchLoader(numbered, batch_size=64, drop_last=True)
    assert len(loader) == 4
    assert _indices(loader) == list(range(256))
    assert len(MemmapBatchLoader(numbered, batch_size=100, drop_last=True)) == 3


def test_batches_equal_the_in_memory_loaders(dataset, data):
    """Same seed and epoch: identical batches to TensorBatchLoader, transform included."""
    transform = standard_transform(data.mean, data.std)
    settings = dict(batch_size=48, shuffle=True, seed=5, transform=transform)
    mapped, in_memory = MemmapBatchLoader(dataset, **settings), TensorBatchLoader(data, **settings)
    mapped.set_epoch(2)
    in_memory.set_epoch(2)
    assert len(mapped) == len(in_memory)
    for (images, labels), (expected, expected_labels) in zip(mapped, in_memory, strict=True):
        assert images.dtype == torch.float32
        torch.testing.assert_close(images, expected)
        assert labels.dtype == torch.int64 and torch.equal(labels, expected_labels)


def test_small_release_budget_remaps_and_reads_the_same(idx_dir, data):
    dataset = MemmapIdxDataset(idx_dir / IMAGES, idx_dir / LABELS, release_bytes=1)
    loader = MemmapBatchLoader(dataset, batch_size=64, shuffle=True, seed=3)
    images = torch.cat([images for images, _ in loader])
    assert torch.equal(images, data.images[loader.order()])
    assert dataset._rows.releases == len(dataset) - 1  # one row per mapping


def test_bad_batch_size(dataset):
    with pytest.raises(ValueError, match="batch_size"):
        MemmapBatchLoader(dataset, batch_size=0)


# --- MappedImageData: a split on disk answers as the same split in memory ---


@pytest.fixture
def both(idx_dir, data):
    """The training split of ``idx_dir`` twice, as ``(on disk, in memory)``: every third
    image, in reverse order, so rows and positions differ."""
    rows = np.arange(len(data))[::-3].copy()
    mapped = memmap.MappedImageData.of(idx_dir / IMAGES, idx_dir / LABELS, rows,
                                       data.class_names, data.mean, data.std, "disk")
    return mapped, data.subset(rows)


def test_a_mapped_split_answers_as_the_split_in_memory(both):
    mapped, in_memory = both
    assert isinstance(mapped, ImageSplit) and isinstance(in_memory, ImageSplit)
    assert len(mapped) == len(in_memory) and mapped.image_shape == in_memory.image_shape
    assert mapped.num_classes == in_memory.num_classes == 10
    assert mapped.class_counts() == in_memory.class_counts()
    assert torch.equal(mapped.labels, in_memory.labels)
    picked = np.array([5, 0, 17])
    assert torch.equal(mapped.take(picked), in_memory.take(picked))
    part, expected = mapped.subset(picked, "three"), in_memory.subset(picked, "three")
    assert part.source == "disk [three]" and isinstance(part, memmap.MappedImageData)
    assert torch.equal(part.take(np.arange(3)), expected.take(np.arange(3)))
    assert torch.equal(part.labels, expected.labels)


def test_a_subset_out_of_range_is_refused_on_disk_as_in_memory(both):
    for split in both:
        with pytest.raises(TorchbasicsError, match="index out of range"):
            split.subset([len(split)])
        with pytest.raises(TorchbasicsError, match="index out of range"):
            split.subset([-1])


def test_each_split_makes_its_own_loader_and_both_give_the_same_batches(both):
    mapped, in_memory = both
    settings = dict(batch_size=16, shuffle=True, seed=2)
    on_disk, held = mapped.batches(**settings), in_memory.batches(**settings)
    assert isinstance(on_disk, MemmapBatchLoader) and isinstance(held, TensorBatchLoader)
    for (images, labels), (expected, expected_labels) in zip(on_disk, held, strict=True):
        assert torch.equal(images, expected) and torch.equal(labels, expected_labels)
