"""The learning-rate range test: the rates, where it stops, what it suggests."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from torchbasics.training.loop import RegressionTask
from torchbasics.training.lr_find import BELOW_MINIMUM, STOP_ABOVE, range_test, rates, suggest


def test_the_rates_grow_evenly_on_a_log_scale():
    tried = rates(1e-4, 1.0, 5)
    assert tried == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])


def test_the_suggestion_is_the_lowest_point_over_ten():
    found = suggest([1e-3, 1e-2, 1e-1, 1.0], [2.3, 1.5, 0.9, 5.0])
    assert found.suggestion == pytest.approx(1e-1 / BELOW_MINIMUM)
    assert "lowest (0.9) at 0.1" in found.reason


def test_a_loss_that_never_falls_says_so():
    assert "hardly fell" in suggest([1e-3, 1e-2], [2.3, 2.29]).reason


def test_on_a_linear_problem_it_stops_at_the_blow_up_and_suggests_a_rate_that_trains():
    torch.manual_seed(0)
    inputs = torch.randn(256, 4)
    targets = (inputs @ torch.tensor([1.0, -2.0, 0.5, 3.0])).unsqueeze(1)
    batches = [(inputs[i:i + 32], targets[i:i + 32]) for i in range(0, 256, 32)]

    def fresh():
        torch.manual_seed(1)
        model = torch.nn.Linear(4, 1)
        return model, torch.optim.SGD(model.parameters(), lr=1.0)

    model, optimizer = fresh()
    found = range_test(model, batches, optimizer, RegressionTask(), device=torch.device("cpu"))
    assert found.rates[-1] < 10.0  # stopped early: the loss blew up
    assert found.losses[-1] > STOP_ABOVE * min(found.losses)
    model, optimizer = fresh()
    for group in optimizer.param_groups:
        group["lr"] = found.suggestion
    for _ in range(20):
        for x, y in batches:
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
    assert F.mse_loss(model(inputs), targets).item() < 0.01
