"""Numeric CSV tables, checked cell by cell: a bad value is refused, naming its row and column.

Every cell is read as text first (pandas guesses nothing), then parsed and checked against
its :class:`Column`: empty, not a number, NaN or infinite, not whole, out of range. The
first bad cell is reported as ``file, row R (line L), column 'name': what``, where row 1
is the first data row and line counts the header too, as an editor does.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from torchbasics.errors import TorchbasicsError

if TYPE_CHECKING:
    import pandas as pd


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


def read_csv_text(path: str | os.PathLike) -> pd.DataFrame:
    """Every cell of a CSV as stripped text, nothing guessed or converted; headers stripped."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise TorchbasicsError("file not found", where=path,
                               fix="check the path (a CSV with a header row)")
    try:
        # header=None: the header is read as a row, so a data row longer than it is an
        # error; with header=0, pandas would silently make its extra cells the index and
        # shift every value one column over.
        cells = pd.read_csv(path, header=None, dtype=str, keep_default_na=False,
                            na_filter=False)
    except pd.errors.EmptyDataError:
        raise TorchbasicsError("the file is empty", where=path,
                               fix="give a CSV with a header row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TorchbasicsError(f"not a readable CSV ({str(exc).strip().splitlines()[-1]})",
                               where=path, fix="check the file is comma-separated text") from exc
    names = [str(name).strip() for name in cells.iloc[0]]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TorchbasicsError(f"the header names {_columns(repeated)} more than once",
                               where=path, fix="give every column its own name")
    frame = cells.iloc[1:].reset_index(drop=True)
    frame.columns = names
    return frame.fillna("").apply(lambda column: column.str.strip())


def check_columns(
    frame: pd.DataFrame, expected: Sequence[str], where: str | os.PathLike, *,
    allow_extra: bool = False, fix: str = "",
) -> None:
    """Refuse a CSV without every ``expected`` column (or, unless allowed, with others)."""
    found = ", ".join(map(str, frame.columns)) or "none"
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        raise TorchbasicsError(
            f"no {_columns(missing)} (columns found: {found})", where=where,
            fix=fix or f"the CSV needs the columns {', '.join(expected)}",
        )
    extra = [name for name in frame.columns if name not in expected]
    if extra and not allow_extra:
        raise TorchbasicsError(
            f"unexpected {_columns(extra)}: the columns must be exactly "
            f"{', '.join(expected)}", where=where,
            fix=fix or "remove the other columns",
        )


def parse_column(frame: pd.DataFrame, column: Column, where: str | os.PathLike) -> np.ndarray:
    """The cells of ``column`` as float64 ``(N,)``, or an error naming the first bad cell."""
    import pandas as pd

    text = frame[column.name].to_numpy(dtype=str)
    values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
    good = np.isfinite(values)
    if column.integer:
        good &= values == np.round(values)
    if column.minimum is not None:
        good &= values >= column.minimum
    if column.maximum is not None:
        good &= values <= column.maximum
    bad = np.flatnonzero(~good)
    if len(bad):
        row = int(bad[0])
        raise TorchbasicsError(
            _cell_problem(text[row], values[row], column),
            where=f"{where}, row {row + 1} (line {row + 2}), column '{column.name}'",
            fix=f"{column.name} must be {column.allowed()} in every row",
        )
    return values


def _cell_problem(text: str, value: float, column: Column) -> str:
    """What is wrong with one cell whose parsed ``value`` failed a check."""
    if text == "":
        return "the cell is empty"
    if math.isnan(value):
        return "NaN is not a value" if text.lower() in {"nan", "+nan", "-nan"} else (
            f"'{text}' is not a number")
    return column.problem(value) or f"'{text}' is not allowed"


def load_table(
    path: str | os.PathLike, columns: Sequence[Column], target: Column, *, fix: str = ""
) -> Table:
    """Read a CSV of exactly the ``columns`` and the ``target``, every cell checked.

    Args:
        path: the CSV file (a header row, then one row per sample).
        columns: the feature columns, in the order the model takes them.
        target: the column to predict.
        fix: how to put a wrong set of columns right (e.g. which flags rename them).
    """
    frame = read_csv_text(path)
    check_columns(frame, [*(c.name for c in columns), target.name], path, fix=fix)
    if len(frame) == 0:
        raise TorchbasicsError("the CSV has a header but no rows", where=path,
                               fix="add data rows")
    features = np.stack([parse_column(frame, column, path) for column in columns], axis=1)
    values = parse_column(frame, target, path)
    return Table(
        features=torch.from_numpy(features.astype(np.float32)),  # (N, F)
        target=torch.from_numpy(values.astype(np.float32)).unsqueeze(1),  # (N, 1)
        columns=tuple(columns), target_column=target, source=str(path),
    )


def _columns(names: Sequence[str]) -> str:
    """``column 'a'`` or ``columns 'a', 'b'``."""
    return ("column " if len(names) == 1 else "columns ") + ", ".join(f"'{n}'" for n in names)
