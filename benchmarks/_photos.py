"""Real public pictures written as the photos a user would bring: folders of JPEGs of many
sizes, colour and gray, tinted paper, the object off-centre. For the own-data benchmarks.

- :func:`digits_folder`: scikit-learn's 8x8 UCI handwritten digits (1,797), class folders
  named by word (``zero`` ... ``nine``);
- :func:`fashion_folder`: Fashion-MNIST training pictures (Debian's
  ``dataset-fashion-mnist``), class folders named as the data set names its classes.

Each writes ``train/`` and ``test/`` folders of class folders (a stratified split), so
``torchbasics train --dataset FOLDER`` trains and validates on ``train/`` and ``evaluate``
tests on ``test/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def photo(ink: np.ndarray, side: int, rng: np.random.Generator, *, gray: bool):
    """``ink`` (2-d, 0..1, 1 = ink) as a ``side``-pixel photo: a lit, grainy, tinted page,
    the picture placed off-centre in a coloured ink; a PIL image."""
    from PIL import Image, ImageFilter

    size = int(side * rng.uniform(0.6, 0.9))
    strokes = Image.fromarray((255 * ink).astype(np.uint8)).resize((size, size),
                                                                   Image.Resampling.BICUBIC)
    mask = np.asarray(strokes, dtype=np.float64)[..., None] / 255.0
    paper = rng.uniform(150, 245, 3) * np.linspace(0.8, 1.1, side)[:, None, None]
    page = np.broadcast_to(paper, (side, side, 3)).copy()
    top, left = rng.integers(0, side - size + 1, 2)
    colour = rng.uniform(10, 120, 3)
    window = page[top:top + size, left:left + size]
    page[top:top + size, left:left + size] = window * (1 - mask) + colour * mask
    page += rng.normal(0, 6, page.shape)
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return image.convert("L") if gray else image


def write_folder(folder: Path, inks: np.ndarray, labels: np.ndarray, names: list[str], *,
                 test_share: float, sides: tuple[int, int], seed: int = 0) -> Path:
    """``inks`` (N, H, W in 0..1) as photos in ``folder/train`` and ``folder/test`` (a share
    of each class), a third of them gray, sides drawn from ``sides``."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(names):
        members = rng.permutation(np.flatnonzero(labels == label))
        tests = round(test_share * len(members))
        for rank, index in enumerate(members):
            split = "test" if rank < tests else "train"
            target = folder / split / name.replace("/", "_")
            target.mkdir(parents=True, exist_ok=True)
            side = int(rng.integers(sides[0], sides[1] + 1))
            image = photo(inks[index], side, rng, gray=rng.random() < 1 / 3)
            image.save(target / f"{index:05d}.jpg", quality=90)
    return folder


def digits_folder(folder: Path, seed: int = 0) -> Path:
    """The 1,797 UCI digits as photos of 40-140 px, a fifth of each class for testing."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return write_folder(folder, digits.images / 16.0, digits.target, list(WORDS),
                        test_share=0.2, sides=(40, 140), seed=seed)


def fashion_folder(folder: Path, count: int = 1500, seed: int = 0) -> Path:
    """The first ``count`` Fashion-MNIST training pictures as photos of 48-160 px, a fifth
    of each class for testing."""
    from torchbasics.data.sources import load_split

    data = load_split("fashion-mnist", "train", download=False)
    inks = data.images[:count, 0].numpy() / 255.0
    return write_folder(folder, inks, data.labels[:count].numpy(), list(data.class_names),
                        test_share=0.2, sides=(48, 160), seed=seed)
