"""Defaults for the user's own pictures: the model named in the header, the length fitted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from torchbasics.runs import own_defaults
from torchbasics.runs.config import TrainConfig, lengths_given, resolve
from torchbasics.runs.own_defaults import MIN_STEPS, model_note, sized_to_data
from torchbasics.runs.train import train


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Two classes of 12 small pictures each (dark and light), one folder per class."""
    root = tmp_path_factory.mktemp("own") / "pictures"
    rng = np.random.default_rng(0)
    for name, level in (("dark", 40), ("light", 210)):
        (root / name).mkdir(parents=True)
        for index in range(12):
            pixels = np.clip(rng.normal(level, 20, (12, 12)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index}.png")
    return root


def test_a_small_folder_trains_at_least_min_steps(folder):
    config = resolve(TrainConfig(dataset=str(folder)))
    assert config.model == "convnet" and config.batch_size == 128 and config.epochs == 15
    sized, note = sized_to_data(config, train_images=269)  # 2 full batches, 13 left out
    assert sized.epochs == -(-MIN_STEPS // 2) and sized.epochs * 2 >= MIN_STEPS
    assert note.startswith(f"{sized.epochs} epochs of 2 steps: the recipe's 15 epochs are 30")
    assert sized_to_data(config, train_images=100)[0].epochs == MIN_STEPS  # one batch of all


def test_a_large_folder_or_a_registered_data_set_keeps_the_recipe(folder):
    config = resolve(TrainConfig(dataset=str(folder)))
    assert sized_to_data(config, train_images=50_000) == (config, None)
    mnist = resolve(TrainConfig(dataset="mnist", model="convnet"))
    assert sized_to_data(mnist, train_images=300) == (mnist, None)


def test_a_length_given_is_the_users():
    assert not lengths_given(TrainConfig())
    assert all(lengths_given(TrainConfig(**{name: 2})) == [name] for name in ("epochs", "steps"))
    assert lengths_given(TrainConfig(time_budget=60.0)) == ["time_budget"]


def test_the_model_chosen_for_own_pictures_says_why(folder):
    config = TrainConfig(dataset=str(folder))
    note = model_note(config, resolve(config))
    assert note.startswith("convnet: the default for your own pictures: its batch norm")
    named = TrainConfig(dataset=str(folder), model="cnn")
    assert model_note(named, resolve(named)) is None
    assert model_note(TrainConfig(), resolve(TrainConfig())) is None  # MNIST: nothing to say


def test_a_run_on_own_pictures_logs_and_records_what_was_chosen(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(own_defaults, "MIN_STEPS", 60)  # 2 steps an epoch: 30 epochs
    lines = []
    # A rate these 18 pictures train at: with the recipe's 0.2 (2 steps an epoch) the
    # validation loss grows a hundredfold in three epochs, a real divergence.
    train(TrainConfig(dataset=str(folder), batch_size=8, lr=0.01, precision="fp32",
                      val_fraction=0.25), tmp_path / "run", log=lines.append)
    assert any(line.startswith("  convnet: the default for your own pictures") for line in lines)
    assert any(line.startswith("  30 epochs of 2 steps") for line in lines)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["epochs"] == 30 and recorded["model"] == "convnet"
