"""Step plans and the schedules laid over them: the same as PyTorch's one-cycle without
re-plans, fully decayed at the last step with them."""

from __future__ import annotations

import pytest
import torch

from torchbasics.training.optim import build_optimizer
from torchbasics.training.schedule import StepPlan, build_scheduler


def _rates(plan: StepPlan, name: str = "onecycle", steps: int | None = None):
    """(lr, momentum) before each step of a run that follows ``plan``."""
    optimizer = build_optimizer(torch.nn.Linear(2, 2), "sgd", lr=0.2)
    scheduler = build_scheduler(optimizer, name, plan=plan, warmup=0.25)
    rates = []
    for _ in range(plan.final if steps is None else steps):
        group = optimizer.param_groups[0]
        rates.append((group["lr"], group["momentum"]))
        optimizer.step()
        scheduler.step()
    group = optimizer.param_groups[0]
    return rates, (group["lr"], group["momentum"])


def test_without_replans_it_is_pytorchs_one_cycle_bit_for_bit():
    ours, _ = _rates(StepPlan(120))
    optimizer = build_optimizer(torch.nn.Linear(2, 2), "sgd", lr=0.2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.2, total_steps=120,
                                                    pct_start=0.25)
    theirs = []
    for _ in range(120):
        theirs.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]))
        optimizer.step()
        scheduler.step()
    assert ours == theirs


@pytest.mark.parametrize("new_total", [70, 150])
def test_a_replan_lays_the_rest_of_the_schedule_over_the_steps_left(new_total):
    plan = StepPlan(100)
    plan.replan(40, new_total)
    rates, end = _rates(plan)
    unplanned, unplanned_end = _rates(StepPlan(100))
    assert rates[:40] == unplanned[:40]  # the same until the re-plan
    assert len(rates) == new_total
    assert end == pytest.approx(unplanned_end)  # fully annealed at the new last step
    assert max(lr for lr, _ in rates) <= 0.2 + 1e-12
    assert plan.position(new_total) == 100 and plan.position(40) == 40


def test_replans_chain_and_positions_only_move_forward():
    plan = StepPlan(100)
    plan.replan(30, 60)
    plan.replan(50, 90)
    positions = [plan.position(step) for step in range(91)]
    assert positions == sorted(positions) and positions[-1] == 100
    assert positions[30] == 30 and positions[50] == pytest.approx(30 + 20 * 70 / 30)


def test_epochs_and_the_partial_last_one():
    plan = StepPlan(250)
    assert plan.epochs(100) == 3
    assert [plan.steps_in_epoch(epoch, 100) for epoch in (1, 2, 3, 4)] == [100, 100, 50, 0]
    plan.replan(120, 180)
    assert plan.final == 180 and plan.epochs(100) == 2
    assert StepPlan.from_dict(plan.to_dict()) == plan


def test_a_replan_keeps_at_least_one_step_ahead():
    plan = StepPlan(100)
    plan.replan(60, 10)
    assert plan.final == 61


def test_cosine_follows_the_plan_too():
    plan = StepPlan(80)
    plan.replan(20, 40)
    rates, (end, _) = _rates(plan, "cosine")
    assert rates[0][0] == pytest.approx(0.2) and end == pytest.approx(0.0, abs=1e-12)
