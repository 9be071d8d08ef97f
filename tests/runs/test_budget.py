"""Time budgets: a budget becomes a step count from measured costs, the plan follows the
clock, the count is recorded, and a rerun or a resume with it is exact."""

from __future__ import annotations

import json
import math

import pytest

from torchbasics.cli import main
from torchbasics.errors import TorchbasicsError
from torchbasics.runs import budget
from torchbasics.runs.budget import TimeBudget, Timings
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.settings import parse_duration

TIMINGS = Timings(step=0.1, validation=1.0, checkpoint=0.1, finish=1.0)


class Clock:
    """A stand-in for time.perf_counter that the test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _budgets_count_from_now(monkeypatch):
    """The command line counts a budget from its process's start: here that is pytest's,
    long ago, so every budget would be spent before it began."""
    monkeypatch.setattr(budget, "process_age", lambda: 0.0)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(budget.time, "perf_counter", fake)
    return fake


def test_the_budget_becomes_the_steps_that_fit(clock):
    planned = TimeBudget(clock.now + 60, 60, TIMINGS, steps_per_epoch=100)
    # 60 s - finish 1 s - margin 0.6 s, at 0.1 s a step plus 1.1 s of validation and
    # checkpoints after every epoch of 100 steps, the last one (partial or not) included.
    fits = [total for total in range(1, 1000)
            if total * 0.1 + math.ceil(total / 100) * 1.1 <= 60 - 1 - 0.6 + 1e-9]
    assert planned.total == max(fits) == 518


def _run(planned: TimeBudget, clock: Clock, step: float, between_epochs: float) -> float:
    """Go through the plan with steps and epoch ends taking these long; when it ends."""
    done = 0
    while done < planned.final:
        done += 1
        clock.now += step
        planned.check(done)
        if done % planned.steps_per_epoch == 0 or done == planned.final:
            clock.now += between_epochs  # validation and checkpoints
    return clock.now + TIMINGS.finish


@pytest.mark.parametrize("speed", [2.0, 0.5])
def test_a_run_slower_or_faster_than_measured_is_re_planned_to_end_on_time(clock, speed):
    planned = TimeBudget(clock.now + 300, 300, TIMINGS, steps_per_epoch=100)
    end = _run(planned, clock, 0.1 * speed, 1.1 * speed)
    assert planned.replans, "the plan should have changed"
    assert abs(end - planned.deadline) <= 0.03 * 300


def test_a_run_as_fast_as_measured_keeps_its_plan_and_ends_on_time(clock):
    planned = TimeBudget(clock.now + 300, 300, TIMINGS, steps_per_epoch=100)
    end = _run(planned, clock, 0.1, 1.1)
    assert not planned.replans
    assert planned.deadline - 0.03 * 300 <= end <= planned.deadline


@pytest.mark.parametrize(("text", "seconds"), [("300", 300), ("300s", 300), ("5m", 300),
                                               ("1.5h", 5400), ("90S", 90)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m", "5d", ""])
def test_bad_durations_are_one_line(text):
    with pytest.raises(TorchbasicsError, match="not a duration"):
        parse_duration(text)


def test_one_length_only_and_the_recipe_gives_way_to_what_was_given():
    with pytest.raises(TorchbasicsError, match="--epochs and --time-budget both say how long"):
        resolve(TrainConfig(epochs=3, time_budget=60))
    with pytest.raises(TorchbasicsError, match="--steps and --time-budget"):
        resolve(TrainConfig(steps=100, time_budget=60))
    budgeted = resolve(TrainConfig(model="cnn", time_budget=60))
    assert budgeted.epochs is None and budgeted.steps is None
    assert resolve(TrainConfig(model="cnn", steps=100)).epochs is None
    with pytest.raises(TorchbasicsError, match="--time-budget is for image data sets"):
        resolve(TrainConfig(dataset="bonus", time_budget=60))


def _train(idx_dir, out, *flags) -> int:
    return main(["train", "--model", "mlp-relu", "--hidden", "32", "--data-dir", str(idx_dir),
                 "--batch-size", "16", "--precision", "fp32", "--quiet", "--out", str(out),
                 *flags])


def _rows(run) -> list[list[str]]:
    """metrics.csv without the timing columns."""
    lines = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    return [row[:6] for row in lines]


def test_the_chosen_count_is_recorded_and_a_rerun_with_it_is_the_same_run(idx_dir, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(TimeBudget, "check", lambda self, step: None)  # the plan, unchanged
    assert _train(idx_dir, tmp_path / "budget", "--time-budget", "6") == 0
    config = json.loads((tmp_path / "budget" / "config.json").read_text())
    summary = json.loads((tmp_path / "budget" / "summary.json").read_text())
    assert config["time_budget"] == 6 and config["steps"] > 0 and config["epochs"] is None
    assert summary["steps"] == config["steps"] == summary["plan"]["total"]
    assert _train(idx_dir, tmp_path / "steps", "--steps", str(config["steps"])) == 0
    assert _rows(tmp_path / "steps") == _rows(tmp_path / "budget")


def test_a_resumed_budget_run_follows_its_recorded_plan_replans_included(idx_dir, tmp_path,
                                                                         monkeypatch):
    import signal

    from tests.runs.test_interrupts import signal_at_step

    def replan_at_step_5(self, step):  # a re-plan that does not depend on the clock
        if step == 5 and not self.replans:
            self.replan(5, self.total - 3)

    monkeypatch.setattr(TimeBudget, "__init__", _fixed_budget)
    monkeypatch.setattr(TimeBudget, "check", replan_at_step_5)
    assert _train(idx_dir, tmp_path / "whole", "--time-budget", "60") == 0
    signal_at_step(monkeypatch, signal.SIGINT, epoch=2, step=3)
    assert _train(idx_dir, tmp_path / "run", "--time-budget", "60") == 130
    monkeypatch.undo()  # the resumed run measures and re-plans nothing: it follows last.pt
    assert main(["train", "--resume", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert _rows(tmp_path / "run") == _rows(tmp_path / "whole")
    plan = json.loads((tmp_path / "run" / "summary.json").read_text())["plan"]
    assert plan == {"total": 25, "replans": [[5, 22]]}


def _fixed_budget(self, deadline, seconds, timings, steps_per_epoch):
    """A TimeBudget planned at 25 steps whatever the machine's speed."""
    budget.StepPlan.__init__(self, 25)
    self.deadline, self.budget, self.timings = deadline, seconds, timings
    self.steps_per_epoch = steps_per_epoch
    self.start()


def test_a_budget_too_short_for_one_epoch_is_refused_naming_one_that_would_do(clock):
    started = clock.now
    clock.now += 4.0  # start-up and measuring took 4 s of a 10 s budget
    planned = TimeBudget(started + 10, 10, TIMINGS, steps_per_epoch=100)
    assert planned.total < 100
    with pytest.raises(TorchbasicsError) as refused:
        planned.refuse_if_useless(started)
    message = refused.value.message
    assert "a 10 s budget leaves 5.0 s to train on this machine after 4.0 s of start-up" in message
    # One epoch: 100 steps of 0.1 s and 1.1 s of validation and checkpoints, 1 s to finish.
    needed = (4.0 + 100 * 0.1 + 1.1 + 1.0) / (1 - budget.MARGIN)
    assert f"give at least {5 * math.ceil(needed / 5)} s" in message.lower()
    TimeBudget(started + 30, 30, TIMINGS, steps_per_epoch=100).refuse_if_useless(started)


def test_a_long_epoch_needs_only_its_first_useful_steps(clock):
    planned = TimeBudget(clock.now + 60, 60, TIMINGS, steps_per_epoch=10_000)
    assert budget.USEFUL_STEPS <= planned.total < 10_000
    planned.refuse_if_useless(clock.now)


def test_the_command_refuses_a_short_budget_and_writes_nothing_unless_told(idx_dir, tmp_path,
                                                                          monkeypatch):
    from torchbasics.runs import images

    slow = Timings(step=1.0, validation=1.0, checkpoint=0.1, finish=1.0)
    monkeypatch.setattr(images, "measure", lambda setup, device, seconds: slow)
    assert _train(idx_dir, tmp_path / "long", "--time-budget", "60") == 0  # 12 of 12 steps
    assert _train(idx_dir, tmp_path / "short", "--time-budget", "6") == 2
    assert not (tmp_path / "short").exists()
    assert _train(idx_dir, tmp_path / "short", "--time-budget", "6",
                  "--allow-short-budget") == 0
    assert (tmp_path / "short" / "best.pt").is_file()
