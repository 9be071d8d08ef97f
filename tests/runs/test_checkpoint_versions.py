"""Checkpoints written before a model changed still rebuild the model they were trained as.

Format version 1 is before convnet's head became a hidden fully connected layer: such a
convnet ended in global average pooling, and its checkpoints say nothing about a head.
"""

from __future__ import annotations

import os
import signal

import pytest
import torch

from tests.helpers import make_idx_dataset
from torchbasics.checkpoint import (
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from torchbasics.runs.config import TrainConfig
from torchbasics.training.interrupts import TrainingInterrupted
from torchbasics.runs.images import train


def as_version_1(path) -> None:
    """Rewrite a convnet checkpoint (head "average") as the version-1 file it stands for."""
    checkpoint = load_checkpoint(path)
    assert checkpoint["model_settings"] == {"head": "average"}
    checkpoint["format_version"] = 1
    checkpoint["model_settings"] = {}
    checkpoint["config"]["model_settings"] = {}
    save_checkpoint(path, checkpoint)


@pytest.fixture
def interrupted_version_1_run(tmp_path, monkeypatch):
    """A convnet run stopped after epoch 1 of 2, its checkpoints rewritten as version 1."""
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "cache"))
    data = make_idx_dataset(tmp_path / "data", train=80)
    config = TrainConfig(model="convnet", model_settings={"head": "average"}, epochs=2,
                         batch_size=32, val_fraction=0.2, data_dir=str(data), precision="fp32")

    def stop_after_epoch_1(line: str) -> None:
        if line.startswith("epoch 1/2"):
            os.kill(os.getpid(), signal.SIGINT)

    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        train(config, run, log=stop_after_epoch_1)
    for name in ("best.pt", "last.pt"):
        as_version_1(run / name)
    return run


def test_a_version_1_convnet_is_rebuilt_with_global_average_pooling(interrupted_version_1_run):
    checkpoint = load_checkpoint(interrupted_version_1_run / "best.pt")
    model = model_from_checkpoint(checkpoint)
    assert any(isinstance(layer, torch.nn.AdaptiveAvgPool2d) for layer in model)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_a_version_1_convnet_run_resumes_and_says_its_head(interrupted_version_1_run):
    run = interrupted_version_1_run
    summary = train(TrainConfig(), run, resume=True, log=lambda _: None)
    assert summary["epochs"] == 2
    final = load_checkpoint(run / "last.pt")
    assert final["format_version"] == 2 and final["model_settings"] == {"head": "average"}
    model_from_checkpoint(final)  # the weights fit the model the checkpoint now describes


def test_todays_convnet_checkpoints_are_not_taken_for_version_1(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "cache"))
    data = make_idx_dataset(tmp_path / "data", train=80)
    train(TrainConfig(model="convnet", epochs=1, batch_size=32, val_fraction=0.2,
                      data_dir=str(data), precision="fp32"), tmp_path / "run", log=lambda _: None)
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert checkpoint["format_version"] == 2 and checkpoint["model_settings"] == {}
    model = model_from_checkpoint(checkpoint)
    assert any(isinstance(layer, torch.nn.BatchNorm1d) for layer in model)
