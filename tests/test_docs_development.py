"""docs/development/04-adding.md's examples are real code: the model is registered and
trained for one epoch on the page's data set and on the bonus table through
``torchbasics.runs.train.train``, the setting's declaration reads and checks as the page
says, and the command runs on the trained run. Both registries are left as they were."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
import torch

from torchbasics.data.registry import DATASETS
from torchbasics.data.spec import TABLE_RECIPES, DatasetSpec
from torchbasics.errors import TorchbasicsError
from torchbasics.models import _registry, create_model, list_models
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.train import train
from torchbasics.settings import flag_name, setting, settings_of
from torchbasics.tabular.source import inferred_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "development" / "04-adding.md"


def example(name: str) -> str:
    """The code block that follows ``<!-- example: NAME -->`` on the page."""
    found = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)\n```", PAGE.read_text(),
                      re.DOTALL)
    assert found, f"{PAGE.name}: no example '{name}'"
    return found.group(1)


@pytest.fixture
def tiny_mlp():
    """The page's model, registered while the test runs."""
    exec(compile(example("model"), str(PAGE), "exec"), {"__name__": "tiny_example"})
    try:
        yield "tiny-mlp"
    finally:
        _registry._MODELS.pop("tiny-mlp", None)


@pytest.fixture
def wine(tmp_path, monkeypatch):
    """The page's data set, registered while the test runs, reading scikit-learn's wine
    table written as the CSV the page ships (``cultivar`` the class)."""
    datasets = pytest.importorskip("sklearn.datasets")
    table = datasets.load_wine()
    csv = tmp_path / "wine.csv"
    rows = [",".join([*table.feature_names, "cultivar"])]
    rows += [",".join([*map(str, features), f"cultivar_{label}"])
             for features, label in zip(table.data, table.target, strict=True)]
    csv.write_text("\n".join(rows) + "\n")
    names = {"DatasetSpec": DatasetSpec, "TABLE_RECIPES": TABLE_RECIPES,
             "inferred_table": inferred_table,
             "resource_path": lambda name: tmp_path / name}  # the shipped file, here
    (spec,) = eval(compile(example("data set"), str(PAGE), "eval"), names)
    monkeypatch.setitem(DATASETS, spec.name, spec)
    return spec.name


def test_the_model_example_registers_builds_and_trains(tiny_mlp, wine, tmp_path):
    assert tiny_mlp in list_models(task="regression", inputs="table")
    assert tiny_mlp in list_models(task="classification", inputs="image")
    logits = create_model(tiny_mlp, (1, 28, 28), 10, hidden=8)(torch.zeros(2, 1, 28, 28))
    assert logits.shape == (2, 10)
    for dataset in (wine, "bonus"):
        summary = train(TrainConfig(dataset=dataset, model=tiny_mlp, epochs=1),
                        tmp_path / dataset, log=lambda line: None)
        config = json.loads((tmp_path / dataset / "config.json").read_text())
        assert (config["model"], config["epochs"]) == (tiny_mlp, 1)
        assert summary["epochs"] == 1 and math.isfinite(summary["final_train_loss"])


def test_the_data_set_example_trains_its_tasks_own_model(wine, tmp_path, capsys):
    train(TrainConfig(dataset=wine, epochs=1), tmp_path / "run", log=lambda line: None)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] == "softmax"  # the task's own: the data set names none
    names = {"__name__": "describe_example"}
    exec(compile(example("command"), str(PAGE), "exec"), names)
    parser = argparse.ArgumentParser(prog="torchbasics")
    names["register"](parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["describe", str(tmp_path / "run")])
    assert args.handler(args) == 0
    described = json.loads(capsys.readouterr().out)
    assert (described["kind"], described["target"]) == ("tabular", "cultivar")
    assert described["classes"] == ["cultivar_0", "cultivar_1", "cultivar_2"]


def test_the_setting_example_is_a_declaration_with_its_range_and_flag():
    names = {"dataclass": dataclasses.dataclass, "setting": setting}
    exec(compile(example("setting"), str(PAGE), "exec"), names)
    (name, declared), = settings_of(names["TrainConfig"]).items()
    assert (name, flag_name(name), declared.default) == ("max_grad_norm", "--max-grad-norm", 0.0)
    declared.check(flag_name(name), 1.5)
    with pytest.raises(TorchbasicsError, match="max-grad-norm"):
        declared.check(flag_name(name), -1.0)
