"""The bonus data: a deterministic generator, the committed CSV it wrote, the known rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

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


def test_committed_csv_is_what_the_generator_writes():
    # scripts/make_bonus_data.py writes generate_bonus().to_csv(index=False)
    assert default_csv().read_text() == generate_bonus(ROWS, SEED).to_csv(index=False)


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
