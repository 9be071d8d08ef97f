"""A model trained on deskewed images gets deskewed input everywhere it is used afterwards.

Deskewing is part of the model's input, like normalization: a run trained with it records
it in its checkpoint, and evaluation, prediction and the exported file all apply it with
no flag. Each check below compares with the input computed by hand, with and without
deskewing, so that a path which forgot it would fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import (
    assert_predict_and_torchscript_give,
    pixels_of,
    real_data_dir,
    write_random_id_lists,
)
from torchbasics.checkpoint import load_checkpoint
from torchbasics.data.sources import load_split
from torchbasics.data.transforms import Normalize, deskew
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.train import train

TRAIN_IMAGES, VAL_IMAGES = 600, 200


@pytest.fixture(scope="module")
def deskewed_run(tmp_path_factory):
    """Softmax regression trained on 600 real MNIST digits, deskewed (3 epochs, ~2 s)."""
    mnist_dir = real_data_dir("mnist")
    folder = tmp_path_factory.mktemp("deskewed")
    train_list, val_list = write_random_id_lists(folder, 10_000, TRAIN_IMAGES, VAL_IMAGES, 1)
    config = TrainConfig(dataset="mnist", model="softmax", epochs=3, batch_size=32,
                         deskew=True, precision="fp32", data_dir=str(mnist_dir),
                         train_list=str(train_list), val_list=str(val_list))
    train(config, folder / "run", log=lambda line: None)
    test = load_split("mnist", "test", mnist_dir, download=False, progress=False)
    return folder / "run", test


def _probabilities(run, pixels: torch.Tensor, *, straighten: bool) -> np.ndarray:
    """The run's probabilities for ``(N, 1, 28, 28)`` pixels on [0, 1], computed by hand."""
    from torchbasics.checkpoint import model_from_checkpoint

    checkpoint = load_checkpoint(run / "best.pt")
    model = model_from_checkpoint(checkpoint)
    inputs = Normalize(checkpoint["input"]["mean"], checkpoint["input"]["std"])(
        deskew(pixels) if straighten else pixels)
    with torch.no_grad():
        return torch.softmax(model(inputs), dim=1).numpy()


def test_the_checkpoint_records_it_and_evaluation_applies_it(deskewed_run):
    run, test = deskewed_run
    assert load_checkpoint(run / "best.pt")["input"]["deskew"] is True
    pixels = test.images.float() / 255  # (N, 1, 28, 28)
    labels = test.labels.numpy()
    by_hand = (_probabilities(run, pixels, straighten=True).argmax(1) != labels).mean()
    not_deskewed = (_probabilities(run, pixels, straighten=False).argmax(1) != labels).mean()
    assert not_deskewed > by_hand + 0.02  # so a forgotten deskew would show
    assert evaluate_run(run, device="cpu")["error"] == pytest.approx(by_hand, abs=2e-4)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TorchScript, deprecated in torch
def test_prediction_and_the_exported_file_apply_it(deskewed_run, tmp_path):
    import torchbasics

    run, test = deskewed_run
    classifier = torchbasics.load(run)
    assert classifier.preprocessing.deskew
    images = test.images[:20, 0].numpy()
    pixels = pixels_of(classifier, images)  # (20, 1, 28, 28) on [0, 1], before deskewing
    expected = _probabilities(run, pixels, straighten=True)
    assert np.abs(expected - _probabilities(run, pixels, straighten=False)).max() > 0.05
    assert_predict_and_torchscript_give(classifier, images, expected, tmp_path)


def test_the_recipe_deskews_handwriting_only():
    assert resolve(TrainConfig(dataset="mnist", model="softmax")).deskew is True
    assert resolve(TrainConfig(dataset="fashion-mnist", model="softmax")).deskew is False
    assert resolve(TrainConfig(dataset="mnist", model="softmax", deskew=False)).deskew is False
