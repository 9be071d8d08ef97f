"""A run whose loss diverges: caught in the epoch it starts, recovered, reproducible, resumable.

The data are the small IDX set of the other run tests (10 steps an epoch). An absurd peak
learning rate (SGD at 5, where 0.2 trains) blows the MLP up in its first epoch; recoveries
(5 -> 1 -> 0.2) bring it back to a rate that trains.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from tests.helpers import make_idx_dataset
from tests.runs.test_interrupts import assert_same_run, signal_at_step
from torchbasics.checkpoint import load_checkpoint
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.train import train
from torchbasics.training.divergence import TrainingDiverged
from torchbasics.training.interrupts import TrainingInterrupted


def _config(data: Path, **overrides) -> TrainConfig:
    settings = dict(model="mlp-relu", model_settings={"hidden": 32}, epochs=4, batch_size=16,
                    optimizer="sgd", lr=5.0, warmup=0.1, augment=0.0, val_fraction=0.2,
                    data_dir=str(data), precision="fp32")
    return TrainConfig(**(settings | overrides))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_idx_dataset(tmp_path_factory.mktemp("recovery") / "data")


@pytest.fixture(scope="module")
def recovered(data, tmp_path_factory) -> tuple[Path, list[str]]:
    """The run with an absurd rate, recovered: its folder and its log."""
    out, lines = tmp_path_factory.mktemp("runs") / "recovered", []
    train(_config(data), out, log=lines.append)
    return out, lines


def test_an_absurd_rate_is_caught_in_its_first_epoch_and_recovered(recovered):
    out, lines = recovered
    summary = json.loads((out / "summary.json").read_text())
    recoveries = summary["recoveries"]
    assert recoveries and all(r["epoch"] == 1 for r in recoveries)  # caught within epoch 1
    assert recoveries[0]["lr_before"] == 5.0
    assert recoveries[-1]["lr_after"] == pytest.approx(5.0 / 5 ** len(recoveries))
    assert summary["final_val_error"] < 0.5  # it trains after all (10 classes)
    said = [line for line in lines if line.startswith("the loss diverged at epoch 1")]
    assert len(said) == len(recoveries) and "back to the start" in said[0]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(row["recovered"]) for row in rows] == [len(recoveries), 0, 0, 0]
    assert all(math.isfinite(float(row["train_loss"])) for row in rows)
    assert "## The loss diverged" in (out / "report.md").read_text()


def test_a_recovered_run_is_the_same_from_its_seed(recovered, data, tmp_path):
    train(_config(data), tmp_path / "again", log=lambda _: None)
    assert_same_run(tmp_path / "again", recovered[0])


def test_no_recover_stops_at_the_first_divergence_within_its_epoch(data, tmp_path):
    with pytest.raises(TrainingDiverged, match=r"at epoch 1, step \d+.*--no-recover"):
        train(_config(data, recover=False), tmp_path / "run", log=lambda _: None)


def test_a_rate_no_recovery_can_save_gives_up_after_two(data, tmp_path):
    with pytest.raises(TrainingDiverged, match=r"after 2 recoveries.*lr-find"):
        train(_config(data, lr=1e6), tmp_path / "run", log=lambda _: None)


def test_a_recovered_run_interrupted_and_resumed_ends_the_same(recovered, data, tmp_path,
                                                               monkeypatch):
    signal_at_step(monkeypatch, 2, epoch=3, step=4)  # SIGINT, after the recoveries
    with pytest.raises(TrainingInterrupted):
        train(_config(data), tmp_path / "run", log=lambda _: None)
    saved = load_checkpoint(tmp_path / "run" / "last.pt")
    assert saved["recoveries"] and saved["divergence_watch"]["seen"] > 0
    monkeypatch.undo()
    train(TrainConfig(), tmp_path / "run", resume=True, log=lambda _: None)
    assert_same_run(tmp_path / "run", recovered[0])


def test_full_batch_table_run_goes_back_past_an_epoch_that_ended_blown_up(tmp_path):
    """scikit-learn's diabetes table, ``linear`` full-batch (one step an epoch) at twice its
    recipe's rate: the loss a step sees is of the weights the epoch before left, so the run
    goes back two epochs, and then trains to the least-squares fit."""
    from sklearn.datasets import load_diabetes

    table = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True).frame.to_csv(table, index=False)
    lines = []
    summary = train(TrainConfig(dataset=str(table), target="target", lr=0.2), tmp_path / "run",
                    log=lines.append)
    (recovery,) = summary["recoveries"]
    assert recovery["back_to_epoch"] == recovery["epoch"] - 2
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    restarted = [int(row["epoch"]) for row in rows if int(row["recovered"])]
    assert restarted == [recovery["back_to_epoch"] + 1]
    test, least = summary["metrics"]["test"], summary["least_squares_metrics"]["test"]
    assert test["r2"] == pytest.approx(least["r2"], abs=0.01)
