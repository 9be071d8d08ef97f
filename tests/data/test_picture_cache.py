"""The cache of decoded pictures: a pure function of its files and settings, reused while they
stay the same, never trusted unless complete, and built alike in this process or on every
core."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from tests.data.pictures import picture_folder
from tests.helpers import make_idx_dataset
from torchbasics.data import decode, picture_cache
from torchbasics.data.folder import index_folder
from torchbasics.data.picture_cache import PictureOptions, cache_root, load_or_build


def build(root, **options):
    return load_or_build(index_folder(root), PictureOptions(**options), progress=False,
                         log=lambda line: None)


def test_a_second_run_reuses_the_cache_without_decoding_anything(tmp_path, monkeypatch):
    root = picture_folder(tmp_path / "pics")
    first = build(root)
    assert first.seconds > 0
    monkeypatch.setattr(decode, "decode_chunk", lambda *args: pytest.fail("decoded again"))
    again = build(root)
    assert again.folder == first.folder and again.seconds == 0
    np.testing.assert_array_equal(again.pixels(), first.pixels())


@pytest.mark.parametrize("change", ["edited", "added", "deleted", "other settings"])
def test_any_change_of_a_file_or_a_setting_gets_a_cache_of_its_own(tmp_path, change):
    root = picture_folder(tmp_path / "pics", per_class=4)
    first = build(root, image_size=16)
    target = root / "red" / "000.png"
    options = {"image_size": 16}
    if change == "edited":
        time.sleep(0.01)  # a later modification time, as an editor saving would give
        Image.new("RGB", (32, 32), (0, 0, 255)).save(target)
    elif change == "added":
        Image.new("RGB", (32, 32)).save(root / "red" / "new.png")
    elif change == "deleted":
        target.unlink()
    else:
        options = {"image_size": 24}
    second = build(root, **options)
    assert second.folder != first.folder and second.seconds > 0
    if change == "edited":
        row = next(i for i, p in enumerate(second.index.pictures) if p.name == "red/000.png")
        assert second.pixels()[row][2].mean() > 150  # the new, blue picture


def test_an_interrupted_build_leaves_nothing_behind(tmp_path, monkeypatch):
    root = picture_folder(tmp_path / "pics", per_class=30)
    monkeypatch.setattr(picture_cache, "CHUNK", 8)
    calls = []
    real = decode.decode_chunk

    def interrupted(paths, picture):
        calls.append(len(paths))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(paths, picture)
    monkeypatch.setattr(decode, "decode_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(root)
    assert list(cache_root().iterdir()) == []
    monkeypatch.setattr(decode, "decode_chunk", real)
    assert build(root).usable.all()


def test_the_build_of_a_killed_process_is_never_read_and_is_cleaned_up(tmp_path):
    root = picture_folder(tmp_path / "pics", per_class=3)
    key = picture_cache.cache_key(index_folder(root), PictureOptions())
    cache_root().mkdir(parents=True)
    dead = 2**22 + 12345  # beyond the pids this machine gives out
    abandoned = cache_root() / f".{key}.tmp-{dead}"
    abandoned.mkdir()
    (abandoned / picture_cache.META).write_text("{}")  # half-written: must not be trusted
    cache = build(root)
    assert cache.folder.name == key and cache.usable.all()
    assert not abandoned.exists()


def test_every_core_builds_what_one_does(tmp_path, monkeypatch):
    root = picture_folder(tmp_path / "pics", per_class=20)
    here = build(root)
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "other-cache"))
    monkeypatch.setattr(picture_cache, "PARALLEL_FROM", 1)
    monkeypatch.setattr(picture_cache, "CHUNK", 7)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    parallel = build(root)
    assert parallel.folder.parent != here.folder.parent
    np.testing.assert_array_equal(parallel.pixels(), here.pixels())
    np.testing.assert_array_equal(parallel.usable, here.usable)


def test_pictures_written_from_idx_files_are_cached_pixel_for_pixel(tmp_path):
    from torchbasics.data.pngs import write_pngs
    from torchbasics.data.sources import load_split

    data = load_split("mnist", "test", make_idx_dataset(tmp_path / "idx"), download=False)
    write_pngs(data, tmp_path / "pngs", list_name="test.txt")
    cache = build(tmp_path / "pngs")
    assert cache.picture.size == 28 and cache.picture.channels == 1
    assert len(cache.index.pictures) == len(data)
    pixels = cache.pixels()
    for row, picture in enumerate(cache.index.pictures):  # each file is named by its ID
        image = int(picture.name.rsplit("/", 1)[1].removesuffix(".png"))
        np.testing.assert_array_equal(pixels[row], data.images[image].numpy())


@pytest.mark.parametrize(("sizes", "expected"), [
    (((28, 28),), 28), (((64, 64),), 64), (((100, 100),), 32), (((28, 28), (30, 28)), 32),
    (((40, 20),), 32),
])
def test_the_size_when_none_is_given(tmp_path, sizes, expected):
    root = picture_folder(tmp_path / "pics", per_class=2, sizes=sizes)
    assert build(root).picture.size == expected
    assert build(root, image_size=20).picture.size == 20


def test_the_splits_statistics_are_those_of_the_training_pictures(tmp_path):
    from torchbasics.data.pictures import picture_splits

    root = picture_folder(tmp_path / "pics", per_class=10)
    splits = picture_splits(index_folder(root), PictureOptions(image_size=16), val_fraction=0.2,
                            seed=0, progress=False, log=lambda line: None)
    pixels = splits.train.images.double() / 255  # (N, 3, 16, 16)
    np.testing.assert_allclose(splits.train.mean, pixels.mean(dim=(0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(splits.train.std, pixels.std(dim=(0, 2, 3), correction=0),
                               atol=1e-6)
    assert splits.val.mean == splits.train.mean  # the validation split is normalized alike


def test_pictures_too_many_for_memory_give_the_same_splits_from_the_cache(tmp_path,
                                                                          monkeypatch):
    from torchbasics.data import pictures
    from torchbasics.data.memmap import MappedImageData

    root = picture_folder(tmp_path / "pics", per_class=10)

    def splits():
        return pictures.picture_splits(index_folder(root), PictureOptions(image_size=16),
                                       val_fraction=0.2, seed=0, progress=False,
                                       log=lambda line: None)

    held = splits()
    monkeypatch.setattr(pictures, "MEMORY_SHARE", 0)  # nothing fits: every split on disk
    mapped = splits()
    for on_disk, in_memory in ((mapped.train, held.train), (mapped.val, held.val)):
        assert isinstance(on_disk, MappedImageData)
        assert (on_disk.mean, on_disk.std) == (in_memory.mean, in_memory.std)
        assert torch.equal(on_disk.labels, in_memory.labels)
        every = np.arange(len(in_memory))
        assert torch.equal(on_disk.take(every), in_memory.take(every))
