"""``lr-find`` and ``--lr auto`` on pictures and on a table, in Python and on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_idx_dataset
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.lr_find import lr_find
from torchbasics.runs.train import train

PICTURES = dict(model="mlp-relu", model_settings={"hidden": 32}, batch_size=16,
                val_fraction=0.2, precision="fp32")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_idx_dataset(tmp_path_factory.mktemp("lr") / "data")


def test_lr_find_writes_the_curve_and_suggests_a_rate(data, tmp_path):
    found = lr_find(TrainConfig(data_dir=str(data), **PICTURES), tmp_path, steps=60)
    assert 1e-6 < found.suggestion < 10 and len(found.rates) == len(found.losses) <= 60
    saved = json.loads((tmp_path / "lr_find.json").read_text())
    assert saved["suggestion"] == found.suggestion and saved["rates"] == found.rates
    assert (tmp_path / "lr_find.png").stat().st_size > 0


def test_train_with_lr_auto_trains_with_the_suggestion_and_records_it(data, tmp_path):
    lines = []
    train(TrainConfig(data_dir=str(data), lr="auto", epochs=2, **PICTURES), tmp_path / "run",
          log=lines.append)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    found = json.loads((tmp_path / "run" / "lr_find.json").read_text())
    assert config["lr"] == found["suggestion"] == config["lr_found"]["suggestion"]
    assert (tmp_path / "run" / "lr_find.png").is_file()
    assert any(line.startswith("lr auto: ") for line in lines)


def test_a_table_finds_its_rate_too(tmp_path):
    found = lr_find(TrainConfig(dataset="bonus", model="linear"), steps=80)
    assert 1e-6 < found.suggestion < 10
    summary = train(TrainConfig(dataset="bonus", model="linear", lr="auto", epochs=50),
                    tmp_path / "run", log=lambda _: None)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["lr_found"]
    assert summary["metrics"]["test"]["r2"] > 0.9


def test_the_command_line_prints_the_suggestion_and_refuses_a_word_it_does_not_know(
        data, tmp_path):
    command = [sys.executable, "-m", "torchbasics", "lr-find", "--model", "softmax",
               "--data-dir", str(data), "--steps", "40", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert done.stdout.startswith("suggested learning rate: ")
    assert (tmp_path / "lr_find.png").is_file()
    refused = subprocess.run([sys.executable, "-m", "torchbasics", "train", "--lr", "fast",
                              "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "expected a number or auto, got 'fast'" in refused.stderr
