"""Real handwritten digits that every machine has: scikit-learn's copy of the UCI 8x8 digits
(1,797 pictures by 43 writers, Alpaydin and Kaynak, 1998), scaled up as MNIST's are (the
digit in a 20x20 box inside 28x28, white ink on black).

- :func:`digits_folder`: class folders of PNGs, for the tests of your own pictures and
  ``explain``, which then need no download and never skip;
- :func:`stand_in_mnist`: MNIST's four IDX files made of them, for the tests that train a
  digit model to test something else (the server, export, prediction) on a machine
  without MNIST: a newcomer's test run. Tests of MNIST itself use ``real_data_dir``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 28
STAND_IN_TEST = 397  # the last pictures are the stand-in's test split; 1,400 train


@cache
def digit_pictures() -> tuple[np.ndarray, np.ndarray]:
    """Every UCI digit as a ``(1797, 28, 28)`` uint8 picture, and its label."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pictures = np.zeros((len(digits.target), SIZE, SIZE), dtype=np.uint8)
    for row, pixels in enumerate(digits.images):
        image = Image.fromarray(np.uint8(pixels * 255 / 16)).resize((20, 20),
                                                                      Image.Resampling.BICUBIC)
        pictures[row, 4:24, 4:24] = np.asarray(image)
    return pictures, digits.target.astype(np.uint8)


def digits_folder(root: Path, test_share: float = 0.25, seed: int = 0) -> Path:
    """``root/train/<digit>/`` and ``root/test/<digit>/`` PNGs, a seeded share as test."""
    pictures, labels = digit_pictures()
    order = np.random.default_rng(seed).permutation(len(labels))
    tested = set(order[:round(test_share * len(order))].tolist())
    for row, (picture, label) in enumerate(zip(pictures, labels, strict=True)):
        folder = root / ("test" if row in tested else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(picture).save(folder / f"{row:04d}.png")
    return root


def stand_in_mnist(folder: Path) -> Path:
    """``folder`` holding MNIST's four file names, of the UCI digits (1,400 train, 397
    test): what MNIST's loaders, recipes (deskewing) and picture preparation take."""
    from torchbasics.data.idx import write_idx

    pictures, labels = digit_pictures()
    folder.mkdir(parents=True, exist_ok=True)
    split = len(labels) - STAND_IN_TEST
    for prefix, part in (("train", slice(None, split)), ("t10k", slice(split, None))):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", pictures[part])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[part])
    return folder
