"""``torchbasics tune`` end to end: trials as runs, the chosen one tested once, pruning,
refusals, a time budget kept, and a study that survives ``kill -9``."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from torchbasics.cli import build_parser, main  # noqa: E402
from torchbasics.cli.flags import config_from_args  # noqa: E402
from torchbasics.tune.trials import EpochReporter, first_rung, is_rung, rung_value  # noqa: E402

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    """scikit-learn's wine table (178 rows, 3 classes) as a CSV file."""
    from sklearn.datasets import load_wine

    path = tmp_path_factory.mktemp("tables") / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def tune_cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "torchbasics", "tune", *map(str, args)]


def results_of(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_trials_are_run_directories_and_only_the_chosen_one_is_tested(tmp_path, capsys):
    out = tmp_path / "tune"
    assert main(["tune", "--dataset", "bonus", "--trials", "4", "--no-prune", "--out",
                 str(out)]) == 0  # every trial complete: the choice is among four
    printed = capsys.readouterr().out
    assert printed.count("note: the validation split holds 80 examples") == 1  # bonus: 80
    results = results_of(out)
    assert [row["state"] for row in results["trials"]] == ["complete"] * 4
    assert len(results["trials"]) == 4 and "trial 3 (4 of 4)" in printed
    for row in results["trials"]:
        run = out / row["dir"]
        assert {"config.json", "summary.json", "metrics.csv"} <= {p.name for p in run.iterdir()}
    best = results["best"]
    assert (out / "best").resolve() == (out / best["dir"]).resolve()
    tested = [p.parent.name for p in (out / "trials").glob("*/evaluation.json")]
    assert tested == [Path(best["dir"]).name]  # the test split: the chosen trial's alone
    assert best["test"] == json.loads((out / "best" / "evaluation.json").read_text())["mse"]
    chosen = min((r for r in results["trials"] if r["state"] == "complete"),
                 key=lambda r: r["value"])
    assert best["trial"] == chosen["trial"] and best["value"] == chosen["value"]
    # The command trains the chosen settings again.
    words = shlex.split(best["command"])
    config = config_from_args(build_parser().parse_args(words[1:]))
    trained = json.loads((out / "best" / "config.json").read_text())
    for name, value in best["settings"].items():
        assert getattr(config, name) == pytest.approx(value, rel=1e-3) == pytest.approx(
            trained[name], rel=1e-3)
    assert (out / "results.md").read_text().count("| complete |") == [
        r["state"] for r in results["trials"]].count("complete")
    assert {"history.png", "parallel.png"} <= set(results["figures"])
    assert main(["evaluate", str(out / "best")]) == 0


def test_pruning_stops_trials_behind_the_others_and_leaves_complete_runs(tmp_path, wine_csv):
    pruned_run = tmp_path / "pruned"
    subprocess.run(tune_cli("--dataset", wine_csv, "--target", "target", "--trials", "8",
                            "--out", pruned_run), check=True, capture_output=True, env=ENV)
    rows = results_of(pruned_run)["trials"]
    pruned = [row for row in rows if row["state"] == "pruned"]
    assert pruned, rows
    full = max(row["epochs"] for row in rows if row["state"] == "complete")
    for row in pruned:
        assert row["epochs"] < full and row["note"].startswith("pruned at epoch")
        assert is_rung(row["epochs"], first_rung(1000))  # the softmax recipe's epochs
        summary = json.loads((pruned_run / row["dir"] / "summary.json").read_text())
        assert summary["epochs"] == row["epochs"]
    unpruned = tmp_path / "unpruned"
    subprocess.run(tune_cli("--dataset", wine_csv, "--target", "target", "--trials", "3",
                            "--no-prune", "--out", unpruned), check=True, capture_output=True,
                   env=ENV)
    assert {row["state"] for row in results_of(unpruned)["trials"]} == {"complete"}


class FakeTrial:
    def __init__(self, prune_at: int | None = None):
        self.reports, self.prune_at = [], prune_at

    def report(self, value, step):
        self.reports.append(step)

    def should_prune(self):
        return self.reports[-1] == self.prune_at


def record(epoch: int, error: float | None = 0.5, loss: float = 1.0):
    """An epoch's record with this validation error and loss."""
    from torchbasics.training.loop import EpochRecord

    return EpochRecord(epoch, 1.0, 0.5, loss, error, 0.1, 1.0, 1.0)


def test_epochs_are_reported_at_the_rungs_and_stop_when_pruned_or_out_of_time():
    trial = FakeTrial(prune_at=9)
    reporter = EpochReporter(trial, prune=True, deadline=time.perf_counter() + 3600)
    stops = [reporter(record(epoch)) for epoch in range(1, 12)]
    assert trial.reports == [1, 3, 9] and stops.index(True) == 8
    assert reporter.stopped == "pruned at epoch 9"
    late = EpochReporter(FakeTrial(), prune=False, deadline=time.perf_counter())
    assert late(record(1)) and late.stopped == "stopped at epoch 1: out of time"
    assert [n for n in range(1, 100) if is_rung(n)] == [1, 3, 9, 27, 81]
    assert [n for n in range(1, 1000) if is_rung(n, 10)] == [10, 30, 90, 270, 810]
    assert (first_rung(None), first_rung(15), first_rung(200), first_rung(1000)) == (1, 1, 2, 10)
    tenth = EpochReporter(FakeTrial(), prune=True, deadline=time.perf_counter() + 3600,
                          first=10)
    for epoch in range(1, 31):
        tenth(record(epoch))
    assert tenth.trial.reports == [10, 30]


def test_the_pruner_breaks_ties_of_error_by_the_validation_loss():
    """On a small validation split trials tie at one error; successive halving promotes every
    trial tied with its cut-off unless the loss orders them. Different errors keep their
    order whatever the losses."""
    def at(error: float | None, loss: float):
        return record(1, error, loss)

    assert rung_value(at(0.0, 0.1)) < rung_value(at(0.0, 0.3)) < rung_value(at(0.0, 1e9))
    assert rung_value(at(0.0, float("inf"))) < rung_value(at(1e-8, 0.0))  # 1 in 100 million
    assert rung_value(at(0.5, 9e9)) < rung_value(at(0.5 + 1 / 150, 0.0))  # one row in 150
    assert rung_value(at(None, 12.5)) == 12.5  # a regression's MSE, as it is
    study = optuna.create_study(pruner=optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3))

    def pruned(loss: float) -> bool:
        trial = study.ask()
        trial.report(rung_value(at(0.0, loss)), 1)
        return trial.should_prune()

    assert [pruned(loss) for loss in (0.2, 0.25, 0.3)] == [False, True, True]
    assert pruned(0.4) and not pruned(0.1)  # every error 0 %: the loss decides


@pytest.mark.parametrize("arguments, message", [
    (["--dataset", "bonus"], "tune: say how much to search. Give --trials N, --time-budget T"),
    (["--dataset", "bonus", "--trials", "2", "--search", "lr=1:0.1"], "is empty"),
    (["--dataset", "bonus", "--trials", "2", "--search", "augment=0:1"],
     "augment is not used by linear"),
    (["--dataset", "bonus", "--trials", "0"], "--trials: must be at least 1"),
    (["--dataset", "bonus", "--time-budget", "5s"], "a 5 s budget leaves no time for trials"),
    (["--dataset", "bonus", "--trials", "2", "--storage", "postgresql://u@127.0.0.1:9/db"],
     "--storage: cannot reach the study's database postgresql://u@127.0.0.1:9/db"),
    (["--dataset", "bonus", "--trials", "2", "--storage", "nothing"], "not a database URL"),
    (["--dataset", "bonus", "--trials", "2", "--trial-time", "10"],
     "--trial-time: is for pictures"),
    (["--dataset", "mnist", "--trials", "2", "--trial-time", "10", "--epochs", "2"],
     "--trial-time and --epochs both say how long"),
])
def test_wrong_input_is_one_line_and_exit_2(tmp_path, arguments, message):
    done = subprocess.run(tune_cli(*arguments, "--out", tmp_path / "t"), capture_output=True,
                          text=True, env=ENV, timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "t" / "trials").exists()


def test_a_study_made_with_other_settings_is_not_continued(tmp_path):
    out = tmp_path / "t"
    assert main(["tune", "--dataset", "bonus", "--trials", "2", "--out", str(out)]) == 0
    done = subprocess.run(tune_cli("--dataset", "bonus", "--trials", "3", "--search",
                                   "lr=0.01:0.1", "--out", out), capture_output=True,
                          text=True, env=ENV, timeout=120)
    assert done.returncode == 2
    assert "--study: the study 'tune' was made with other settings (space differ)" in (
        done.stderr)
    assert len(results_of(out)["trials"]) == 2


def test_a_budget_too_short_for_two_picture_trials_is_refused_and_leaves_no_study(
        tmp_path, idx_dir):
    out = tmp_path / "t"
    done = subprocess.run(tune_cli("--dataset", "mnist", "--data-dir", idx_dir, "--model",
                                   "cnn", "--time-budget", "14", "--out", out),
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--time-budget: a 14 s budget gives each trial" in done.stderr
    assert "Give at least" in done.stderr
    assert not (out / "trials").exists() and not (out / "results.json").exists()


def test_a_time_budget_is_kept_and_shared_by_the_picture_trials(tmp_path, idx_dir):
    out = tmp_path / "t"
    began = time.perf_counter()
    done = subprocess.run(tune_cli("--dataset", "mnist", "--data-dir", idx_dir, "--model",
                                   "softmax", "--time-budget", "40", "--out", out),
                          capture_output=True, text=True, env=ENV, timeout=120)
    wall = time.perf_counter() - began
    assert done.returncode == 0, done.stderr
    assert wall <= 40 * 1.05 + 15, wall
    results = results_of(out)
    assert len(results["trials"]) >= 2 and results["trial_seconds"] < 20
    for row in results["trials"]:
        config = json.loads((out / row["dir"] / "config.json").read_text())
        assert config["time_budget"] <= results["trial_seconds"] + 1e-6
    assert "--time-budget" in results["best"]["command"]


def test_kill_9_then_the_same_command_continues_the_study(tmp_path, wine_csv):
    out = tmp_path / "t"
    command = tune_cli("--dataset", wine_csv, "--target", "target", "--trials", "5",
                       "--no-prune", "--out", out)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=ENV)
    started = out / "trials" / "0002" / "config.json"
    deadline = time.monotonic() + 120
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert started.exists(), process.stderr.read()
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "trials 2 were interrupted: their settings are tried again" in done.stdout
    rows = {row["trial"]: row for row in results_of(out)["trials"]}
    assert sorted(rows) == list(range(6))  # numbers go on; trial 2 failed, 5 retried it
    assert rows[2]["state"] == "fail" and rows[2]["note"] == "interrupted"
    retry = next(row for row in rows.values() if row["note"] == "retry of trial 2")
    assert retry["settings"] == rows[2]["settings"] and retry["state"] == "complete"
    assert [r["state"] for r in rows.values()].count("complete") == 5


def test_ctrl_c_stops_says_how_to_go_on_and_the_same_command_retries_the_trial(
        tmp_path, wine_csv):
    out = tmp_path / "t"
    command = tune_cli("--dataset", wine_csv, "--target", "target", "--trials", "3",
                       "--no-prune", "--out", out)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=ENV)
    started = out / "trials" / "0001" / "config.json"
    deadline = time.monotonic() + 120
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 130, errors
    assert errors.strip() == ("torchbasics: interrupted; the same command continues the study "
                              "(the interrupted trial is tried again)")
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {row["trial"]: row for row in results_of(out)["trials"]}
    assert rows[1]["state"] == "fail" and rows[1]["note"] == "interrupted"
    assert any(row["note"] == "retry of trial 1" for row in rows.values())
    assert [r["state"] for r in rows.values()].count("complete") == 3
