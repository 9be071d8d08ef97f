"""benchmarks/startup.py: how it turns its timed processes into the start-up table, and
what ``--json`` writes.

(The processes are `torchbasics` commands, tested elsewhere; the benchmark takes minutes,
and its figures are on the Start-up page.)
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import benchmark_module


@pytest.fixture(scope="module")
def startup():
    """benchmarks/startup.py as a module."""
    with benchmark_module("startup") as module:
        yield module


def _times(**medians: float) -> dict[str, list[float]]:
    """Three timings per case around each median given."""
    base = {"torch": 2.0, "python": 0.02, "help": 0.1, "bonus": 2.9, "predict": 2.7,
            "mnist-1": 6.0, "mnist-2": 8.0, "fixed": 2.5} | medians
    return {name: [value - 0.1, value, value + 5] for name, value in base.items()}


def _row(lines: list[str], label: str) -> list[str]:
    found = [line for line in lines if label in line]
    assert len(found) == 1, label
    return [cell.strip() for cell in found[0].strip("|").split("|")]


def test_each_command_is_a_multiple_of_import_torch_judged_against_its_goal(startup):
    lines = startup.table(startup.rows(_times()))
    assert _row(lines, "--dataset bonus")[1:] == ["2.90 s", "1.45×", "≤ 1.5×", "yes"]
    assert _row(lines, "predict RUN")[1:] == ["2.70 s", "1.35×", "≤ 1.3×", "**no**"]
    assert _row(lines, "(the reference)")[1:3] == ["2.00 s", "1.00×"]


def test_the_fixed_cost_is_the_median_of_the_runs_own_figures(startup):
    assert _row(startup.table(startup.rows(_times())), "fixed cost")[1:] == [
        "2.50 s", "1.25×", "≤ 3 s", "yes"]
    assert _row(startup.table(startup.rows(_times(fixed=3.2))), "fixed cost")[-1] == "**no**"


def test_a_runs_training_time_is_read_from_its_summary(startup, tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"train_seconds": 4.25, "steps": 79}))
    assert startup.training_seconds(tmp_path) == 4.25


def test_the_commands_cache_bytecode_as_a_users_python_does(startup, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("TORCHBASICS_DATA", "/data")
    environment = startup.user_environment()
    assert "PYTHONDONTWRITEBYTECODE" not in environment
    assert environment["TORCHBASICS_DATA"] == "/data"


def test_json_holds_the_rows_timings_machine_date_and_command(startup, monkeypatch, tmp_path,
                                                              capsys):
    monkeypatch.setattr(startup, "prepare", lambda scratch: (scratch / "run", scratch / "p.png"))
    monkeypatch.setattr(startup, "measure", lambda commands, rounds, seed, scratch: _times())
    path = tmp_path / "startup.json"
    assert startup.main(["--rounds", "3", "--json", str(path)]) == 0
    written = json.loads(path.read_text())
    measured = written["measurements"][0]
    assert written["benchmark"] == "startup" and measured["rounds"] == 3
    assert measured["command"] == f"python benchmarks/startup.py --rounds 3 --json {path}"
    assert measured["times"] == _times()
    assert [row["case"] for row in measured["rows"]] == list(startup.LABELS)
    printed = capsys.readouterr().out
    startup.print_results(written)  # the file prints the table the run printed
    assert capsys.readouterr().out.strip() == printed.strip()
    assert "| `torchbasics train --dataset bonus --model linear` | 2.90 s | 1.45× | ≤ 1.5× | " \
        "yes |" in printed
