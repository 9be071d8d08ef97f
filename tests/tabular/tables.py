"""Tables for the tests: numeric, categorical and missing cells, with a known rule."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

REGIONS = {"north": 30.0, "south": -10.0, "east": 0.0, "west": 55.0}  # price shift


def mixed_table(path: Path, rows: int = 400, seed: int = 0, *, task: str = "regression",
                missing: float = 0.05) -> Path:
    """A CSV of houses: ``id`` (a row number), ``area`` (numbers, some missing), ``region``
    (four categories, some missing), ``rooms`` (whole numbers), ``note`` (constant) and the
    target: ``price`` (area, rooms and region, plus noise), or for classification
    ``expensive`` (whether that price is above its median: yes/no)."""
    rng = np.random.default_rng(seed)
    area = rng.normal(100, 30, rows).round(1)
    rooms = rng.integers(1, 7, rows)
    region = rng.choice(list(REGIONS), rows)
    price = (50 + 2.0 * area + 15 * rooms + np.array([REGIONS[r] for r in region])
             + rng.normal(0, 10, rows))
    area_cells = [f"{value:g}" for value in area]
    region_cells = list(region)
    for cells in (area_cells, region_cells):
        for row in rng.choice(rows, size=int(missing * rows), replace=False):
            cells[row] = ""
    if task == "regression":
        target_name, target = "price", [f"{value:.2f}" for value in price]
    else:
        target_name = "expensive"
        target = ["yes" if value > np.median(price) else "no" for value in price]
    header = ["id", "area", "region", "rooms", "note", target_name]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in range(rows):
            writer.writerow([row + 1, area_cells[row], region_cells[row], rooms[row], "x",
                             target[row]])
    return path


def sklearn_table(path: Path, name: str) -> Path:
    """One of scikit-learn's own data sets (``breast_cancer``, ``wine``, ``diabetes``) as a
    CSV whose last column, ``target``, is the one to predict."""
    import sklearn.datasets

    frame = getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame
    frame.to_csv(path, index=False)
    return path
