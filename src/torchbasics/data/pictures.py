"""The user's pictures as splits a run trains on: the index, the cache, the statistics.

:func:`picture_splits` turns a folder (or list files) into the training, validation and
test splits the registered data sets give, so that training, evaluation and every command
after them work the same: each an :class:`~torchbasics.data.image_data.ImageSplit`, held in
memory (``ImageData``) when the pixels fit in a quarter of the memory available, else read
from the cache batch by batch (``MappedImageData``).
The validation split is the folder's ``val/`` when it has one, else a stratified, seeded
share of the training pictures. Normalization statistics come from the training split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from torchbasics.data.folder import PictureIndex, Skipped, index_folder, index_lists
from torchbasics.data.image_data import ImageData, ImageSplit
from torchbasics.data.memmap import MappedImageData
from torchbasics.data.picture_cache import PictureCache, PictureOptions, load_or_build
from torchbasics.data.registry import DatasetSpec
from torchbasics.errors import TorchbasicsError
from torchbasics.memory import available_memory
from torchbasics.samples.splits import stratified_indices

MEMORY_SHARE = 1 / 4  # pixels up to this share of the available memory are read whole
STATISTICS_BYTES = 16 << 20  # of pixels read at a time when measuring the mean and std


@dataclass
class PictureSplits:
    """A run's pictures: its splits (``test`` when the folder has one), and what was found."""

    train: ImageSplit
    val: ImageSplit
    test: ImageSplit | None
    cache: PictureCache
    notes: list[str] = field(default_factory=list)  # what the command prints about them


def index_of(spec: DatasetSpec, lists: dict[str, str] | None = None) -> PictureIndex:
    """The pictures of an own-pictures data set: its folder, or the list files given."""
    if lists:
        return index_lists(lists)
    return index_folder(spec.name)


def test_split(index: PictureIndex, options: PictureOptions, *, progress: bool = True,
               log: Callable[[str], None] = print) -> ImageSplit:
    """The test pictures of ``index`` (a folder's ``test/``, or a test list's), from the
    cache (the model's own statistics normalize them, not these).

    Raises:
        TorchbasicsError: there are no test pictures.
    """
    cache = load_or_build(index, options, progress=progress, log=log)
    rows = cache.rows("test")
    if not len(rows):
        raise TorchbasicsError("no test split here: the folder has no test/ folder",
                               where=index.source, fix="evaluate on a list of pictures and "
                               "their classes with --list FILE, or add a test/ folder")
    return _holder(cache, cache.labels())(rows, (0.0,) * cache.picture.channels,
                                          (1.0,) * cache.picture.channels, "test")


def skip_summary(skipped: list[Skipped], total: int) -> str:
    """``skipped 3 of 1,800 files: 2 could not be decoded, 1 is not a picture``."""
    kinds = Counter(_kind(item.reason) for item in skipped)
    parts = ", ".join(f"{count:,} {kind}" for kind, count in kinds.most_common())
    return f"skipped {len(skipped):,} of {total:,} files: {parts}"


def _kind(reason: str) -> str:
    if reason.startswith("not a picture file"):
        return "not a picture"
    if reason.startswith("not in a class folder"):
        return "outside the class folders"
    if reason.startswith(("cannot be read", "a link back")):
        return "could not be read"
    return "could not be decoded"


def picture_splits(index: PictureIndex, options: PictureOptions, *, val_fraction: float,
                   seed: int, progress: bool = True,
                   log: Callable[[str], None] = print) -> PictureSplits:
    """The splits of ``index``'s pictures, decoded once into the cache (see the module
    docstring); a class too small to split is refused, naming it."""
    cache = load_or_build(index, options, progress=progress, log=log)
    rows = {split: cache.rows(split) for split in ("train", "val", "test")}
    labels = cache.labels()
    if not len(rows["val"]):
        kept, held = stratified_indices(labels[rows["train"]], val_fraction, seed,
                                        class_names=index.classes)
        rows["train"], rows["val"] = rows["train"][kept], rows["train"][held]
    data = _holder(cache, labels)
    mean, std = _statistics(data, rows["train"])
    parts = {split: data(part, mean, std, split) for split, part in rows.items() if len(part)}
    return PictureSplits(parts["train"], parts["val"], parts.get("test"), cache,
                         _notes(index, cache, rows))


# (rows, mean, std, split name) -> that split of the cache, in memory or on disk
SplitMaker = Callable[[np.ndarray, tuple, tuple, str], ImageSplit]


def _holder(cache: PictureCache, labels: np.ndarray) -> SplitMaker:
    """A maker of the splits' data: views of the pixels in memory, or of the cache file."""
    if cache.nbytes() <= MEMORY_SHARE * available_memory():
        pixels = torch.from_numpy(cache.pixels())  # (N, C, H, W) uint8
        everything = torch.from_numpy(labels)

        def in_memory(rows: np.ndarray, mean, std, split: str) -> ImageData:
            index = torch.from_numpy(rows)
            return ImageData(pixels[index], everything[index], cache.index.classes, mean, std,
                             f"{cache.index.source} [{split}]")
        return in_memory

    def mapped(rows: np.ndarray, mean, std, split: str) -> MappedImageData:
        return MappedImageData.of(cache.images_path, cache.labels_path, rows,
                                  cache.index.classes, mean, std,
                                  f"{cache.index.source} [{split}]")
    return mapped


def _statistics(data: SplitMaker,
                rows: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on [0, 1] of the training pictures, from a histogram of
    their 256 levels per channel: exact, and read :data:`STATISTICS_BYTES` at a time (a
    count is 8 bytes a pixel, so the chunk stays small whatever the pictures' size)."""
    whole = data(rows, (0.0,), (1.0,), "train")  # statistics are not used by take()
    channels, height, width = whole.image_shape
    chunk = max(1, STATISTICS_BYTES // (channels * height * width))
    counts = np.zeros((channels, 256), dtype=np.int64)
    for start in range(0, len(rows), chunk):
        pixels = whole.take(np.arange(start, min(start + chunk, len(rows)))).numpy()
        for channel in range(channels):
            counts[channel] += np.bincount(pixels[:, channel].ravel(), minlength=256)
    levels = np.arange(256) / 255.0
    total = counts.sum(axis=1)
    mean = (counts * levels).sum(axis=1) / total
    variance = (counts * levels**2).sum(axis=1) / total - mean**2
    std = np.maximum(np.sqrt(np.maximum(variance, 0)), 1e-3)
    return tuple(round(float(m), 6) for m in mean), tuple(round(float(s), 6) for s in std)


def _notes(index: PictureIndex, cache: PictureCache, rows: dict[str, np.ndarray]) -> list[str]:
    picture = cache.picture
    counts = ", ".join(f"{len(part):,} {split}" for split, part in rows.items() if len(part))
    notes = [f"your pictures ({index.layout}): {len(index.classes)} classes, {counts}; "
             f"{picture.size}x{picture.size}, {picture.channels} channel"
             f"{'s' * (picture.channels > 1)}, resized by {picture.resize}"]
    if index.numeric_order:
        notes.append("the class folders are numbers: ordered as numbers ("
                     + ", ".join(index.classes[:4]) + (", ..." if len(index.classes) > 4
                                                       else "") + ")")
    if cache.skipped:
        notes.append(skip_summary(cache.skipped, len(index.pictures) + len(index.skipped)))
    return notes


def folder_summary(index: PictureIndex, cache: PictureCache) -> dict:
    """What ``torchbasics data info FOLDER`` reports: the layout, the classes (and whether
    ordered as numbers), pictures per class and split, their sizes, the picture format
    they are cached in, and every file skipped with the reason."""
    from torchbasics.data.decode import header

    sizes: Counter = Counter()
    for row in np.flatnonzero(cache.usable):
        try:
            width, height, _ = header(index.pictures[row].path)
            sizes[f"{width}x{height}"] += 1
        except TorchbasicsError:  # changed since the cache was built: counted as it was
            continue
    counts = {split: [0] * len(index.classes) for split in ("train", "val", "test")}
    labels = cache.labels()
    for row in np.flatnonzero(cache.usable):
        counts[index.pictures[row].split][labels[row]] += 1
    return {
        "source": index.source, "layout": index.layout, "classes": list(index.classes),
        "classes_ordered_as_numbers": index.numeric_order,
        "counts": {split: values for split, values in counts.items() if sum(values)},
        "picture_sizes": dict(sizes.most_common()), "cached_as": {
            "size": cache.picture.size, "channels": cache.picture.channels,
            "resize": cache.picture.resize, "folder": str(cache.folder)},
        "skipped": [{"file": item.name, "reason": item.reason} for item in cache.skipped],
    }
