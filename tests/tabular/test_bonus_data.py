"""The bonus data: a deterministic generator, the shipped CSV it wrote, the known rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from torchbasics.resources import resource
from torchbasics.tabular.bonus import (
    NOISE_STD,
    ROWS,
    SEED,
    TRUE_FORMULA,
    bonus_csv,
    default_csv,
    generate_bonus,
    load_bonus,
)


def test_same_seed_same_table_and_another_seed_another():
    first, second = generate_bonus(200, seed=7), generate_bonus(200, seed=7)
    assert list(first) == list(second)
    for name, column in first.items():
        assert column.shape == (200,)
        np.testing.assert_array_equal(column, second[name])
    other = generate_bonus(200, seed=8)
    assert not all(np.array_equal(column, other[name]) for name, column in first.items())


def test_csv_numbers_are_exact_and_typed_as_their_column():
    text = bonus_csv({"rating": np.array([3, 10]), "years": np.array([9.5, 10.0]),
                      "bonus": np.array([8225.94, 4000.1])})
    assert text == "rating,years,bonus\n3,9.5,8225.94\n10,10.0,4000.1\n"


SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_bonus_data.py"


def test_shipped_csv_is_byte_for_byte_what_the_generator_script_writes(tmp_path):
    out = tmp_path / "bonus.csv"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True,
                   capture_output=True)
    shipped = resource("bonus.csv").read_bytes()  # as the package reads it, installed or not
    assert shipped == out.read_bytes()
    assert default_csv().read_bytes() == shipped


def test_generator_script_writes_into_the_package_by_default():
    import runpy

    script = runpy.run_path(str(SCRIPT))  # defines main() and SHIPPED, runs nothing
    assert script["SHIPPED"] == Path(str(resource("bonus.csv")))


def test_columns_follow_the_documented_rule():
    table = generate_bonus(ROWS, SEED)
    assert list(table) == ["performance_rating", "years_experience", "projects_completed",
                           "bonus"]
    rating, years = table["performance_rating"], table["years_experience"]
    projects = table["projects_completed"]
    assert rating.dtype == projects.dtype == np.int64 and years.dtype == np.float64
    assert ((rating >= 1) & (rating <= 10)).all()
    assert (years >= 0).all() and (projects >= 0).all()
    assert np.corrcoef(years, projects)[0, 1] > 0.8  # grow together
    features = np.column_stack([rating, years, projects]).astype(np.float64)
    residual = table["bonus"] - TRUE_FORMULA.predict(features)
    assert abs(residual.mean()) < 4 * NOISE_STD / np.sqrt(ROWS)  # the noise has mean 0
    assert abs(residual.std() / NOISE_STD - 1) < 0.1


def test_loader_gives_float32_tensors_of_the_committed_file():
    table = load_bonus()
    assert table.features.shape == (ROWS, 3) and table.target.shape == (ROWS, 1)
    assert table.features.dtype == table.target.dtype == torch.float32
    assert table.names == ["performance_rating", "years_experience", "projects_completed"]
