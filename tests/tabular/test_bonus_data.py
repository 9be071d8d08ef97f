"""The bonus data: a deterministic generator, the shipped CSV it wrote, the known rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from torchbasics.resources import resource
from torchbasics.tabular.bonus import (
    NOISE_STD,
    ROWS,
    SEED,
    TRUE_FORMULA,
    default_csv,
    generate_bonus,
    load_bonus,
)


def test_same_seed_same_table_and_another_seed_another():
    first, second = generate_bonus(200, seed=7), generate_bonus(200, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert not generate_bonus(200, seed=8).equals(first)


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
    frame = generate_bonus(ROWS, SEED)
    assert list(frame.columns) == ["performance_rating", "years_experience",
                                   "projects_completed", "bonus"]
    assert frame["performance_rating"].between(1, 10).all()
    assert (frame["years_experience"] >= 0).all() and (frame["projects_completed"] >= 0).all()
    assert frame["years_experience"].corr(frame["projects_completed"]) > 0.8  # grow together
    features = frame.iloc[:, :3].to_numpy(dtype=np.float64)
    residual = frame["bonus"].to_numpy() - TRUE_FORMULA.predict(features)
    assert abs(residual.mean()) < 4 * NOISE_STD / np.sqrt(ROWS)  # the noise has mean 0
    assert abs(residual.std() / NOISE_STD - 1) < 0.1


def test_loader_gives_float32_tensors_of_the_committed_file():
    table = load_bonus()
    assert table.features.shape == (ROWS, 3) and table.target.shape == (ROWS, 1)
    assert table.features.dtype == table.target.dtype == torch.float32
    assert table.names == ["performance_rating", "years_experience", "projects_completed"]
