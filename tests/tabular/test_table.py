"""The CSV loader refuses every bad cell, naming its row and column."""

from __future__ import annotations

import pytest
import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.tabular.bonus import load_bonus

HEADER = "performance_rating,years_experience,projects_completed,bonus"
GOOD = ["7,4.5,9,6900.5", "3,0,0,3500", "10,12.25,30,11000"]


def _csv(tmp_path, lines, header=HEADER):
    path = tmp_path / "employees.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def test_a_good_file_loads_exactly(tmp_path):
    table = load_bonus(_csv(tmp_path, GOOD))
    assert table.features.dtype == torch.float32
    torch.testing.assert_close(table.features[0], torch.tensor([7.0, 4.5, 9.0]))
    torch.testing.assert_close(table.target[:, 0], torch.tensor([6900.5, 3500.0, 11000.0]))


@pytest.mark.parametrize(
    ("bad_row", "column", "message"),
    [
        ("0,4,9,5000", "performance_rating", "0 is out of range"),
        ("11,4,9,5000", "performance_rating", "11 is out of range"),
        ("7.5,4,9,5000", "performance_rating", "7.5 is not a whole number"),
        ("7,-1,9,5000", "years_experience", "-1 is out of range"),
        ("7,4,-2,5000", "projects_completed", "-2 is out of range"),
        ("7,four,9,5000", "years_experience", "'four' is not a number"),
        ("7,4,9,", "bonus", "the cell is empty"),
        ("7,NaN,9,5000", "years_experience", "NaN is not a value"),
        ("7,4,9,inf", "bonus", "inf is not a finite number"),
        ("7,4,9,1e39", "bonus", "'1e39' is too large (the largest a float32 holds"),
    ],
)
def test_bad_cells_name_row_and_column(tmp_path, bad_row, column, message):
    path = _csv(tmp_path, [*GOOD, bad_row])  # the 4th data row, on line 5
    with pytest.raises(TorchbasicsError) as caught:
        load_bonus(path)
    text = str(caught.value)
    assert f"{path}, row 4 (line 5), column '{column}'" in text
    assert message in text


def test_missing_file(tmp_path):
    with pytest.raises(TorchbasicsError, match="file not found"):
        load_bonus(tmp_path / "nope.csv")


def test_missing_column_is_named(tmp_path):
    path = _csv(tmp_path, ["7,4,5000"], header="performance_rating,years_experience,bonus")
    with pytest.raises(TorchbasicsError, match=r"no column 'projects_completed'"):
        load_bonus(path)


def test_extra_column_is_named(tmp_path):
    path = _csv(tmp_path, [line + ",x" for line in GOOD], header=HEADER + ",name")
    with pytest.raises(TorchbasicsError, match="unexpected column 'name'"):
        load_bonus(path)


def test_header_only_and_empty_files(tmp_path):
    with pytest.raises(TorchbasicsError, match="no rows"):
        load_bonus(_csv(tmp_path, []))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TorchbasicsError, match="empty"):
        load_bonus(tmp_path / "empty.csv")
