"""Image files of any size and colour, read into model-ready ``(C, H, W)`` uint8 pixels.

Two ways in, like the IDX data: :class:`ImageFileDataset` reads each file when a sample
is asked for (the classic ``Dataset`` pipeline, for data too big for memory or with
per-sample transforms), and :func:`load_image_list` reads them all into an
:class:`~torchbasics.data.image_data.ImageData` for the fast in-memory loader.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset
from tqdm import tqdm  # text bars: tqdm.auto warns in notebooks without ipywidgets

from torchbasics.data.decode import to_mode
from torchbasics.data.image_data import ImageData
from torchbasics.data.listfile import read_list_file
from torchbasics.data.transforms import Transform
from torchbasics.errors import TorchbasicsError

PROGRESS_MIN = 1000  # show a progress bar from this many files on
_MODES = {1: "L", 3: "RGB"}


def read_image(
    path: str | os.PathLike, size: tuple[int, int] = (28, 28), channels: int = 1
) -> np.ndarray:
    """Read an image file as ``(channels, H, W)`` uint8 pixels of the given ``size``.

    Colour becomes grayscale for 1 channel; transparent pixels are shown over white, as
    image viewers do. An image of another size is resized (antialiased, aspect ratio not
    kept); there is no MNIST-style centring of the ink.

    Args:
        path: a PNG, JPEG, BMP, ... file.
        size: ``(H, W)`` of the result.
        channels: 1 (grayscale) or 3 (RGB).

    Raises:
        TorchbasicsError: the file is missing, corrupt or not an image.
    """
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    image = to_mode(open_image(path, fix="re-save it as PNG or JPEG, or remove it from the list"),
                    _MODES[channels])
    height, width = size
    if image.size != (width, height):
        # Pillow's LANCZOS filter widens with the scale factor, i.e. it antialiases.
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    pixels = np.array(image, dtype=np.uint8)  # (H, W) or (H, W, 3); a writable copy
    return pixels[None] if channels == 1 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


def open_image(path: str | os.PathLike, *,
               fix: str = "give a PNG, JPEG or BMP file") -> Image.Image:
    """Decode an image file (any format Pillow reads), upright as its EXIF tag says.

    Raises:
        TorchbasicsError: the file is missing, a folder, truncated or not an image (``fix``
            says what to do about an unreadable one).
    """
    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()  # decode now, so a truncated file fails here, not later
            return ImageOps.exif_transpose(opened)
    except FileNotFoundError:
        raise TorchbasicsError("image file not found", where=path, fix="check the path") from None
    except IsADirectoryError:
        raise TorchbasicsError("a folder, not an image", where=path) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise TorchbasicsError(f"cannot read the image ({exc})", where=path, fix=fix) from None


class ImageFileDataset(Dataset):
    """``dataset[i]`` -> ``(transform(image), label)``, reading image file ``i`` on demand.

    Picklable (paths, labels and the transforms are all it holds), so it works with
    ``DataLoader(num_workers>0)``.

    Args:
        paths: the image files.
        labels: one class index per file.
        class_names: the classes, in label order.
        size: ``(H, W)`` every image is resized to.
        channels: 1 (grayscale) or 3 (RGB).
        transform: applied to each ``(C, H, W)`` uint8 tensor; default none (uint8 out),
            e.g. ``standard_transform(mean, std)`` for normalized floats.
        target_transform: applied to each integer label.
        origins: how to name each sample in errors (e.g. ``list.txt:12``); default its path.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike],
        labels: Sequence[int] | np.ndarray,
        class_names: Sequence[str],
        *,
        size: tuple[int, int] = (28, 28),
        channels: int = 1,
        transform: Transform | None = None,
        target_transform: Callable[[int], object] | None = None,
        origins: Sequence[str] | None = None,
    ):
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths = [Path(p) for p in paths]
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = tuple(class_names)
        self.size = tuple(size)
        self.channels = channels
        self.transform = transform
        self.target_transform = target_transform
        self.origins = list(origins) if origins is not None else None

    @classmethod
    def from_list(
        cls, list_path: str | os.PathLike, class_names: Sequence[str], **kwargs
    ) -> ImageFileDataset:
        """The images a path list file names, with their labels (``kwargs`` as above)."""
        listed = read_list_file(list_path, class_names=class_names, expect="paths")
        origins = [listed.where(i) for i in range(len(listed))]
        return cls(listed.paths, listed.labels, class_names, origins=origins, **kwargs)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, object]:
        try:
            pixels = read_image(self.paths[index], self.size, self.channels)
        except TorchbasicsError as exc:
            if self.origins is None:
                raise
            raise _at(exc, self.origins[index], self.paths[index]) from None
        image = torch.from_numpy(pixels)  # (C, H, W) uint8
        if self.transform is not None:
            image = self.transform(image)
        label = int(self.labels[index])
        return image, self.target_transform(label) if self.target_transform else label


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
