"""Exporting a split to PNG class folders + a list file, and reading it back pixel-exact."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.helpers import real_data_dir
from torchbasics.data import pngs
from torchbasics.data.image_data import ImageData
from torchbasics.data.image_files import load_image_list
from torchbasics.data.listfile import class_slug
from torchbasics.data.pngs import write_pngs
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split
from torchbasics.errors import TorchbasicsError

FASHION = get_dataset("fashion-mnist").class_names


def _round_trip(data: ImageData, out_dir) -> ImageData:
    list_path = write_pngs(data, out_dir, progress=False)
    return load_image_list(list_path, data.class_names, data.mean, data.std,
                           size=data.image_shape[1:], channels=data.image_shape[0])


def _assert_identical(back: ImageData, data: ImageData) -> None:
    assert torch.equal(back.images, data.images)
    assert torch.equal(back.labels, data.labels)
    assert back.class_names == data.class_names


def test_round_trip_is_pixel_and_label_identical(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    _assert_identical(_round_trip(data, tmp_path / "out"), data)


def test_layout_uses_class_slugs_and_split_indices(idx_dir, tmp_path):
    data = replace(load_split("mnist", "test", idx_dir, download=False), class_names=FASHION)
    list_path = write_pngs(data, tmp_path / "out", "subset.txt", progress=False)
    assert list_path == tmp_path / "out" / "subset.txt"
    folders = {p.name for p in (tmp_path / "out").iterdir() if p.is_dir()}
    assert {"T-shirt_top", "Ankle_boot"} <= folders and len(folders) == 10
    entries = [line for line in list_path.read_text().splitlines() if not line.startswith("#")]
    label = int(data.labels[0])
    assert entries[0] == f"{class_slug(FASHION[label])}/00000.png {label}"
    assert len(entries) == len(data)
    _assert_identical(_round_trip(data, tmp_path / "again"), data)


def test_rgb_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    data = ImageData(
        images=torch.from_numpy(rng.integers(0, 256, (7, 3, 12, 9), dtype=np.uint8)),
        labels=torch.tensor([0, 1, 2, 0, 1, 2, 0]), class_names=("cat", "dog", "a bird"),
        mean=(0.5,) * 3, std=(0.25,) * 3, source="synthetic",
    )
    _assert_identical(_round_trip(data, tmp_path / "out"), data)


def test_refuses_a_non_empty_folder(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(TorchbasicsError, match=re.escape(f"{out}: the output folder is not "
                                                         "empty. Choose a new or empty folder")):
        write_pngs(data, out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_overwrite_replaces_an_earlier_export(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    first = write_pngs(data.subset(range(5)), tmp_path / "out", progress=False)
    list_path = write_pngs(data, tmp_path / "out", overwrite=True, progress=False)
    assert list_path == first
    _assert_identical(load_image_list(list_path, data.class_names, data.mean, data.std), data)


def _interrupt_after(count, monkeypatch):
    """Make the export stop (as on Ctrl-C) after writing ``count`` images."""
    saved = []

    def save_or_stop(pixels, path):
        if len(saved) == count:
            raise KeyboardInterrupt
        saved.append(path)

    monkeypatch.setattr(pngs, "_save_png", save_or_stop)


def test_interrupted_export_leaves_no_list_file(idx_dir, tmp_path, monkeypatch):
    data = load_split("mnist", "test", idx_dir, download=False)
    _interrupt_after(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_pngs(data, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "test.txt").exists()


def test_interrupted_overwrite_leaves_no_stale_list_file(idx_dir, tmp_path, monkeypatch):
    data = load_split("mnist", "test", idx_dir, download=False)
    write_pngs(data, tmp_path / "out", progress=False)
    _interrupt_after(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        write_pngs(data, tmp_path / "out", overwrite=True, progress=False)
    assert not (tmp_path / "out" / "test.txt").exists()


def test_refuses_a_file_as_folder(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    (tmp_path / "out").write_text("")
    with pytest.raises(TorchbasicsError, match="is not a folder"):
        write_pngs(data, tmp_path / "out")


def test_refuses_classes_sharing_a_folder(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    names = ("a b", "a/b", *data.class_names[2:])
    with pytest.raises(TorchbasicsError, match="would share the folder 'a_b'"):
        write_pngs(replace(data, class_names=names), tmp_path / "out")


def test_list_name_must_be_a_plain_name(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    with pytest.raises(TorchbasicsError, match="not a plain file name"):
        write_pngs(data, tmp_path / "out", "lists/test.txt")


def test_refuses_images_png_cannot_hold(tmp_path):
    data = ImageData(images=torch.zeros(2, 2, 4, 4, dtype=torch.uint8),
                     labels=torch.tensor([0, 1]), class_names=("a", "b"),
                     mean=(0.5, 0.5), std=(0.2, 0.2))
    with pytest.raises(TorchbasicsError, match="2-channel"):
        write_pngs(data, tmp_path / "out")


def test_real_fashion_mnist_round_trip(tmp_path):
    directory = real_data_dir("fashion-mnist")
    data = load_split("fashion-mnist", "test", directory, download=False).subset(range(500))
    back = _round_trip(data, tmp_path / "fashion")
    _assert_identical(back, data)
    assert (tmp_path / "fashion" / "Ankle_boot").is_dir()
