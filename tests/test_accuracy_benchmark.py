"""benchmarks/accuracy.py: a run's figures as a row judged against its goal, and what
``--json`` writes (the training and evaluation are `torchbasics train` and `evaluate`,
tested elsewhere; the benchmark takes minutes, and its figures are on the Results page)."""

from __future__ import annotations

import json

import pytest

from tests.helpers import benchmark_module


@pytest.fixture(scope="module")
def accuracy():
    """benchmarks/accuracy.py as a module."""
    with benchmark_module("accuracy") as module:
        yield module


SUMMARY = {"final_train_error": 0.005, "final_val_error": 0.013, "lowest_val_error": 0.01,
           "epochs": 40, "train_seconds": 22.4}


def test_a_row_is_judged_on_its_test_error_and_training_time(accuracy):
    row = accuracy.result_row("mnist", "cnn", SUMMARY, 0.0096)
    assert row["met"] and row["goal_pct"] == pytest.approx(1.3)
    assert accuracy.row_line(row).endswith(
        "| cnn | 0.50 % | 1.30 % | 1.00 % | **0.96 %** | ≤ 1.3 % | 40 | 22 s | yes |")
    assert not accuracy.result_row("mnist", "cnn", SUMMARY, 0.0131)["met"]
    slow = SUMMARY | {"train_seconds": accuracy.TIME_LIMIT_SECONDS + 1}
    assert not accuracy.result_row("mnist", "cnn", slow, 0.0096)["met"]


def test_json_holds_the_rows_machine_date_and_command(accuracy, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(accuracy, "train", lambda config, out, **kwargs: SUMMARY)
    monkeypatch.setattr(accuracy, "evaluate_run", lambda run: {"error": 0.0096})
    path = tmp_path / "accuracy.json"
    argv = ["--dataset", "mnist", "--models", "cnn", "--out", str(tmp_path), "--json", str(path)]
    assert accuracy.main(argv) == 0
    written = json.loads(path.read_text())
    measured = written["measurements"][0]
    assert written["benchmark"] == "accuracy" and measured["seed"] == 0
    assert measured["command"] == "python benchmarks/accuracy.py " + " ".join(argv)
    assert [(row["model"], row["test_error_pct"]) for row in measured["rows"]] == [
        ("cnn", pytest.approx(0.96))]
    printed = capsys.readouterr().out
    accuracy.print_results(written)  # the file prints the table the run printed
    assert capsys.readouterr().out.strip() == printed.strip()
    assert "**0.96 %**" in printed and f"Measured on {measured['date']}" in printed
