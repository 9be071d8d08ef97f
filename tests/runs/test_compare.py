"""``compare``: every model trained on the same split, one table, one figure."""

from __future__ import annotations

import json
import re

import pytest

from torchbasics.cli import main
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.compare import compare
from torchbasics.runs.config import TrainConfig


@pytest.fixture
def base(idx_dir) -> TrainConfig:
    return TrainConfig(dataset="mnist", epochs=2, batch_size=32, val_fraction=0.2,
                       data_dir=str(idx_dir), precision="fp32")


def test_compare_writes_table_json_and_curves(base, tmp_path):
    rows = compare(base, ["softmax", "mlp-relu"], tmp_path / "cmp", log=lambda line: None)
    assert [row["model"] for row in rows] == ["softmax", "mlp-relu"]
    results = json.loads((tmp_path / "cmp" / "results.json").read_text())
    for row, saved in zip(rows, results["models"], strict=True):
        run = json.loads((tmp_path / "cmp" / row["model"] / "summary.json").read_text())
        assert saved["test_error"] == run["test_error"] and 0 <= saved["test_error"] <= 1
        assert saved["lowest_val_error"] == run["lowest_val_error"]
    table = (tmp_path / "cmp" / "results.md").read_text()
    assert "| Final Train Error | Final Validation Error | Lowest Validation Error |" in table
    assert table.count("| softmax |") == 1 and table.count("| mlp-relu |") == 1
    assert (tmp_path / "cmp" / "validation_curves.png").stat().st_size > 1000


def test_every_name_is_checked_before_training(base, tmp_path):
    with pytest.raises(TorchbasicsError, match="unknown model 'cnnn'"):
        compare(base, ["softmax", "cnnn"], tmp_path / "cmp", log=lambda line: None)
    assert not (tmp_path / "cmp").exists()


def test_cli_compare(idx_dir, tmp_path, capsys):
    argv = ["compare", "--dataset", "mnist", "--data-dir", str(idx_dir), "--models",
            "softmax,cnn", "--epochs", "1", "--out", str(tmp_path / "cmp"), "--quiet"]
    assert main(argv) == 0
    assert "# Models compared on mnist" in capsys.readouterr().out
    assert main(argv) == 2  # the runs exist now
    assert "--force" in capsys.readouterr().err


def test_a_diverging_model_does_not_stop_the_others(idx_dir, tmp_path, monkeypatch, capsys):
    from torchbasics.models import get_model_entry

    monkeypatch.setitem(get_model_entry("mlp-relu").recipe, "lr", 1e30)
    argv = ["compare", "--dataset", "mnist", "--data-dir", str(idx_dir), "--models",
            "mlp-relu,softmax", "--epochs", "1", "--out", str(tmp_path / "cmp"), "--quiet"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert re.search(r"\| mlp-relu \| failed: the (validation )?loss became NaN", out)
    assert out.count("| softmax |") == 1  # trained after the failure, tabulated
    assert err.splitlines() == [
        "torchbasics: error: 1 of 2 models failed to train: mlp-relu (see the table)"]
    saved = json.loads((tmp_path / "cmp" / "results.json").read_text())["models"]
    assert [row["model"] for row in saved] == ["mlp-relu", "softmax"]
    assert "failed" in saved[0] and 0 <= saved[1]["test_error"] <= 1


def test_compare_lr_auto_runs_the_range_test_for_each_model(base, tmp_path):
    import dataclasses

    compare(dataclasses.replace(base, lr="auto", epochs=1), ["softmax", "mlp-relu"],
            tmp_path / "cmp", log=lambda line: None)
    for model in ("softmax", "mlp-relu"):
        run = tmp_path / "cmp" / model
        config = json.loads((run / "config.json").read_text())
        assert config["lr"] == config["lr_found"]["suggestion"] > 0
        assert (run / "lr_find.png").is_file() and (run / "lr_find.json").is_file()
