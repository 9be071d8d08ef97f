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
(``torchbasics/resources/bonus.csv``) with :func:`generate_bonus` and :func:`bonus_csv`.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from torchbasics.resources import resource_path
from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.table import Column, Table, load_table

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

CSV = "bonus.csv"  # shipped in torchbasics.resources


def generate_bonus(rows: int = ROWS, seed: int = SEED) -> dict[str, np.ndarray]:
    """The synthetic employees and their bonuses, by the rule in this module's docstring.

    The same ``rows`` and ``seed`` give the same table, to the cent.

    Returns:
        The columns in the CSV's order (``performance_rating``, ``years_experience``,
        ``projects_completed``, ``bonus``), each ``(rows,)``: int64 ratings and projects,
        float64 years and bonus.
    """
    rng = np.random.default_rng(seed)
    years = np.minimum(np.round(rng.gamma(shape=2.0, scale=4.0, size=rows), 1), 40.0)
    projects = rng.poisson(2.0 + 1.5 * years)
    rating = np.clip(np.round(rng.normal(5.5 + 0.05 * years, 1.8)), 1, 10).astype(np.int64)
    features = np.column_stack([rating, years, projects])  # (N, 3), column order of FEATURES
    bonus = TRUE_FORMULA.predict(features) + rng.normal(0.0, NOISE_STD, size=rows)
    return {"performance_rating": rating, "years_experience": years,
            "projects_completed": projects, "bonus": np.round(bonus, 2)}


def bonus_csv(table: dict[str, np.ndarray]) -> str:
    """``table`` (as :func:`generate_bonus` returns it) as CSV text: a header, then a line per
    employee, each number in its shortest exact form (``9.5``, ``10.0``, ``8225.94``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table)
    # .tolist() gives Python ints and floats, whose str() is the shortest exact form.
    writer.writerows(zip(*(column.tolist() for column in table.values()), strict=True))
    return buffer.getvalue()


# The staff table (generate_staff): the same employees in a department that moves their
# bonus by this much, as an HR export has them.
DEPARTMENTS = {"engineering": 400.0, "sales": 0.0, "support": -300.0}
MISSING_SHARE = {"years_experience": 0.05, "department": 0.02}  # cells left empty


def generate_staff(rows: int = ROWS, seed: int = SEED) -> tuple[list[str], list[list[str]]]:
    """The bonus employees as a spreadsheet of a real HR department holds them: a table to
    try ``--dataset FILE.csv`` on (``torchbasics data export bonus --staff``).

    Besides the bonus table's columns: ``employee_id`` (1, 2, ...: nothing to learn from),
    ``department`` (engineering, sales or support, which adds :data:`DEPARTMENTS` to the
    bonus), ``company`` (the same in every row), and empty cells
    (:data:`MISSING_SHARE`). The same ``rows`` and ``seed`` give the same table.

    Returns:
        The header and the rows, as CSV cells.
    """
    table = generate_bonus(rows, seed)
    rng = np.random.default_rng(seed + 1)  # its own stream: the employees stay the same
    department = rng.choice(list(DEPARTMENTS), size=rows)
    bonus = table["bonus"] + np.array([DEPARTMENTS[d] for d in department])
    cells = {"employee_id": [str(i + 1) for i in range(rows)],
             "department": list(department),
             "performance_rating": [str(v) for v in table["performance_rating"]],
             "years_experience": [f"{v:g}" for v in table["years_experience"]],
             "projects_completed": [str(v) for v in table["projects_completed"]],
             "company": ["Acme"] * rows, "bonus": [f"{v:.2f}" for v in bonus]}
    for name, share in MISSING_SHARE.items():
        for row in rng.choice(rows, size=round(share * rows), replace=False):
            cells[name][row] = ""
    header = list(cells)
    return header, [[cells[name][row] for name in header] for row in range(rows)]


def default_csv() -> Path:
    """The bonus CSV that ships inside the package, wherever it is installed."""
    return resource_path(CSV)


def load_bonus(csv: str | os.PathLike | None = None) -> Table:
    """The bonus table: the shipped CSV, or ``csv`` with the same columns.

    Returns:
        A :class:`Table` of ``(N, 3)`` float32 features (rating, years, projects) and the
        ``(N, 1)`` float32 bonus; every cell checked (see :mod:`torchbasics.tabular.table`).
    """
    path = default_csv() if csv is None else Path(csv)
    return load_table(path, FEATURES, TARGET)
