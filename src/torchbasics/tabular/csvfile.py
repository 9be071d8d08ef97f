"""Reading a CSV file's cells as text, safely: whatever is wrong is one line naming where.

A table is UTF-8 text (with or without a byte-order mark) with a header row; the delimiter
(comma, semicolon or tab) is detected from the first lines, quoted fields may hold the
delimiter, and every row must have as many cells as the header. Cells are returned as
stripped text, nothing guessed or converted: what a column holds is decided by
:mod:`torchbasics.tabular.schema`. Row numbers in messages count data rows from 1, line
numbers count the header too, as an editor does.

Written with Python's ``csv`` module rather than pandas: these tables are small, and
importing pandas costs a command more than reading them (``benchmarks/startup.py``).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torchbasics.errors import TorchbasicsError
from torchbasics.memory import available_memory

DELIMITERS = ",;\t"
SNIFF_BYTES = 64 * 1024  # the sample the delimiter is detected from
# A table is read whole into memory, each cell a Python string of ~60 bytes for a few
# bytes of text: a file larger than this share of the memory available is refused.
MEMORY_SHARE = 1 / 16
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_SHOWN = 40  # characters of a cell or name quoted in a message


@dataclass(frozen=True)
class CsvTable:
    """The header and the cells of a CSV file, by column.

    Attributes:
        source: the file, for messages.
        names: the header, stripped, in file order.
        columns: name -> the column's cells, stripped text, one per data row.
    """

    source: str
    names: tuple[str, ...]
    columns: dict[str, list[str]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def where(self, row: int, column: str) -> str:
        """``file, row R (line L), column 'name'`` of a 0-based data row."""
        return f"{self.source}, row {row + 1} (line {row + 2}), column '{column}'"

    def require(self, names: Sequence[str], fix: str) -> None:
        """Refuse a table without every one of ``names`` (one line naming the missing)."""
        missing = [name for name in names if name not in self.columns]
        if missing:
            found = ", ".join(shorten(name) for name in self.names) or "none"
            raise TorchbasicsError(f"no {columns_text(missing)} (columns found: {found})",
                                   where=self.source, fix=fix)


def read_csv(path: str | os.PathLike) -> CsvTable:
    """Read every cell of a CSV file (see the module docstring).

    Raises:
        TorchbasicsError: missing, too large for memory, empty, binary, not UTF-8, a
            header without rows, a repeated or empty column name, a ragged row.
    """
    path = Path(path)
    text = _text(path)
    dialect = _dialect(text[:SNIFF_BYTES], path)
    rows = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = [cell.strip() for cell in next(rows)]
    except StopIteration:
        raise _empty(path) from None
    except csv.Error as exc:
        raise TorchbasicsError(f"not a readable CSV ({exc})", where=f"{path}, line 1") from None
    _check_header(header, path)
    cells: list[list[str]] = [[] for _ in header]
    for line, row in _rows(rows, path):
        if len(row) != len(header):
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            raise TorchbasicsError(
                f"line {line} has {len(row)} cells, the header has {len(header)}",
                where=path, fix="every row needs one cell per column; quote cells that "
                "hold the delimiter")
        for column, cell in zip(cells, row, strict=True):
            column.append(cell.strip())
    if not cells[0]:
        raise TorchbasicsError("the CSV has a header but no rows", where=path,
                               fix="add data rows below the header")
    return CsvTable(str(path), tuple(header), dict(zip(header, cells, strict=True)))


def _text(path: Path) -> str:
    """The file's text, after the checks that need no parsing."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise TorchbasicsError("file not found", where=path, fix="check the path") from None
    except OSError as exc:
        raise TorchbasicsError(f"cannot read the file ({exc.strerror})", where=path) from None
    if path.is_dir():
        raise TorchbasicsError("a folder, not a CSV file", where=path)
    limit = int(available_memory() * MEMORY_SHARE)
    if size > limit:
        raise TorchbasicsError(
            f"the file is {_size(size)}; tables are read whole into memory, and this machine "
            f"has room for {_size(limit)} of CSV ({MEMORY_SHARE:.0%} of the "
            f"{_size(available_memory())} available)", where=path,
            fix="train on a sample of the rows, or on a machine with more memory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TorchbasicsError(f"cannot read the file ({exc.strerror})", where=path) from None
    if not data.strip():
        raise _empty(path)
    if b"\0" in data[:SNIFF_BYTES]:
        raise TorchbasicsError("binary data, not CSV text", where=path,
                               fix="give a comma-, semicolon- or tab-separated text file")
    try:
        return data.decode("utf-8-sig")  # Excel and Notepad start UTF-8 with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise TorchbasicsError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})", where=path,
            fix="save the file as UTF-8 (in Excel: CSV UTF-8; elsewhere, e.g. `iconv -f "
            "latin1 -t utf-8`)") from None


def _dialect(sample: str, path: Path) -> type[csv.Dialect] | csv.Dialect:
    """The delimiter and quoting of ``sample``: comma, semicolon or tab."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:
        # One column, or cells the sniffer cannot tell apart: the most frequent delimiter
        # of the header line, else a comma (a one-column file then fails on its columns).
        first = sample.splitlines()[0] if sample.splitlines() else ""
        delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
        return _Simple(delimiter)


class _Simple(csv.excel):
    def __init__(self, delimiter: str):
        super().__init__()
        self.delimiter = delimiter


def _rows(rows, path: Path):
    """``(line number, cells)`` of every data row; a malformed one is named by its line."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TorchbasicsError(f"not a readable CSV ({exc})",
                                   where=f"{path}, line {rows.line_num}") from None
        yield rows.line_num, row


def _check_header(header: list[str], path: Path) -> None:
    """Refuse empty or repeated column names."""
    if not any(header):
        raise TorchbasicsError("the header row is empty", where=path,
                               fix="the first line must name the columns")
    if "" in header:
        raise TorchbasicsError(f"column {header.index('') + 1} of the header has no name",
                               where=path, fix="give every column a name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise TorchbasicsError(f"the header names {columns_text(repeated)} more than once",
                               where=path, fix="give every column its own name")


def _empty(path: Path) -> TorchbasicsError:
    return TorchbasicsError("the file is empty", where=path,
                            fix="give a CSV with a header row and data rows")


def _size(count: int) -> str:
    """``count`` bytes for a message: ``1.5 GB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def shorten(text: str, limit: int = _SHOWN) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters."""
    text = text if len(text) <= limit else f"{text[:limit]}..."
    return f"'{text}'"


def columns_text(names: Sequence[str]) -> str:
    """``column 'a'`` or ``columns 'a', 'b'``."""
    return ("column " if len(names) == 1 else "columns ") + ", ".join(map(shorten, names))
