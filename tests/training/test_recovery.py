"""Going back after a divergence: the state restored exactly, the peak rate lowered."""

from __future__ import annotations

import math

import pytest
import torch

from torchbasics.training.divergence import Diverged, TrainingDiverged
from torchbasics.training.recovery import (
    LOWER_BY,
    TRIES,
    Recoveries,
    Recovery,
    Snapshot,
    lower_peak_lr,
    peak_lr,
)
from torchbasics.training.schedule import StepPlan, build_scheduler


def _training(schedule: str = "onecycle", lr: float = 0.1):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return model, optimizer, build_scheduler(optimizer, schedule, plan=StepPlan(100))


def _steps(model, optimizer, scheduler, count: int) -> list[float]:
    rates = []
    for _ in range(count):
        loss = model(torch.randn(4, 3)).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_a_snapshot_restores_weights_optimizer_schedule_and_random_state():
    model, optimizer, scheduler = _training()
    _steps(model, optimizer, scheduler, 5)
    good = Snapshot.take(model, optimizer, scheduler, note=[1])
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    first = _steps(model, optimizer, scheduler, 5)
    after = model.weight.clone()
    assert good.restore(model, optimizer, scheduler) == {"note": [1]}
    assert all(torch.equal(model.state_dict()[name], weights[name]) for name in weights)
    assert _steps(model, optimizer, scheduler, 5) == first  # the same rates, the same draws
    assert torch.equal(model.weight, after)
    good.restore(model, optimizer, scheduler)  # a second time: the copy was not consumed
    assert torch.equal(model.weight, weights["weight"])


@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_lowering_the_peak_keeps_the_schedule_shape(schedule):
    model, optimizer, scheduler = _training(schedule)
    reference = _steps(*_training(schedule), 30)
    _steps(model, optimizer, scheduler, 10)
    assert peak_lr(optimizer) == pytest.approx(0.1)
    lower_peak_lr(optimizer, scheduler, LOWER_BY)
    assert peak_lr(optimizer) == pytest.approx(0.1 / LOWER_BY)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(reference[9] / LOWER_BY)
    lowered = _steps(model, optimizer, scheduler, 20)
    assert lowered == pytest.approx([rate / LOWER_BY for rate in reference[10:]])


def test_recoveries_go_back_then_give_up_after_tries():
    model, optimizer, scheduler = _training()
    good = Snapshot.take(model, optimizer, scheduler)
    recoveries, lines = Recoveries(), []
    for _ in range(TRIES):
        _steps(model, optimizer, scheduler, 3)
        recoveries.go_back(Diverged(2, 7, 9.5, 4.0), good, model, optimizer, scheduler, None,
                           back_to_epoch=1, log=lines.append)
        good = Snapshot.take(model, optimizer, scheduler)
    assert [r.lr_after for r in recoveries.done] == pytest.approx([0.02, 0.004])
    assert lines[0] == ("the loss diverged at epoch 2, step 7 (running mean 9.5): back to the "
                        "end of epoch 1, peak learning rate lowered from 0.1 to 0.02")
    assert recoveries.in_epoch(2) == TRIES and recoveries.in_epoch(1) == 0
    with pytest.raises(TrainingDiverged, match=r"after 2 recoveries \(peak learning rate "
                                               r"0.004\).*lr-find"):
        recoveries.go_back(Diverged(2, 7, math.nan, 4.0), good, model, optimizer, scheduler,
                           None, back_to_epoch=1, log=lines.append)


def test_without_recovery_the_first_divergence_stops():
    model, optimizer, scheduler = _training()
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite at epoch 1, step 2.*"
                                               "--no-recover"):
        Recoveries(allowed=False).go_back(
            Diverged(1, 2, math.inf, 4.0), Snapshot.take(model, optimizer, scheduler), model,
            optimizer, scheduler, None, back_to_epoch=0, log=print)


def test_a_recovery_survives_json():
    recovery = Recovery(3, 4, math.nan, 0.1, 0.02, 0)
    again = Recovery.from_dict(recovery.to_dict())
    assert recovery.to_dict()["loss"] is None and math.isnan(again.loss)
    assert again.line().endswith("(loss NaN or infinite): back to the start, peak learning "
                                 "rate lowered from 0.1 to 0.02")
