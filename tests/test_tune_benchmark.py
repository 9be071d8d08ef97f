"""benchmarks/tune.py: a case's seeds judged against the issue's goals, and a run stopped
part way keeping the seeds it finished (the studies are `torchbasics tune`, tested in
tests/tune; the benchmark takes an hour, and its figures are on the Tuning results page)."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers import benchmark_module


@pytest.fixture(scope="module")
def tune():
    """benchmarks/tune.py as a module."""
    with benchmark_module("tune") as module:
        yield module


def study(best: float, epochs: int) -> dict:
    """What ``study_figures`` reads from a tune folder, made up."""
    return {"trials": 12, "best_val": best, "epochs": epochs, "pruned": 7, "test": 0.02,
            "trial_seconds": None, "validation_rows": 36}


def row(seed: int, pruned_epochs: int, wall: float = 50.0) -> dict:
    """One seed of the wine case as ``one_seed`` returns it, made up."""
    return {"case": "wine", "seed": seed, "budget": 60.0, "wall": wall,
            "pruned": study(0.0, pruned_epochs), "unpruned": study(0.0, 1000),
            "default_test": 0.0, "sklearn": {"LogisticRegression": 0.0,
                                             "HistGradientBoosting": 0.05}}


def test_goals_are_half_the_epochs_the_same_best_and_the_time_kept(tune):
    met = tune.summarize("wine", [row(0, 400), row(1, 500)])
    assert met["epochs"] == (900, 2000)
    assert met["same_best"] and met["half_epochs"] and met["on_time"]
    assert not tune.summarize("wine", [row(0, 600), row(1, 500)])["half_epochs"]
    late = 60.0 * tune.OVERSHOOT[0] + tune.OVERSHOOT[1] + 1
    assert not tune.summarize("wine", [row(0, 400), row(1, 400, wall=late)])["on_time"]


def test_a_run_stopped_part_way_keeps_the_seeds_it_finished(tune, monkeypatch, tmp_path):
    def one_seed(case, seed, budget, scratch, default=True):
        if seed == 1:
            raise KeyboardInterrupt
        return row(seed, 400)

    monkeypatch.setattr(tune, "one_seed", one_seed)
    path = tmp_path / "tune.json"
    monkeypatch.setattr(sys, "argv", ["tune.py", "--cases", "wine", "--seeds", "0", "1",
                                      "--json", str(path)])
    with pytest.raises(KeyboardInterrupt):
        tune.main()
    written = json.loads(path.read_text())["measurements"][0]
    assert [case["seeds"] for case in written["cases"]] == [[0]]
    assert written["command"] == "python benchmarks/tune.py --cases wine --seeds 0 1 --json " \
        + str(path)


def test_a_finished_run_writes_and_judges_every_case(tune, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(tune, "one_seed", lambda case, seed, *rest: row(seed, 400) | {
        "case": case, "pruned": study(0.0, 400 if case == "wine" else 700)})
    path = tmp_path / "tune.json"
    monkeypatch.setattr(sys, "argv", ["tune.py", "--cases", "wine", "breast_cancer",
                                      "--seeds", "0", "1", "--json", str(path)])
    assert tune.main() == 1  # breast cancer's 1,400 epochs of 2,000: not half
    written = json.loads(path.read_text())["measurements"][0]
    assert [(case["case"], case["seeds"]) for case in written["cases"]] == [
        ("wine", [0, 1]), ("breast_cancer", [0, 1])]
    assert [case["half_epochs"] for case in written["cases"]] == [True, False]
    assert "breast_cancer" in capsys.readouterr().out
