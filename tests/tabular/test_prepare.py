"""Split and standardization: seeded, disjoint, and fitted on the training rows only."""

from __future__ import annotations

import pytest
import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.tabular.bonus import FEATURES, TARGET
from torchbasics.tabular.prepare import RowBatches, Standardizer, split_table
from torchbasics.tabular.table import Table


def _table(rows: int = 100, seed: int = 0) -> Table:
    generator = torch.Generator().manual_seed(seed)
    features = torch.rand(rows, 3, generator=generator) * torch.tensor([9.0, 30.0, 50.0])
    # The row number rides in the target so tests can see which rows went where.
    return Table(features, torch.arange(rows, dtype=torch.float32).unsqueeze(1), FEATURES,
                 TARGET, "synthetic")


def test_split_is_seeded_disjoint_and_complete():
    table = _table()
    parts = split_table(table, test_fraction=0.2, val_fraction=0.1, seed=3)
    rows = [set(part.target[:, 0].int().tolist()) for part in (parts.train, parts.val, parts.test)]
    assert [len(r) for r in rows] == [72, 8, 20]
    assert set.union(*rows) == set(range(100)) and sum(map(len, rows)) == 100
    again = split_table(table, test_fraction=0.2, val_fraction=0.1, seed=3)
    assert torch.equal(again.test.target, parts.test.target)
    other = split_table(table, test_fraction=0.2, val_fraction=0.1, seed=4)
    assert not torch.equal(other.test.target, parts.test.target)


def test_standardization_is_fitted_on_the_training_rows_only():
    table = _table()
    parts = split_table(table, test_fraction=0.2, val_fraction=0.1, seed=0)
    scaler = Standardizer.fit(parts.train)
    mean = torch.tensor(scaler.mean, dtype=torch.float64)
    torch.testing.assert_close(mean, parts.train.features.double().mean(0))
    assert not torch.allclose(mean, table.features.double().mean(0))
    scaled = scaler(parts.train.features)
    torch.testing.assert_close(scaled.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.std(0, correction=0), torch.ones(3), atol=1e-5, rtol=0)
    # Test rows are scaled with the training statistics, not their own.
    mean, std = (torch.tensor(v, dtype=torch.float64) for v in (scaler.mean, scaler.std))
    expected = (parts.test.features.double() - mean) / std
    torch.testing.assert_close(scaler(parts.test.features), expected.float())


def test_a_constant_feature_is_refused():
    table = _table()
    table.features[:, 1] = 5.0
    with pytest.raises(TorchbasicsError, match="'years_experience' has the same value"):
        Standardizer.fit(table)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_fractions_must_be_between_0_and_1(fraction):
    with pytest.raises(TorchbasicsError, match="--test-fraction"):
        split_table(_table(), test_fraction=fraction, val_fraction=0.1, seed=0)


def test_too_few_rows_are_refused():
    with pytest.raises(TorchbasicsError, match="rows"):
        split_table(_table(rows=5), test_fraction=0.2, val_fraction=0.1, seed=0)


def test_batches_cover_every_row_once_per_epoch_in_a_seeded_order():
    features, target = torch.randn(10, 3), torch.arange(10.0).unsqueeze(1)
    batches = RowBatches(features, target, batch_size=4, shuffle=True, seed=1)
    assert len(batches) == 3
    batches.set_epoch(1)
    first = torch.cat([t for _, t in batches])[:, 0]
    assert sorted(first.tolist()) == list(range(10))
    batches.set_epoch(2)
    assert not torch.equal(torch.cat([t for _, t in batches])[:, 0], first)
    batches.set_epoch(1)
    assert torch.equal(torch.cat([t for _, t in batches])[:, 0], first)
    (whole,) = list(RowBatches(features, target, batch_size=64))  # full batch: one step
    assert torch.equal(whole[0], features)
