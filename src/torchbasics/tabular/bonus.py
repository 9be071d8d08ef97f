"""The employee-bonus data set: its columns, the rule that generated it, and its loader.


The data is synthetic, so the true formula is known and a trained model can be checked
against it. Each of ``ROWS`` employees (seeded by ``SEED``) gets:

- ``years_experience``: Gamma(shape 2, scale 4) years, rounded to 0.1, capped at 40
  (mean 8, a long tail of veterans);
- ``projects_completed``: Poisson(2 + 1.5 · years): projects grow with experience, so
  the two features are strongly correlated (r ≈ 0.9), as in real HR data;
- ``performance_rating``: Normal(5.5 + 0.05 · years, 1.8), rounded and clipped to 1–10;
- ``bonus = 2,000 + 500·rating + 200·years + 50·projects + Normal(0, 400)``, in currency
  units, rounded to cents (:data:`TRUE_FORMULA`, :data:`NOISE_STD`).

``scripts/make_bonus_data.py`` writes the CSV that ships in the package
(``torchbasics/resources/bonus.csv``) with :func:`generate_bonus`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from torchbasics.errors import TorchbasicsError
from torchbasics.resources import resource_path
from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.table import Column, Table, load_table

if TYPE_CHECKING:
    import pandas as pd

SEED = 20240521
ROWS = 1000
NOISE_STD = 400.0  # currency units: the part of a bonus no feature explains

FEATURES = (
    Column("performance_rating", minimum=1, maximum=10, integer=True, flag="rating"),
    Column("years_experience", minimum=0, flag="years"),
    Column("projects_completed", minimum=0, integer=True, flag="projects"),
)
TARGET = Column("bonus")

TRUE_FORMULA = LinearFormula(
    target="bonus", intercept=2000.0,
    coefficients={"performance_rating": 500.0, "years_experience": 200.0,
                  "projects_completed": 50.0},
)

COLUMN_FLAGS_FIX = ("name the columns with --rating-column, --years-column, --projects-column "
                    "and --target-column")
CSV = "bonus.csv"  # shipped in torchbasics.resources


def generate_bonus(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    """The synthetic employees and their bonuses, by the rule in this module's docstring.

    The same ``rows`` and ``seed`` give the same table, to the cent.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    years = np.minimum(np.round(rng.gamma(shape=2.0, scale=4.0, size=rows), 1), 40.0)
    projects = rng.poisson(2.0 + 1.5 * years)
    rating = np.clip(np.round(rng.normal(5.5 + 0.05 * years, 1.8)), 1, 10).astype(np.int64)
    features = np.column_stack([rating, years, projects])  # (N, 3), column order of FEATURES
    bonus = TRUE_FORMULA.predict(features) + rng.normal(0.0, NOISE_STD, size=rows)
    return pd.DataFrame({
        "performance_rating": rating, "years_experience": years,
        "projects_completed": projects, "bonus": np.round(bonus, 2),
    })


def bonus_columns(
    feature_names: Sequence[str] | None = None, target_name: str | None = None
) -> tuple[tuple[Column, ...], Column]:
    """The feature columns and target column, renamed when the CSV calls them otherwise.

    Args:
        feature_names: the CSV's names for rating, years and projects, in that order.
        target_name: the CSV's name for the bonus.
    """
    features = FEATURES
    if feature_names is not None:
        if len(feature_names) != len(FEATURES):
            raise TorchbasicsError(
                f"{len(feature_names)} feature column names for {len(FEATURES)} features",
                fix="give the names of the rating, years and projects columns, in that order",
            )
        features = tuple(dataclasses.replace(column, name=name)
                         for column, name in zip(FEATURES, feature_names, strict=True))
    target = TARGET if target_name is None else dataclasses.replace(TARGET, name=target_name)
    names = [column.name for column in (*features, target)]
    if len(set(names)) != len(names):
        raise TorchbasicsError(f"a column is named twice ({', '.join(names)})",
                               fix=COLUMN_FLAGS_FIX + ", all different")
    return features, target


def default_csv() -> Path:
    """The bonus CSV that ships inside the package, wherever it is installed."""
    return resource_path(CSV)


def load_bonus(
    csv: str | os.PathLike | None = None,
    feature_names: Sequence[str] | None = None,
    target_name: str | None = None,
) -> Table:
    """The bonus table: the shipped CSV, or ``csv``, with its columns named as given.

    Returns:
        A :class:`Table` of ``(N, 3)`` float32 features (rating, years, projects) and the
        ``(N, 1)`` float32 bonus; every cell checked (see :mod:`torchbasics.tabular.table`).
    """
    features, target = bonus_columns(feature_names, target_name)
    path = default_csv() if csv is None else Path(csv)
    return load_table(path, features, target, fix=COLUMN_FLAGS_FIX)
