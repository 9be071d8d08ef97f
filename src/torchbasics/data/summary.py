"""Facts about a data set as found on this machine: counts, balance, statistics, origin."""

from __future__ import annotations

import os
from typing import Any

from torchbasics.data.image_data import ImageData
from torchbasics.data.locate import Located
from torchbasics.data.sources import load_located


def split_summary(data: ImageData) -> dict[str, Any]:
    """Count, per-class counts and measured pixel mean/std (on [0, 1]) of one split."""
    pixels = data.images.float().div_(255.0)
    # Per channel: reduce over images, height and width.
    mean = pixels.mean(dim=(0, 2, 3)).tolist()
    std = pixels.std(dim=(0, 2, 3)).tolist()
    return {
        "count": len(data),
        "class_counts": data.class_counts(),
        "measured_mean": [round(m, 4) for m in mean],
        "measured_std": [round(s, 4) for s in std],
    }


def dataset_summary(located: Located) -> dict[str, Any]:
    """Everything ``torchbasics data info`` reports about a located data set."""
    spec = located.spec
    splits: dict[str, Any] = {}
    image_shape: tuple[int, ...] = ()
    for split, files in spec.splits.items():
        data = load_located(located, split)
        image_shape = data.image_shape
        splits[split] = split_summary(data) | {"official_count": files.count}
    return {
        "name": spec.name,
        "title": spec.title,
        "found_in": os.fspath(located.directory),
        "found_via": located.origin,
        "official_files": located.official_files(),
        "image_shape": list(image_shape),
        "classes": list(spec.class_names),
        "normalize_mean": list(spec.mean),
        "normalize_std": list(spec.std),
        "splits": splits,
    }
