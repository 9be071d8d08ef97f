"""Each image model trains briefly on a few hundred real digits (list-file subsets): MNIST's,
or where it is absent the UCI digits' stand-in for it."""

from __future__ import annotations

import json

import pytest

from tests.helpers import mnist_or_stand_in
from torchbasics.models import list_models
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.train import train


@pytest.fixture(scope="module")
def subset_lists(tmp_path_factory):
    """train.txt (300 IDs) and val.txt (100 IDs) of the training split; test.txt (390 IDs,
    which the stand-in's 397 test digits hold too)."""
    folder = tmp_path_factory.mktemp("lists")
    for name, ids in (("train", range(300)), ("val", range(300, 400)), ("test", range(390))):
        (folder / f"{name}.txt").write_text("\n".join(str(i) for i in ids) + "\n")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("model", list_models(task="classification", inputs="image"))
def test_model_learns_real_digits(model, subset_lists, tmp_path):
    data_dir = mnist_or_stand_in()
    config = TrainConfig(dataset="mnist", model=model, epochs=5, batch_size=16,
                         data_dir=str(data_dir), train_list=str(subset_lists / "train.txt"),
                         val_list=str(subset_lists / "val.txt"))
    summary = train(config, tmp_path / model, log=lambda line: None)
    assert json.loads((tmp_path / model / "config.json").read_text())["train_images"] == 300
    assert summary["lowest_val_error"] < 0.5  # chance is 0.9; 300 images, 5 epochs
    result = evaluate_run(tmp_path / model, list_path=subset_lists / "test.txt")
    assert result["count"] == 390 and result["error"] < 0.5
