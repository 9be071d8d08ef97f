"""Your own pictures through every command: train, evaluate, predict, export, serve, compare,
data info and show, on small folders written into tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import torchbasics
from tests.data.pictures import picture, picture_folder
from torchbasics.checkpoint import load_checkpoint
from torchbasics.cli import main

TRAIN = ["--model", "softmax", "--epochs", "8", "--precision", "fp32", "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Colour pictures of three classes, of several sizes, in train/ and test/ folders, and
    one file that is not a picture."""
    root = picture_folder(tmp_path_factory.mktemp("own") / "pictures", splits=("train", "test"),
                          per_class=20)
    (root / "train" / "red" / "broken.png").write_bytes(b"\x89PNG but cut short")
    return root


@pytest.fixture(scope="module")
def run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "colours"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCHBASICS_CACHE", str(tmp_path_factory.mktemp("cache")))
        assert main(["train", "--dataset", str(folder), *TRAIN, "--out", str(out)]) == 0
    return out


def test_the_run_records_the_classes_the_format_and_what_was_skipped(run, folder):
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == str(folder.resolve())
    assert config["class_to_index"] == {"blue": 0, "green": 1, "red": 2}
    assert config["picture_format"] == {"size": 32, "channels": 3, "resize": "pad"}
    assert config["pictures_skipped"] == 1 and config["test_images"] == 60
    skipped = (run / "skipped.csv").read_text().splitlines()
    assert skipped[0] == "file,reason" and skipped[1].startswith("train/red/broken.png,")
    assert "[skipped.csv](skipped.csv)" in (run / "report.md").read_text()
    checkpoint = load_checkpoint(run / "best.pt")
    assert checkpoint["picture"] == {"pipeline": "photo", "resize": "pad"}
    assert checkpoint["input_shape"] == [3, 32, 32]
    assert checkpoint["class_names"] == ["blue", "green", "red"]


def test_it_learns_and_evaluate_takes_the_test_folder(run, capsys):
    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 60 and result["error"] < 0.2


def test_predict_answers_with_the_folders_names_as_training_saw_the_picture(run, folder):
    model = torchbasics.load(run)
    path = folder / "test" / "green" / "003.png"
    prediction = model.predict(path)
    assert prediction.class_name == "green" and prediction.seen.shape == (32, 32, 3)
    from torchbasics.data.decode import PictureFormat, decode_file

    pixels, _ = decode_file(str(path), PictureFormat(32, 3, "pad"))
    np.testing.assert_array_equal(prediction.seen, pixels.transpose(1, 2, 0))  # as cached
    assert model.predict(Image.open(path)).probabilities == pytest.approx(
        prediction.probabilities)


def test_export_runs_what_predict_runs(run, folder, tmp_path):
    pytest.importorskip("onnxruntime", reason="the export extra is not installed")
    import onnxruntime

    model = torchbasics.load(run)
    assert main(["export", str(run), "--out", str(tmp_path / "colours.onnx")]) == 0
    files = sorted((folder / "test").rglob("*.png"))[:12]
    predictions = model.predict_many(files)
    pixels = model.preprocessing.pixels(np.stack([p.seen for p in predictions])).numpy()
    session = onnxruntime.InferenceSession(str(tmp_path / "colours.onnx"),
                                           providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"pixels": pixels})
    np.testing.assert_allclose(probabilities, [p.probabilities for p in predictions], atol=1e-5)


def test_serve_lists_the_classes_and_answers_an_upload(run, folder):
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from torchbasics.serve.app import create_app
    from torchbasics.serve.served import load_served

    served = load_served([run])
    path = folder / "test" / "red" / "001.png"
    with TestClient(create_app(served), base_url="http://localhost") as client:
        (about,) = client.get("/api/models").json()["models"]
        assert about["classes"] == ["blue", "green", "red"] and about["photo"]
        answer = client.post(f"/api/models/{about['name']}/predict?seen=true",
                             files={"image": ("red.png", path.read_bytes(), "image/png")})
    (row,) = answer.json()["predictions"]
    expected = torchbasics.load(run).predict(path)
    assert row["class"] == expected.class_name
    assert row["probabilities"] == pytest.approx(list(expected.probabilities), abs=1e-6)
    assert np.array(row["seen"]).shape == (32, 32, 3)


def test_size_channels_and_resize_are_recorded_and_applied(folder, tmp_path, capsys):
    out = tmp_path / "gray"
    assert main(["train", "--dataset", str(folder), *TRAIN, "--image-size", "16",
                 "--channels", "1", "--resize", "crop", "--out", str(out)]) == 0
    checkpoint = load_checkpoint(out / "best.pt")
    assert checkpoint["input_shape"] == [1, 16, 16]
    assert checkpoint["picture"] == {"pipeline": "photo", "resize": "crop"}
    seen = torchbasics.load(out).predict(folder / "test" / "red" / "002.png").seen
    assert seen.shape == (16, 16)
    from torchbasics.data.decode import PictureFormat, decode_file

    pixels, _ = decode_file(str(folder / "test" / "red" / "002.png"), PictureFormat(16, 1, "crop"))
    np.testing.assert_array_equal(seen, pixels[0])


def test_a_folder_without_a_test_split(tmp_path, capsys):
    root = picture_folder(tmp_path / "flat", per_class=10)
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(root), *TRAIN, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 2
    assert "no test split here" in capsys.readouterr().err
    lines = [f"{path} {path.parent.name}" for path in sorted(root.rglob("*.png"))[:9]]
    (tmp_path / "test.txt").write_text("\n".join(lines) + "\n")
    assert main(["evaluate", str(out), "--list", str(tmp_path / "test.txt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 9


def test_list_files_of_classes_of_your_own(tmp_path, capsys):
    root = picture_folder(tmp_path / "pics", per_class=10)
    lines = [f"{path}, {path.parent.name} things" for path in sorted(root.rglob("*.png"))]
    (tmp_path / "train.txt").write_text("\n".join(lines[::2]) + "\n")
    (tmp_path / "val.txt").write_text("\n".join(lines[1::2]) + "\n")
    out = tmp_path / "run"
    assert main(["train", "--train-list", str(tmp_path / "train.txt"), "--val-list",
                 str(tmp_path / "val.txt"), *TRAIN, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "listed"
    assert list(config["class_to_index"]) == ["blue things", "green things", "red things"]
    assert torchbasics.load(out).predict(root / "red" / "001.png").class_name == "red things"


def test_strict_refuses_before_writing_anything(folder, tmp_path, capsys):
    assert main(["train", "--dataset", str(folder), *TRAIN, "--strict",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "train/red/broken.png: not a picture" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_numbered_class_folders_are_ordered_as_numbers_and_the_run_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for label, name in enumerate(("2", "10", "7")):
        (tmp_path / "digits" / name).mkdir(parents=True)
        for index in range(6):
            picture(label, rng).save(tmp_path / "digits" / name / f"{index}.png")
    assert main(["train", "--dataset", str(tmp_path / "digits"), "--model", "softmax",
                 "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "the class folders are numbers: ordered as numbers (2, 7, 10)" in printed
    assert load_checkpoint(tmp_path / "run" / "best.pt")["class_names"] == ["2", "7", "10"]


def test_compare_trains_each_model_on_your_pictures(folder, tmp_path, capsys):
    assert main(["compare", "--dataset", str(folder), "--models", "softmax,cnn", "--epochs",
                 "2", "--quiet", "--out", str(tmp_path / "compared")]) == 0
    results = json.loads((tmp_path / "compared" / "results.json").read_text())
    assert [row["model"] for row in results["models"]] == ["softmax", "cnn"]
    assert all(row["test_error"] is not None for row in results["models"])


def test_data_info_and_show_on_a_folder(folder, tmp_path, capsys):
    assert main(["data", "info", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"] == {"train": [20, 20, 20], "test": [20, 20, 20]}
    assert info["picture_sizes"] == {"32x32": 42, "40x30": 42, "24x36": 36}
    assert info["skipped"][0]["file"] == "train/red/broken.png"
    assert main(["data", "show", str(folder), "--n", "6", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size[0] > 100
    assert main(["data", "cache"]) == 0
    assert "picture cache(s)" in capsys.readouterr().out
