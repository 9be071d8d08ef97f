"""Get a data set's split into memory: find its files, or download them, then read them."""

from __future__ import annotations

import os

from torchbasics.data.image_data import ImageData, load_idx_pair
from torchbasics.data.locate import Located, cache_dir, describe_search, find_dataset
from torchbasics.data.registry import SPLITS, DatasetSpec, get_dataset, image_datasets
from torchbasics.errors import TorchbasicsError, closest


def locate(
    spec: DatasetSpec | str,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> Located:
    """Find ``spec``'s files on the search path; download them when missing and allowed.

    Downloads go to ``data_dir`` when given, else to the user cache.

    Raises:
        TorchbasicsError: not found and not downloadable, with every place looked in and
            how to get the files.
    """
    spec = get_dataset(spec) if isinstance(spec, str) else spec
    if spec.kind != "image":
        raise TorchbasicsError(
            f"'{spec.name}' is not an image data set", fix=closest(spec.name, image_datasets())
        )
    located = find_dataset(spec, data_dir)
    if located is not None:
        return located
    searched = describe_search(spec, data_dir)
    if download and spec.mirrors:
        from torchbasics.data.download import download_dataset

        target = data_dir if data_dir is not None else cache_dir() / spec.folders[0]
        try:
            directory = download_dataset(spec, target, progress=progress)
        except TorchbasicsError as exc:
            raise TorchbasicsError(
                f"{spec.title} not found, and the download failed: {exc.message}; "
                f"looked in {searched}",
                fix=spec.how_to_get,
            ) from exc
        return Located(spec, directory, "downloaded")
    raise TorchbasicsError(
        f"{spec.title} not found; looked in {searched}", fix=spec.how_to_get
    )


def load_split(
    spec: DatasetSpec | str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> ImageData:
    """Read one split (``train`` or ``test``) of a registered image data set into memory."""
    spec = get_dataset(spec) if isinstance(spec, str) else spec
    if split not in SPLITS:
        raise TorchbasicsError(f"unknown split '{split}'", fix=closest(split, list(SPLITS)))
    located = locate(spec, data_dir, download=download, progress=progress)
    return load_located(located, split)


def load_located(located: Located, split: str) -> ImageData:
    """Read ``split`` from a folder found by :func:`locate`."""
    spec = located.spec
    return load_idx_pair(
        located.path(split, "images"),
        located.path(split, "labels"),
        class_names=spec.class_names,
        mean=spec.mean,
        std=spec.std,
        source=f"{spec.name}/{split}",
    )
