"""``torchbasics doctor``: the whole report, quickly, without downloading or writing."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import numpy as np
import pytest
import torch

import torchbasics
from torchbasics import doctor
from torchbasics.cli import main
from torchbasics.device import choose_device, choose_precision

SECTIONS = ["versions", "device", "cpu", "extras", "data", "cache"]


@pytest.fixture
def offline(monkeypatch, tmp_path, idx_dir):
    """No network, the working folder empty, and the synthetic MNIST as the data path."""
    def no_network(*args, **kwargs):
        raise AssertionError("doctor must not download anything")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCHBASICS_DATA", str(idx_dir))


def test_collect_answers_every_section_quickly(offline):
    start = time.perf_counter()
    report = doctor.collect()
    assert time.perf_counter() - start < 1.0  # torch is imported already: the rest is quick
    assert list(report) == SECTIONS
    assert not any("error" in section for section in report.values())


def test_versions_and_build(offline):
    versions = doctor.collect()["versions"]
    assert versions["torchbasics"] == torchbasics.__version__
    assert (versions["torch"], versions["numpy"]) == (torch.__version__, np.__version__)
    cpu_only = torch.version.cuda is None and torch.version.hip is None
    assert versions["torch_build"].startswith("CPU only") == cpu_only


def test_device_section_is_what_auto_picks(offline):
    section = doctor.collect()["device"]
    chosen = choose_device("auto")
    precision = choose_precision("auto", chosen.device)
    assert (section["device"], section["device_reason"]) == (str(chosen.device), chosen.reason)
    assert (section["precision"], section["precision_reason"]) == (precision.name,
                                                                   precision.reason)


def test_data_sets_found_on_the_search_path_and_the_shipped_csv(offline, idx_dir):
    section = doctor.collect()["data"]
    assert section["mnist"] == {"found": True, "where": str(idx_dir),
                                "origin": "$TORCHBASICS_DATA"}
    assert section["bonus"]["found"] and section["bonus"]["where"].endswith("bonus.csv")
    assert section["search_path_env"] == str(idx_dir)


def test_a_data_set_not_found_says_how_to_get_it(offline, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHBASICS_DATA", str(tmp_path / "empty"))
    section = doctor.collect()["data"]
    assert section["mnist"] == {"found": False, "get": "torchbasics data download mnist"}
    text = doctor.format_report(doctor.collect())
    assert "  mnist" in text and "not found: torchbasics data download mnist" in text


def test_cache_folder_not_yet_created_reports_the_free_space_where_it_would_be(
        offline, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "not" / "yet"))
    section = doctor.collect()["cache"]
    assert not (tmp_path / "not").exists()  # looked, created nothing
    assert section["exists"] is False and section["free_gib"] > 0
    assert "(not created yet)" in doctor.format_report({"cache": section})


def test_a_part_that_fails_shows_its_error_and_the_rest_still_answers(offline, monkeypatch):
    def broken():
        raise RuntimeError("cannot read the CPU")

    monkeypatch.setattr(doctor, "cpu_info", broken)
    report = doctor.collect()
    assert report["cpu"] == {"error": "RuntimeError: cannot read the CPU"}
    assert "could not find out  RuntimeError: cannot read the CPU" in doctor.format_report(report)
    assert "error" not in report["versions"]


def test_missing_extras_show_their_pip_command(offline, monkeypatch):
    monkeypatch.setattr(doctor, "installed_versions",
                        lambda extra: {"jupyterlab": None} if extra == "notebooks"
                        else {"tensorboard": "2.21.0"})
    text = doctor.format_report(doctor.collect())
    assert re.search(r"\n  notebooks +not installed: pip install 'torchbasics\[notebooks\]'\n",
                     text)
    assert re.search(r"\n  tensorboard +installed \(tensorboard 2\.21\.0\)\n", text)
    assert "pip install 'torchbasics[all]'" in text


def test_gpus_are_listed_on_a_cuda_machine(offline, monkeypatch):
    class Properties:
        name, major, minor, total_memory = "Tesla T4", 7, 5, 15 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Properties)
    monkeypatch.setattr(doctor, "choose_device", lambda name: choose_device("cpu"))
    section = doctor.collect()["device"]
    assert section["gpus"] == ["cuda:0 Tesla T4, compute capability 7.5, 15.0 GiB"]


def test_cli_text_and_json(offline, capsys):
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("torchbasics doctor")
    for name in SECTIONS:
        assert f"\n{name}\n" in text
    assert re.search(rf"\n  torchbasics +{re.escape(torchbasics.__version__)} \(", text)
    assert main(["doctor", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == SECTIONS
