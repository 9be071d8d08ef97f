"""The benchmarks' results files (benchmarks/_results.py): what a measurement records, and
each committed file printed by its benchmark's own table function with its figures.

(The results pages are made from these files: tests/test_docs.py checks the built pages.)
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.helpers import benchmark_module
from torchbasics.cpu import cpu_info

BENCHMARKS = ("accuracy", "records", "speed", "startup", "serve")


@pytest.fixture(scope="module")
def results():
    """benchmarks/_results.py as a module."""
    with benchmark_module("_results") as module:
        yield module


def _printed(name: str, capsys) -> tuple[dict, str]:
    """The newest committed results file of benchmark ``name``, and what its
    ``print_results`` prints from it."""
    with benchmark_module(name) as module, benchmark_module("_results") as results:
        committed = json.loads(results.newest(name).read_text())
        module.print_results(committed)
    return committed, capsys.readouterr().out


def test_a_measurement_records_this_machine_today_and_its_command(results, tmp_path):
    started = time.perf_counter()
    measured = results.measurement("python benchmarks/x.py --quick", started, rows=[1, 2])
    assert measured["machine"]["cpu"] == cpu_info().model
    assert measured["machine"]["family"] == (cpu_info().family or None)
    assert measured["machine"]["torch"] and measured["machine"]["cpus"] >= 1
    assert measured["date"] == time.strftime("%Y-%m-%d")
    assert measured["command"] == "python benchmarks/x.py --quick"
    assert measured["source"] == results.WRITTEN and measured["rows"] == [1, 2]
    results.write(tmp_path / "x.json", "x", measured)
    assert json.loads((tmp_path / "x.json").read_text()) == {"benchmark": "x",
                                                            "measurements": [measured]}


def test_the_heading_names_the_date_command_machine_and_a_transcription():
    with benchmark_module("_results") as results:
        machine = {"cpu": "AMD EPYC", "family": "25", "model": "1", "flags": ["avx2"],
                   "cpus": None, "threads": 2, "torch": "2.13.0+cpu"}
        assert results.describe(machine) == ("AMD EPYC (family 25, model 1; AVX2), 2 threads, "
                                             "torch 2.13.0+cpu")
        measured = {"machine": machine, "date": "2026-12-03", "command": "python b.py",
                    "source": "transcribed from a table", "seconds": 861}
        assert results.heading(measured) == (
            "Measured on 2026-12-03 by `python b.py`, 14 min 21 s, on AMD EPYC (family 25, "
            "model 1; AVX2), 2 threads, torch 2.13.0+cpu (transcribed from a table):")
        written = measured | {"source": results.WRITTEN, "seconds": None}
        assert "transcribed" not in results.heading(written)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_committed_file_names_its_machine_date_command_and_source(name, capsys):
    committed, printed = _printed(name, capsys)
    assert committed["benchmark"] == name
    for measured in committed["measurements"]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", measured["date"])
        assert measured["command"].startswith(f"python benchmarks/{name}.py")
        assert measured["machine"]["cpu"] and measured["source"]
        assert f"Measured on {measured['date']} by `{measured['command']}`" in printed


def test_the_accuracy_table_shows_every_row_of_the_file(capsys):
    committed, printed = _printed("accuracy", capsys)
    for row in committed["measurements"][0]["rows"]:
        line = next(line for line in printed.splitlines()
                    if line.startswith(f"| {row['data']} | {row['model']} |"))
        assert f"**{row['test_error_pct']:.2f} %**" in line
        assert f"| {row['train_seconds']:.0f} s |" in line
        assert line.endswith("| yes |" if row["met"] else "| NO |")


def test_the_records_tables_show_every_budget_and_recipe(capsys):
    committed, printed = _printed("records", capsys)
    tables = {measured["table"] for measured in committed["measurements"]}
    assert tables == {"fashion", "mnist"}
    for measured in committed["measurements"]:
        for row in measured["rows"]:
            if measured["table"] == "fashion":
                assert (f"| {row['budget_seconds'] / 60:g} min | {row['seeds']} | "
                        f"{row['wall_seconds_mean']:.1f} s ({row['worst_overshoot_pct']:+.1f} %)"
                        f" | {row['steps_mean']:,.0f} | {row['accuracy_pct_mean']:.2f} %"
                        in printed)
            else:
                assert f"| {row['recipe']} |" in printed
                assert f"{row['longest']['seconds_mean']:.1f} s, " in printed


def test_the_speed_table_shows_every_row(capsys):
    committed, printed = _printed("speed", capsys)
    for row in committed["measurements"][0]["rows"]:
        assert f"| {row['measure']} | {row['ours']} | {row['baseline']} | {row['ratio']} |" \
            in printed


def test_the_startup_table_shows_every_case(capsys):
    committed, printed = _printed("startup", capsys)
    for row in committed["measurements"][0]["rows"]:
        assert (f"| {row['median_seconds']:.2f} s | {row['times_import_torch']:.2f}× |"
                in printed)


def test_the_serve_tables_show_the_loads_and_goals(capsys):
    committed, printed = _printed("serve", capsys)
    measured = committed["measurements"][0]
    for row in measured["loads"]:
        assert (f"| {row['clients']} | {row['requests']:,} | {row['errors']} | "
                f"{row['requests_per_second']:,.0f} | {row['p50_ms']:.1f} ms |" in printed)
    assert f"{measured['throughput']:,.0f} vs {measured['limit']:,.0f} pictures/s" in printed
    assert f"p95 {measured['inside']['p95_ms']:.1f} ms" in printed
