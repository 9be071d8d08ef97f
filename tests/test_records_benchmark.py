"""benchmarks/records.py: how it reads its runs into the time to 99 % and the budget table.

(Its runs themselves are `torchbasics train` and `evaluate`, tested elsewhere; the
benchmark takes minutes, and its figures are in the README.)
"""

from __future__ import annotations

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
    ours, reference = "torchbasics cnn", "tuomaso (reimplemented)"
    fast = {ours: _runs((2, 8.0, 0.991)), reference: _runs((2, 20.0, 0.990))}
    assert records.print_mnist(fast)  # 8 s <= 10 s and <= half of 20 s
    slow = {ours: _runs((2, 12.0, 0.991)), reference: _runs((2, 20.0, 0.990))}
    assert not records.print_mnist(slow)  # above 10 s
    unreached = {ours: _runs((2, 8.0, 0.98)), reference: _runs((2, 20.0, 0.990))}
    assert not records.print_mnist(unreached)
    assert "| torchbasics cnn | not reached |" in capsys.readouterr().out


def test_fashion_table_judges_accuracy_and_overshoot(records, capsys):
    def row(budget: float, wall: float, accuracy: float) -> dict:
        return {"budget": budget, "runs": [{"wall": wall, "steps": 100, "epochs": 1,
                                            "accuracy": accuracy}]}

    assert records.print_fashion([row(60, 59.0, 0.5), row(300, 314.0, 0.95)], [])
    assert not records.print_fashion([row(300, 316.0, 0.95)], [])  # 5.3 % over
    assert not records.print_fashion([row(300, 290.0, 0.94)], [])  # below 94.5 %
    printed = capsys.readouterr().out
    assert "| 5 min | 1 | 290.0 s | -3.3% | 100 | 94.00% ± 0.00% | ≥ 94.5%: not met |" in printed
