"""Numeric tables whose columns are declared (the bonus data), checked cell by cell.

Every cell is read as text first (:mod:`.csvfile`), then parsed and checked against its
:class:`Column`: empty, not a number, NaN or infinite, not whole, out of range. The first
bad cell is reported as ``file, row R (line L), column 'name': what``, where row 1 is the
first data row and line counts the header too, as an editor does. Tables of any columns
are read by :mod:`.schema` instead, which decides what each column holds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.tabular.csvfile import CsvTable, columns_text, read_csv

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Column:
    """One numeric column and the values it may hold.

    Attributes:
        name: its header in the CSV.
        minimum, maximum: inclusive bounds; ``None`` for none.
        integer: whole numbers only.
        flag: the ``predict`` option giving this feature for a single row (e.g. ``"rating"``).
    """

    name: str
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    flag: str | None = None

    def allowed(self) -> str:
        """The rule in words, e.g. ``"a whole number from 1 to 10"``."""
        kind = "a whole number" if self.integer else "a number"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{kind} from {low:g} to {high:g}"
        if low is not None:
            return f"{kind} ≥ {low:g}"
        if high is not None:
            return f"{kind} ≤ {high:g}"
        return kind

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed here, or ``None`` when it is."""
        if math.isnan(value):
            return "NaN is not a value"
        if math.isinf(value):
            return f"{value} is not a finite number"
        if self.integer and value != round(value):
            return f"{value:g} is not a whole number ({self.name} is {self.allowed()})"
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            return f"{value:g} is out of range ({self.name} is {self.allowed()})"
        return None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Column:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**values)


@dataclass
class Table:
    """Rows of numeric features and a target, as float32 tensors.

    Attributes:
        features: ``(N, F)`` float32, columns in the order of ``columns``.
        target: ``(N, 1)`` float32.
        columns: the feature columns.
        target_column: the target column.
        source: where the rows came from (a path).
    """

    features: torch.Tensor  # (N, F) float32
    target: torch.Tensor  # (N, 1) float32
    columns: tuple[Column, ...]
    target_column: Column
    source: str

    def __len__(self) -> int:
        return len(self.target)

    @property
    def names(self) -> list[str]:
        """The feature names, in column order."""
        return [column.name for column in self.columns]

    def rows(self, index: Sequence[int] | np.ndarray) -> Table:
        """The table restricted to the rows ``index`` (in that order)."""
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        return Table(self.features[index], self.target[index], self.columns,
                     self.target_column, self.source)


def parse_column(table: CsvTable, column: Column) -> np.ndarray:
    """The cells of ``column`` as float64 ``(N,)``, or an error naming the first bad cell:
    empty, not a number, NaN or infinite, or outside the column's rule."""
    for row, text in enumerate(table.columns[column.name]):
        problem = _cell_problem(text, column)
        if problem:
            raise TorchbasicsError(problem, where=table.where(row, column.name),
                                   fix=f"{column.name} must be {column.allowed()} in every row")
    return np.array([float(text) for text in table.columns[column.name]], dtype=np.float64)


def _cell_problem(text: str, column: Column) -> str | None:
    """What is wrong with one cell, or ``None``."""
    if text == "":
        return "the cell is empty"
    try:
        value = float(text)
    except ValueError:
        return f"'{text}' is not a number"
    if math.isfinite(value) and abs(value) > FLOAT32_MAX:  # the model's numbers: infinite
        return f"'{text}' is too large (the largest a float32 holds is {FLOAT32_MAX:.3g})"
    return column.problem(value)


def load_table(
    path: str | os.PathLike, columns: Sequence[Column], target: Column, *, fix: str = ""
) -> Table:
    """Read a CSV of exactly the ``columns`` and the ``target``, every cell checked.

    Args:
        path: the CSV file (a header row, then one row per sample).
        columns: the feature columns, in the order the model takes them.
        target: the column to predict.
        fix: how to put a wrong set of columns right.
    """
    table = read_csv(path)
    expected = [*(c.name for c in columns), target.name]
    table.require(expected, fix=fix or f"the CSV needs the columns {', '.join(expected)}")
    extra = [name for name in table.names if name not in expected]
    if extra:
        raise TorchbasicsError(f"unexpected {columns_text(extra)}: the columns must be exactly "
                               f"{', '.join(expected)}", where=path, fix=fix or "remove the "
                               "other columns")
    features = np.stack([parse_column(table, column) for column in columns], axis=1)
    values = parse_column(table, target)
    return Table(
        features=torch.from_numpy(features.astype(np.float32)),  # (N, F)
        target=torch.from_numpy(values.astype(np.float32)).unsqueeze(1),  # (N, 1)
        columns=tuple(columns), target_column=target, source=str(path),
    )
