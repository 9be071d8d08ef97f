"""Folders of pictures for the tests: classes told apart by colour and by shape, any size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (50, 60, 210)}


def picture(label: int, rng: np.random.Generator, size: tuple[int, int] = (32, 32),
            gray: bool = False) -> Image.Image:
    """A picture of class ``label``: a bar across it whose place (and, in colour, whose
    colour) is the class, on noise."""
    width, height = size
    pixels = rng.integers(0, 60, (height, width, 3)).astype(np.uint8)
    top = label * height // 3
    pixels[top:top + height // 3] = list(COLOURS.values())[label % 3]
    image = Image.fromarray(pixels)
    return image.convert("L") if gray else image


def picture_folder(root: Path, *, splits: tuple[str, ...] = (), per_class: int = 12,
                   sizes: tuple[tuple[int, int], ...] = ((32, 32), (40, 30), (24, 36)),
                   gray: bool = False, seed: int = 0, suffix: str = ".png") -> Path:
    """Class folders ``red/``, ``green/``, ``blue/`` of ``per_class`` pictures each (of the
    sizes given, in turn), inside each of ``splits`` (e.g. ``("train", "test")``) or
    directly in ``root``."""
    rng = np.random.default_rng(seed)
    for split in splits or ("",):
        for label, name in enumerate(COLOURS):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                size = sizes[index % len(sizes)]
                picture(label, rng, size, gray).save(folder / f"{index:03d}{suffix}")
    return root
