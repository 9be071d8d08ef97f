"""A model trained for mirror averaging predicts from each image and its mirror image everywhere.

Like deskewing, it is recorded in the checkpoint: validation during training, evaluation,
prediction and the exported file all average the two views' logits with no flag. Each
check compares with the average computed by hand from the bare network, and with the bare
network's own output, so that a path which forgot it would fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import (
    assert_predict_and_torchscript_give,
    make_idx_dataset,
    pixels_of,
    real_data_dir,
    write_random_id_lists,
)
from torchbasics.checkpoint import load_checkpoint, model_from_checkpoint
from torchbasics.data.sources import load_split
from torchbasics.data.transforms import Normalize
from torchbasics.errors import TorchbasicsError
from torchbasics.models.mirror import MirrorAveraged
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.runs.evaluate import evaluate_run
from torchbasics.runs.train import train

TRAIN_IMAGES, VAL_IMAGES = 600, 200


def test_eval_mode_averages_the_logits_of_both_views_and_training_sees_one():
    torch.manual_seed(0)
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    model, images = MirrorAveraged(network), torch.randn(5, 1, 3, 4)
    with torch.no_grad():
        expected = (network(images) + network(images.flip(-1))) / 2
        torch.testing.assert_close(model.eval()(images), expected)
        torch.testing.assert_close(model.train()(images), network(images))
    assert not torch.allclose(expected, network(images))


@pytest.fixture(scope="module")
def mirrored_run(tmp_path_factory):
    """An MLP trained on 600 real Fashion-MNIST images with mirror averaging (3 epochs)."""
    fashion_dir = real_data_dir("fashion-mnist")
    folder = tmp_path_factory.mktemp("mirrored")
    train_list, val_list = write_random_id_lists(folder, 60_000, TRAIN_IMAGES, VAL_IMAGES, 2)
    config = TrainConfig(dataset="fashion-mnist", model="mlp-relu", model_settings={"hidden": 64},
                         epochs=3, batch_size=32, mirror_average=True, precision="fp32",
                         data_dir=str(fashion_dir), train_list=str(train_list),
                         val_list=str(val_list))
    train(config, folder / "run", log=lambda line: None)
    test = load_split("fashion-mnist", "test", fashion_dir, download=False, progress=False)
    return folder / "run", test


def _probabilities(run, pixels: torch.Tensor, *, mirrored: bool, name: str = "best.pt"):
    """The run's probabilities for ``(N, 1, 28, 28)`` pixels on [0, 1], computed by hand."""
    checkpoint = load_checkpoint(run / name)
    network = model_from_checkpoint(checkpoint).model  # the bare network inside the wrapper
    inputs = Normalize(checkpoint["input"]["mean"], checkpoint["input"]["std"])(pixels)
    with torch.no_grad():
        logits = network(inputs)
        if mirrored:
            logits = (logits + network(inputs.flip(-1))) / 2
        return torch.softmax(logits, dim=1).numpy()


def test_validation_and_evaluation_average_over_mirror_images(mirrored_run):
    run, test = mirrored_run
    assert load_checkpoint(run / "best.pt")["mirror_average"] is True
    pixels, labels = test.images.float() / 255, test.labels.numpy()
    by_hand = (_probabilities(run, pixels, mirrored=True).argmax(1) != labels).mean()
    one_view = (_probabilities(run, pixels, mirrored=False).argmax(1) != labels).mean()
    assert by_hand != one_view  # so a forgotten average would show
    assert evaluate_run(run, device="cpu")["error"] == pytest.approx(by_hand, abs=1e-4)

    # The last epoch's validation error in metrics.csv is the mirror-averaged one.
    val = load_split("fashion-mnist", "train", real_data_dir("fashion-mnist"), download=False,
                     progress=False)
    ids = [int(line) for line in (run.parent / "val.txt").read_text().split()]
    val_pixels, val_labels = val.images[ids].float() / 255, val.labels[ids].numpy()
    last_row = (run / "metrics.csv").read_text().splitlines()[-1].split(",")
    expected = (_probabilities(run, val_pixels, mirrored=True, name="last.pt").argmax(1)
                != val_labels).mean()
    assert float(last_row[4]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TorchScript, deprecated in torch
def test_prediction_and_the_exported_file_average_over_mirror_images(mirrored_run, tmp_path):
    import torchbasics

    run, test = mirrored_run
    classifier = torchbasics.load(run)
    images = test.images[:20, 0].numpy()
    pixels = pixels_of(classifier, images)
    expected = _probabilities(run, pixels, mirrored=True)
    assert np.abs(expected - _probabilities(run, pixels, mirrored=False)).max() > 0.01
    assert_predict_and_torchscript_give(classifier, images, expected, tmp_path)


def test_digits_are_refused_since_a_mirrored_digit_may_be_another(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "cache"))
    data = make_idx_dataset(tmp_path / "data")
    with pytest.raises(TorchbasicsError, match="--mirror-average"):
        train(TrainConfig(dataset="mnist", model="softmax", epochs=1, mirror_average=True,
                          data_dir=str(data)), tmp_path / "run", log=lambda line: None)
    assert not (tmp_path / "run").exists()


def test_the_command_line_flag_reaches_the_run_and_is_refused_for_digits(tmp_path, capsys,
                                                                         monkeypatch):
    from torchbasics.cli import main

    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "cache"))
    data = make_idx_dataset(tmp_path / "data")
    argv = ["train", "--dataset", "mnist", "--model", "softmax", "--data-dir", str(data),
            "--epochs", "1", "--quiet", "--out", str(tmp_path / "run"), "--mirror-average"]
    assert main(argv) == 2
    assert "--mirror-average: mnist: a mirrored image may not keep" in capsys.readouterr().err
    assert main([*argv[:-1], "--no-mirror-average"]) == 0
    assert load_checkpoint(tmp_path / "run" / "best.pt")["mirror_average"] is False
    bonus = ["train", "--dataset", "bonus", "--model", "linear", "--out", str(tmp_path / "b"),
             "--mirror-average"]
    assert main(bonus) == 2
    assert "--mirror-average is for image data sets" in capsys.readouterr().err


def test_the_recipe_mirror_averages_the_fashion_convnet_only():
    assert resolve(TrainConfig(dataset="fashion-mnist", model="convnet")).mirror_average is True
    assert resolve(TrainConfig(dataset="fashion-mnist", model="cnn")).mirror_average is False
    assert resolve(TrainConfig(dataset="mnist", model="convnet")).mirror_average is False
