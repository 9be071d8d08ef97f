"""Exported models (ONNX Runtime, TorchScript) give PyTorch's probabilities on real digits;
the command writes and checks the file. (Every runtime, model and preprocessing:
test_export_runtimes.py.)"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from tests.helpers import pixels_of
from torchbasics.cli import main
from torchbasics.errors import TorchbasicsError
from torchbasics.inference.export import export
from torchbasics.inference.predictor import Classifier
from torchbasics.inference.runtimes import run
from torchbasics.models import create_model
from torchbasics.models.mirror import MirrorAveraged

TOLERANCE = 1e-4  # largest allowed absolute difference of a probability
RUNTIMES = {"onnx": "onnxruntime", "torchscript": "torchscript"}


def _need_onnx() -> None:
    """Skip unless the export extra is installed (it is, with the dev extra, as in CI)."""
    for name in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(name)


@pytest.fixture(scope="module")
def sample_pixels(classifier, mnist_test):
    """37 real test digits as the model sees them: ``(N, 1, 28, 28)`` float32 on [0, 1],
    and PyTorch's probabilities for them (from the Classifier, fp32 eval)."""
    images, _ = mnist_test
    pixels = pixels_of(classifier, images[:37]).numpy()
    expected = np.stack([p.probabilities for p in classifier.predict_many(images[:37])])
    return pixels, expected


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    """``exported(fmt)``: the classifier written in ``fmt`` (once per format)."""
    folder, done = tmp_path_factory.mktemp("exported"), {}

    def get(fmt: str):
        if fmt not in done:
            done[fmt] = export(classifier, folder / f"model.{fmt}", fmt)
        return done[fmt]

    return get


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TorchScript, deprecated in torch
@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=pytest.mark.slow), "torchscript"])
def test_exported_model_gives_pytorchs_probabilities(exported, sample_pixels, fmt):
    if fmt == "onnx":
        _need_onnx()
    pixels, expected = sample_pixels
    out = exported(fmt)
    for batch in (pixels, pixels[:1]):  # the batch size is free (exported with 2)
        got = run(RUNTIMES[fmt], out, batch)
        assert got.shape == (len(batch), 10)
        assert np.abs(got - expected[:len(batch)]).max() < TOLERANCE
    assert (got.argmax(1) == expected[:1].argmax(1)).all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=pytest.mark.slow), "torchscript"])
def test_mirror_averaged_convnet_exports(classifier, mnist_test, tmp_path, fmt):
    """The Fashion-MNIST recipe's model: convnet's head (flatten, linear, 1-d batch norm)
    and the mean over mirror images (a flip in the graph) give PyTorch's probabilities too."""
    if fmt == "onnx":
        _need_onnx()
    torch.manual_seed(0)
    model = create_model("convnet", (1, 28, 28), 10)
    with torch.no_grad():  # running statistics away from their initial 0 and 1
        model.train()(torch.randn(64, 1, 28, 28) * 3 + 1)
    convnet = Classifier(MirrorAveraged(model), classifier.class_names,
                         classifier.preprocessing, "mnist")
    images, _ = mnist_test
    pixels = pixels_of(convnet, images[:37]).numpy()
    expected = np.stack([p.probabilities for p in convnet.predict_many(images[:37])])
    got = run(RUNTIMES[fmt], export(convnet, tmp_path / f"convnet.{fmt}", fmt), pixels)
    assert np.abs(got - expected).max() < TOLERANCE


@pytest.mark.slow
def test_onnx_file_carries_its_metadata(exported):
    _need_onnx()
    import onnx

    props = {p.key: p.value for p in onnx.load(str(exported("onnx"))).metadata_props}
    assert json.loads(props["class_names"]) == [str(d) for d in range(10)]
    assert props["preprocessing"] == "digits" and props["dataset"] == "mnist"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_file_carries_its_metadata(exported):
    extra = {"torchbasics.json": ""}
    torch.jit.load(str(exported("torchscript")), _extra_files=extra)
    assert json.loads(extra["torchbasics.json"])["mean"] == "[0.1307]"


@pytest.mark.slow
def test_cli_export_writes_and_checks_the_file(mnist_run, tmp_path, capsys):
    _need_onnx()
    out = tmp_path / "digits.onnx"
    assert main(["export", str(mnist_run), "--format", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and printed.startswith(f"wrote {out}: onnx (full graph), 10 classes")
    checked = dict(line.strip().split(": probabilities within ") for line in
                   printed.splitlines()[1:])
    assert {"onnxruntime", "opencv-auto"} <= set(checked)
    assert all(float(text.split()[0]) < TOLERANCE for text in checked.values())
    assert main(["export", str(mnist_run), "--format", "torchscript"]) == 0
    assert (mnist_run / "model.torchscript.pt").is_file()


def test_missing_onnx_packages_are_named(classifier, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    with pytest.raises(TorchbasicsError, match=r"onnxscript is not installed.*\[export\]"):
        export(classifier, tmp_path / "model.onnx", "onnx")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.slow
def test_cli_export_writes_the_network_graph_with_an_opset(mnist_run, tmp_path, capsys):
    _need_onnx()
    import onnx

    out = tmp_path / "network.onnx"
    assert main(["export", str(mnist_run), "--graph", "network", "--opset", "20", "--out",
                 str(out)]) == 0
    assert "onnx (network graph)" in capsys.readouterr().out
    model = onnx.load(str(out))
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["preprocessing_steps"]) == ["deskew", "normalize"]
    assert props["graph"] == "network" and props["opset"] == "20"


def test_cli_export_refuses_an_opset_it_cannot_write(mnist_run, tmp_path, capsys):
    _need_onnx()
    out = tmp_path / "old.onnx"
    assert main(["export", str(mnist_run), "--opset", "11", "--out", str(out)]) == 2
    assert "opset 11 is not offered" in capsys.readouterr().err
    assert not out.exists()


def test_cli_export_fails_when_a_runtime_disagrees(mnist_run, tmp_path, monkeypatch, capsys):
    """A runtime whose probabilities differ from PyTorch's is an error, not a line."""
    from torchbasics.inference import export as exporting

    monkeypatch.setattr(exporting, "runtimes_for", lambda fmt, **_: ["torchscript"])
    monkeypatch.setattr(exporting, "run_in_child",
                        lambda runtimes, path, inputs: {"torchscript": np.zeros((8, 10))})
    out = tmp_path / "model.pt"
    assert main(["export", str(mnist_run), "--format", "torchscript", "--out", str(out)]) == 2
    assert "a runtime's probabilities differ from PyTorch's" in capsys.readouterr().err
