"""benchmarks/serve.py: what a load run's figures become (rows, goals, verdicts) and what
``--json`` writes. The server and the clients are stood in for here: the server itself is
tested in tests/serve/, and the benchmark's figures are on the Serving results page."""

from __future__ import annotations

import json

import pytest

from tests.helpers import benchmark_module


@pytest.fixture(scope="module")
def serve():
    """benchmarks/serve.py as a module."""
    with benchmark_module("serve") as module:
        yield module


def _load(serve, clients: int, milliseconds: float, requests: int, seconds: float):
    """A load run of ``requests`` answered in ``milliseconds`` each, over ``seconds``."""
    return serve.Load(clients, seconds=seconds, latencies=[milliseconds / 1000] * requests)


def test_figures_judge_each_goal(serve, capsys):
    light, heavy = _load(serve, 8, 80.0, 200, 2.0), _load(serve, 32, 300.0, 1000, 8.0)
    inside = _load(serve, 1, 40.0, 200, 8.0)
    figures = serve.figures({1: 150.0, 2: 200.0}, light, heavy, (300.0, 320.0, 340.0), inside)
    assert figures["throughput"] == 125.0 and figures["share"] == 0.625
    assert figures["met"] == {"errors": True, "throughput": True, "p99": True, "rss": True,
                              "inside": True}
    slow = _load(serve, 8, 120.0, 200, 2.0)
    assert not serve.figures({1: 150.0}, slow, heavy, (300.0, 320.0, 400.0), inside)["met"][
        "p99"]
    serve.print_table(figures)
    printed = capsys.readouterr().out
    assert "| 8 | 200 | 0 | 100 | 80.0 ms | 80.0 ms | 80.0 ms |" in printed
    assert ("| throughput vs the in-process limit (`predict_many`, batches of 64, decoding "
            "included; 150 pictures/s with 1 PyTorch thread, 200 with 2) | 125 vs 200 "
            "pictures/s (62 %) | ≥ 50 % | yes |") in printed
    assert "| 300 → 320 → 340 MiB (+40) | ≤ +50 MiB | yes |" in printed


def test_json_holds_the_figures_machine_date_and_command(serve, monkeypatch, tmp_path, capsys):
    loads = iter([_load(serve, 8, 10.0, 200, 1.0), _load(serve, 8, 60.0, 100, 1.0),
                  _load(serve, 32, 200.0, 300, 2.0), _load(serve, 1, 30.0, 20, 1.0),
                  _load(serve, 1, 35.0, 200, 8.0)])

    class Process:
        pid = 0

        def terminate(self) -> None: ...

        def wait(self, timeout: float) -> None: ...

    monkeypatch.setattr(serve, "trained", lambda model: tmp_path / model)
    monkeypatch.setattr(serve, "canvas_pictures", lambda count: [b"png"])
    monkeypatch.setattr(serve, "in_process_limit", lambda run, pictures, seconds: {1: 160.0})
    monkeypatch.setattr(serve, "start_server", lambda run: (Process(), "http://127.0.0.1:1"))
    monkeypatch.setattr(serve, "rss_mb", lambda pid: 300.0)
    monkeypatch.setattr(serve, "run_load", lambda *args: next(loads))
    path = tmp_path / "serve.json"
    assert serve.main(["--quick", "--json", str(path)]) == 0
    written = json.loads(path.read_text())
    measured = written["measurements"][0]
    assert written["benchmark"] == "serve" and measured["quick"]
    assert measured["command"] == f"python benchmarks/serve.py --quick --json {path}"
    assert [row["requests"] for row in measured["loads"]] == [100, 300]
    assert measured["inside"]["requests"] == 200 and measured["rss_growth_mib"] == 0
    printed = capsys.readouterr().out
    serve.print_results(written)  # the file prints the tables the run printed
    assert capsys.readouterr().out.strip() in printed
    assert "| 32 | 300 | 0 | 150 | 200.0 ms | 200.0 ms | 200.0 ms |" in printed
