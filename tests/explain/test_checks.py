"""The sanity checks themselves: Spearman's correlation as scipy computes it, a cascade that
re-initializes what it says and leaves the model alone, and a deletion test that tells a
map that knows the model from a random one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from torchbasics.explain import checks, inside


def test_spearman_matches_scipy_on_the_maps_absolute_values():
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(4, 5, 5)), rng.normal(size=(4, 5, 5))
    second[0] = -first[0]  # the same importance, the other sign
    found = checks.spearman(first, second)
    expected = [spearmanr(np.abs(a).ravel(), np.abs(b).ravel())[0]
                for a, b in zip(first, second, strict=True)]
    np.testing.assert_allclose(found, expected, atol=1e-12)
    assert found[0] == pytest.approx(1.0)
    assert checks.spearman(np.zeros((1, 3, 3)), first[:1, :3, :3])[0] == 0.0  # constant map


def test_pixels_that_equal_the_baseline_can_be_left_out_of_the_correlation():
    """Two unrelated maps that are both zero on the same background look alike over every
    pixel (the ties agree), and unrelated over the pixels that differ from the baseline."""
    rng = np.random.default_rng(1)
    ink = np.zeros((50, 10, 10), dtype=bool)
    ink[:, 3:6, 3:6] = True
    first, second = (np.where(ink, rng.normal(size=ink.shape), 0.0) for _ in range(2))
    assert checks.spearman(first, second).mean() > 0.6
    assert abs(checks.spearman(first, second, ink).mean()) < 0.15
    expected = spearmanr(np.abs(first[0][ink[0]]), np.abs(second[0][ink[0]]))[0]
    assert checks.spearman(first, second, ink)[0] == pytest.approx(expected)


def test_the_cascade_reinitializes_from_the_top_and_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 6),
                          nn.ReLU(), nn.Linear(6, 3))
    before = [p.detach().clone() for p in model.parameters()]
    steps = dict(checks.cascade(model))
    assert list(steps) == ["top layer", "every layer"]  # 3 layers: the top, then all
    top, every = steps["top layer"], steps["every layer"]
    assert not torch.equal(top[5].weight, model[5].weight)
    assert torch.equal(top[1].weight, model[1].weight)  # only the output layer changed
    assert not torch.equal(every[1].weight, model[1].weight)
    for kept, now in zip(before, model.parameters(), strict=True):
        assert torch.equal(kept, now)


def test_deletion_ranks_a_map_that_knows_the_model_above_a_random_order():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[0] = torch.linspace(-0.4, 1.2, 64)  # later pixels count more
    pictures = torch.ones(10, 1, 8, 8)
    targets = torch.zeros(10, dtype=torch.long)
    knowing = inside.contributions(model, pictures)[:, 0]  # w ⊙ x: the true importance
    result = checks.deletion(model, pictures, targets, knowing, torch.zeros(1, 1, 8, 8))
    assert result["ratio"] < 0.8 and result["area"] < result["random_area"]
    assert result["curve"][0] == pytest.approx(result["random_curve"][0])  # same start
    assert len(result["curve"]) == checks.DELETION_STEPS + 1
    backwards = checks.deletion(model, pictures, targets, -knowing, torch.zeros(1, 1, 8, 8))
    assert backwards["ratio"] > 1  # least important first: slower than random


def test_completeness_is_the_largest_miss_relative_to_the_change_in_score():
    assert checks.completeness(np.array([0.01, -0.03]), np.array([1.0, 2.0])) == pytest.approx(
        0.015)
    # a score that hardly moves counts as a change of 0.1: 0.001 / 0.1, not 0.001 / 0.0001
    assert checks.completeness(np.array([0.001]), np.array([1e-4])) == pytest.approx(0.01)
