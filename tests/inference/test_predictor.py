"""The Python API: ``torchbasics.load(run).predict(picture)`` on real MNIST digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import torchbasics
from benchmarks._scans import render_scan
from torchbasics.checkpoint import load_checkpoint, model_from_checkpoint
from torchbasics.data.geometry import deskew
from torchbasics.errors import TorchbasicsError
from torchbasics.inference.predictor import Classifier, Prediction

SAMPLE = slice(0, 300)


def test_load_gives_a_classifier_that_knows_its_data(classifier):
    assert isinstance(classifier, Classifier)
    assert classifier.class_names == tuple(str(d) for d in range(10))
    assert classifier.preprocessing.pipeline == "digits"
    assert not classifier.model.training  # eval mode: batch statistics and dropout frozen


def test_pil_numpy_and_path_give_the_same_prediction(classifier, mnist_test, tmp_path):
    images, _ = mnist_test
    scan = render_scan(images[7], np.random.default_rng(3))
    Image.fromarray(scan).save(tmp_path / "scan.png")
    results = [classifier.predict(x) for x in
               (scan, Image.fromarray(scan), tmp_path / "scan.png", str(tmp_path / "scan.png"))]
    assert all(r.probabilities == results[0].probabilities for r in results)
    assert results[2].source == str(tmp_path / "scan.png") and results[0].source == ""


def test_a_prediction_is_consistent(classifier, mnist_test):
    images, _ = mnist_test
    result = classifier.predict(images[0], top=4)
    assert isinstance(result, Prediction)
    assert sum(result.probabilities) == pytest.approx(1, abs=1e-5)
    assert result.label == int(np.argmax(result.probabilities))
    assert result.class_name == str(result.label)
    assert result.probability == max(result.probabilities)
    assert len(result.top) == 4 and result.top[0] == (result.label, result.class_name,
                                                       result.probability)
    assert [p for _, _, p in result.top] == sorted(result.probabilities, reverse=True)[:4]
    assert result.seen.shape == (28, 28) and result.seen.dtype == np.uint8
    assert set(result.to_dict()) >= {"label", "class", "probability", "top", "probabilities"}


def test_predictions_match_the_model_on_the_test_split(classifier, mnist_test, mnist_run):
    """On clean MNIST the preprocessing is (almost) the identity, so the predictions agree
    with the model applied to the test images as `evaluate` feeds them."""
    images, labels = mnist_test
    predicted = np.array([p.label for p in classifier.predict_many(images[SAMPLE])])
    checkpoint = load_checkpoint(mnist_run / "best.pt")
    assert checkpoint["input"]["deskew"]  # MNIST's recipe: the model learned from deskewed digits
    model = model_from_checkpoint(checkpoint)
    inputs = (deskew(torch.from_numpy(images[SAMPLE]).float()[:, None] / 255) - 0.1307) / 0.3081
    with torch.no_grad():
        direct = model(inputs).argmax(1).numpy()
    assert (predicted == direct).mean() >= 0.98
    assert (predicted == labels[SAMPLE]).mean() >= 0.85  # a 3-epoch, 600-image CNN


def test_scanned_digits_are_still_recognised(classifier, mnist_test):
    images, labels = mnist_test
    rng = np.random.default_rng(0)
    clean = np.mean([p.label for p in classifier.predict_many(images[SAMPLE])]
                    == labels[SAMPLE])
    scans = [render_scan(image, rng) for image in images[SAMPLE]]
    scanned = np.mean([p.label for p in classifier.predict_many(scans)] == labels[SAMPLE])
    assert scanned >= clean - 0.05, (clean, scanned)


def test_many_at_once_equals_one_by_one(classifier, mnist_test):
    images, _ = mnist_test
    batched = classifier.predict_many(images[:5], batch_size=2)
    single = [classifier.predict(image) for image in images[:5]]
    for a, b in zip(batched, single, strict=True):
        assert a.label == b.label
        assert np.allclose(a.probabilities, b.probabilities, atol=1e-6)


def test_a_bad_file_among_many_is_named(classifier, tmp_path):
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(TorchbasicsError, match=r"blank\.png: the image is blank"):
        classifier.predict_many([tmp_path / "blank.png"])
    with pytest.raises(TorchbasicsError, match="top must be at least 1"):
        classifier.predict(np.eye(28), top=0)


def test_load_opens_a_regression_run_as_a_regressor(tmp_path):
    from torchbasics.cli import main
    from torchbasics.inference.table import Regressor

    assert main(["train", "--dataset", "bonus", "--model", "linear", "--epochs", "5",
                 "--quiet", "--out", str(tmp_path / "bonus")]) == 0
    assert isinstance(torchbasics.load(tmp_path / "bonus"), Regressor)
    with pytest.raises(TorchbasicsError, match="no such run directory"):
        torchbasics.load(tmp_path / "missing")


def test_import_torchbasics_stays_light():
    import subprocess
    import sys

    code = "import sys, torchbasics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
