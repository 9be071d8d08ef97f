"""benchmarks/records.py: how it reads its runs into the time to 99 % and the budget table,
and what ``--json`` writes.

(Its runs themselves are `torchbasics train` and `evaluate`, tested elsewhere; the
benchmark takes minutes, and its figures are on the Records page.)
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import benchmark_module


@pytest.fixture(scope="module")
def records():
    """benchmarks/records.py as a module."""
    with benchmark_module("records") as module:
        yield module


def _runs(*rows: tuple[int, float, float]) -> list[dict]:
    return [{"epochs": e, "seconds": s, "accuracy": a} for e, s, a in rows]


def test_time_to_target_is_the_shortest_length_whose_seed_mean_reaches_it(records):
    runs = _runs((4, 10.0, 0.991), (4, 12.0, 0.987),  # one seed above, the mean below
                 (8, 20.0, 0.990), (8, 22.0, 0.992),
                 (12, 30.0, 0.995), (12, 30.0, 0.995))
    assert records.time_to_target(runs) == (8, 21.0, pytest.approx(0.991))
    assert records.time_to_target(_runs((4, 10.0, 0.98))) is None


def test_mnist_table_judges_ours_against_both_goals(records, capsys):
    ours, reference = "torchbasics `cnn` (its MNIST recipe, cut)", records.REFERENCE

    def met(mine: list[dict], theirs: list[dict]) -> bool:
        return records.mnist_met(records.mnist_rows({ours: mine, reference: theirs}))

    assert met(_runs((2, 8.0, 0.991)), _runs((2, 20.0, 0.990)))  # 8 s <= 10 s, <= half of 20
    assert not met(_runs((2, 12.0, 0.991)), _runs((2, 20.0, 0.990)))  # above 10 s
    assert not met(_runs((2, 8.0, 0.98)), _runs((2, 20.0, 0.990)))  # not reached
    rows = records.mnist_rows({ours: _runs((2, 8.0, 0.98), (4, 12.0, 0.99)),
                               reference: _runs((2, 6.0, 0.985), (4, 9.0, 0.987))})
    records.print_mnist({"rows": rows, "seeds": [0]})
    printed = capsys.readouterr().out
    assert f"| {ours} | 4 epochs | 12.0 s | 99.00 % | 12.0 s, 99.00 % |" in printed
    assert f"| {reference} | not reached | | 98.50 % at 2 epochs (6.0 s) | 9.0 s, 98.70 % |" \
        in printed


def test_fashion_table_judges_accuracy_and_overshoot(records, capsys):
    def row(budget: float, wall: float, accuracy: float) -> dict:
        return {"budget": budget, "runs": [{"wall": wall, "steps": 100, "epochs": 1,
                                            "accuracy": accuracy}]}

    assert records.fashion_met(records.fashion_rows([row(60, 59.0, 0.5), row(300, 314.0, 0.95)]))
    assert not records.fashion_met(records.fashion_rows([row(300, 316.0, 0.95)]))  # 5.3 % over
    assert not records.fashion_met(records.fashion_rows([row(300, 290.0, 0.94)]))  # < 94.5 %
    records.print_fashion({"rows": records.fashion_rows([row(300, 290.0, 0.94)])})
    assert "| 5 min | 1 | 290.0 s (-3.3 %) | 100 | 94.00 % | ≥ 94.5 %: not met |" \
        in capsys.readouterr().out


def test_json_holds_the_rows_machine_date_and_command(records, monkeypatch, tmp_path, capsys):
    def fashion(budgets, seeds, extra, out):
        return [{"budget": budget, "runs": [{"wall": budget - 1, "steps": 50, "epochs": 2,
                                             "accuracy": 0.9 + seed / 100} for seed in seeds]}
                for budget in budgets]

    monkeypatch.setattr(records, "fashion", fashion)
    monkeypatch.setattr(records, "mirror_ablation", lambda run: {
        "mirror-averaged": (0.91, 2000.0), "one view": (0.9, 4000.0)})
    path = tmp_path / "records.json"
    argv = ["fashion", "--budgets", "1m", "--seeds", "0", "1", "--json", str(path)]
    assert records.main(argv) == 0
    written = json.loads(path.read_text())
    measured = written["measurements"][0]
    assert written["benchmark"] == "records" and measured["table"] == "fashion"
    assert measured["command"] == "python benchmarks/records.py " + " ".join(argv)
    assert measured["rows"][0]["accuracy_pct_per_seed"] == pytest.approx([90.0, 91.0])
    assert measured["mirror"]["one view"]["images_per_second"] == 4000.0
    printed = capsys.readouterr().out
    records.print_results(written)  # the file prints the table the run printed
    assert capsys.readouterr().out.strip() == printed.strip()
    assert "| 1 min | 2 | 59.0 s (-1.7 %) | 50 | 90.50 % ± 0.71 (90.00 %, 91.00 %) |  |" \
        in printed
    assert "- one view: 90.00 % test accuracy, 4,000 images/s" in printed
