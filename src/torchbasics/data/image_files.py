"""Picture files named by a list file, read into an in-memory
:class:`~torchbasics.data.image_data.ImageData` shaped like a registered data set's split.

Each file is opened and resized by :mod:`torchbasics.data.decode` (squashed to the split's
size, as list files always were), the one place the package opens a picture file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm  # text bars: tqdm.auto warns in notebooks without ipywidgets

from torchbasics.data.decode import fit_picture, open_picture
from torchbasics.data.image_data import ImageData
from torchbasics.data.listfile import read_list_file
from torchbasics.errors import TorchbasicsError

PROGRESS_MIN = 1000  # show a progress bar from this many files on


def read_image(
    path: str | os.PathLike, size: tuple[int, int] = (28, 28), channels: int = 1
) -> np.ndarray:
    """Read an image file as ``(channels, H, W)`` uint8 pixels of the given ``size``.

    Colour becomes grayscale for 1 channel; transparent pixels are shown over white, as
    image viewers do. An image of another size is squashed to it (antialiased, aspect
    ratio not kept); there is no MNIST-style centring of the ink.

    Args:
        path: a PNG, JPEG, BMP, ... file.
        size: ``(H, W)`` of the result.
        channels: 1 (grayscale) or 3 (RGB).

    Raises:
        TorchbasicsError: the file is missing, corrupt, not an image or too large.
    """
    picture = open_picture(path, fix="re-save it as PNG or JPEG, or remove it from the list")
    return fit_picture(picture, (channels, *size), "squash")


def load_image_list(
    list_path: str | os.PathLike,
    class_names: Sequence[str],
    mean: Sequence[float],
    std: Sequence[float],
    size: tuple[int, int] = (28, 28),
    *,
    channels: int = 1,
    progress: bool = True,
) -> ImageData:
    """Read every image a path list file names into memory, with its label.

    Args:
        list_path: the list file (image paths, see :mod:`torchbasics.data.listfile`).
        class_names: the classes the labels refer to.
        mean, std: per-channel normalization statistics the data will carry.
        size: ``(H, W)`` every image is resized to.
        channels: 1 (grayscale) or 3 (RGB).
        progress: show a progress bar (only from ``PROGRESS_MIN`` files on).

    Raises:
        TorchbasicsError: a bad list file, or an unreadable image (named ``list:LINE``).
    """
    listed = read_list_file(list_path, class_names=class_names, expect="paths")
    images = np.empty((len(listed), channels, *size), dtype=np.uint8)  # (N, C, H, W)
    bar = tqdm(listed.paths, desc=f"reading {listed.source.name}", unit="image",
               disable=not progress or len(listed) < PROGRESS_MIN or not sys.stderr.isatty())
    for index, path in enumerate(bar):
        try:
            images[index] = read_image(path, size, channels)
        except TorchbasicsError as exc:
            raise _at(exc, listed.where(index), path) from None
    return ImageData(
        images=torch.from_numpy(images),
        labels=torch.from_numpy(listed.labels),
        class_names=tuple(class_names),
        mean=tuple(mean),
        std=tuple(std),
        source=str(listed.source),
    )


def _at(exc: TorchbasicsError, origin: str, path: Path) -> TorchbasicsError:
    """``exc`` about image ``path``, re-addressed to the list line that names it."""
    return TorchbasicsError(f"{path}: {exc.what}", where=origin, fix=exc.fix)


def load_list(list_path: str | os.PathLike, split: ImageData) -> ImageData:
    """A list file as data: IDs select images of ``split``; image paths are read from disk.

    Images read from disk are shaped like ``split``'s and take its class names and
    normalization, so a model trained on the data set accepts them as they are.
    """
    listed = read_list_file(list_path, class_names=split.class_names, num_ids=len(split))
    if listed.kind == "ids":
        return split.subset(listed.ids, label=listed.source.name)
    channels, height, width = split.image_shape
    return load_image_list(list_path, split.class_names, split.mean, split.std,
                           size=(height, width), channels=channels)
