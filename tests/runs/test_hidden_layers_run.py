"""An MLP with several hidden layers through every command: train, evaluate, predict,
explain, export and serve, from the command line as a user would."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import torchbasics
from torchbasics.checkpoint import load_checkpoint
from torchbasics.cli import main
from torchbasics.data.sources import load_split


@pytest.fixture
def deep_run(idx_dir, tmp_path):
    run = tmp_path / "deep"
    assert main(["train", "--dataset", "mnist", "--data-dir", str(idx_dir), "--model",
                 "mlp-relu", "--hidden", "24", "12", "--epochs", "2", "--batch-size", "32",
                 "--precision", "fp32", "--no-deskew", "--quiet", "--out", str(run)]) == 0
    return run


def test_several_hidden_layers_are_recorded_and_built_again(deep_run):
    assert json.loads((deep_run / "config.json").read_text())["model_settings"] == {
        "hidden": [24, 12]}
    assert load_checkpoint(deep_run / "best.pt")["model_settings"] == {"hidden": [24, 12]}
    model = torchbasics.load(deep_run)
    linears = [m for m in model.model.modules() if isinstance(m, torch.nn.Linear)]
    assert [layer.out_features for layer in linears] == [24, 12, 10]


def test_every_command_takes_a_deep_mlp(deep_run, idx_dir, tmp_path):
    test = load_split("mnist", "test", idx_dir, download=False, progress=False)
    picture = tmp_path / "digit.png"
    Image.fromarray(test.images[0, 0].numpy()).save(picture)
    assert main(["evaluate", str(deep_run)]) == 0
    assert main(["predict", str(deep_run), str(picture)]) == 0
    assert main(["explain", str(deep_run), "--checked", "10", "--out",
                 str(tmp_path / "explained")]) == 0
    pytest.importorskip("onnxruntime", reason="the export extra is not installed")
    import onnxruntime

    assert main(["export", str(deep_run), "--out", str(tmp_path / "deep.onnx")]) == 0
    model = torchbasics.load(deep_run)
    expected = model.predict(picture)
    pixels = model.preprocessing.pixels(np.stack([expected.seen])).numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "deep.onnx"),
                                           providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"pixels": pixels})
    np.testing.assert_allclose(probabilities[0], expected.probabilities, atol=1e-5)


def test_the_server_answers_with_a_deep_mlp(deep_run, idx_dir, tmp_path):
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from torchbasics.serve.app import create_app
    from torchbasics.serve.served import load_served

    test = load_split("mnist", "test", idx_dir, download=False, progress=False)
    picture = tmp_path / "digit.png"
    Image.fromarray(test.images[1, 0].numpy()).save(picture)
    with TestClient(create_app(load_served([deep_run])), base_url="http://localhost") as client:
        (about,) = client.get("/api/models").json()["models"]
        answer = client.post(f"/api/models/{about['name']}/predict",
                             files={"image": ("digit.png", picture.read_bytes(), "image/png")})
    (row,) = answer.json()["predictions"]
    assert row["class"] == torchbasics.load(deep_run).predict(picture).class_name


def test_the_flag_takes_one_or_several_and_refuses_several_for_convnet(idx_dir, tmp_path,
                                                                          capsys):
    common = ["train", "--dataset", "mnist", "--data-dir", str(idx_dir), "--epochs", "1",
              "--quiet"]
    assert main([*common, "--model", "convnet", "--hidden", "8", "4", "--out",
                 str(tmp_path / "c")]) == 2
    assert "--hidden: model 'convnet' takes one value, got 2" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
    assert main([*common, "--model", "mlp-sigmoid", "--hidden", "8", "--out",
                 str(tmp_path / "one")]) == 0
    assert json.loads((tmp_path / "one" / "config.json").read_text())["model_settings"] == {
        "hidden": 8}
