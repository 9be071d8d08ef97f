"""``torchbasics predict`` on pictures, end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from benchmarks._scans import render_scan
from torchbasics.cli import main


@pytest.fixture(scope="module")
def pictures(mnist_test, tmp_path_factory):
    """A folder holding 6 scanned-looking test digits (PNG, JPEG, BMP) in a subfolder."""
    images, _ = mnist_test
    folder = tmp_path_factory.mktemp("pictures")
    (folder / "scans").mkdir()
    rng = np.random.default_rng(0)
    names = []
    for index, suffix in zip(range(6), [".png", ".jpg", ".bmp"] * 2, strict=True):
        name = folder / "scans" / f"digit{index}{suffix}"
        Image.fromarray(render_scan(images[index], rng)).save(name)
        names.append(name)
    return folder, names


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("torchbasics: error: ") and err.count("\n") == 1, err
    return err


def test_one_picture_prints_its_class_and_top_k(mnist_run, pictures, capsys):
    _, names = pictures
    assert main(["predict", str(mnist_run), str(names[0]), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{names[0]}: ") and line.count("\n") == 0
    ranked = line.split("top 2: ")[1].split(", ")
    assert len(ranked) == 2 and all(item.endswith(" %") for item in ranked)
    assert ranked[0].split()[0] == line.split(": ")[1].split()[0]  # the class comes first


def test_json_matches_the_python_api(mnist_run, classifier, pictures, capsys):
    _, names = pictures
    assert main(["predict", str(mnist_run), str(names[1]), str(names[2]), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [item["source"] for item in printed] == [str(names[1]), str(names[2])]
    for item, name in zip(printed, names[1:3], strict=True):
        expected = classifier.predict(name)
        assert item["label"] == expected.label
        # Same pictures, but batched together here: equal up to float rounding.
        assert item["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
        assert len(item["top"]) == 3


def test_a_folder_gives_a_csv(mnist_run, classifier, pictures, tmp_path, capsys):
    folder, names = pictures
    assert main(["predict", str(mnist_run), str(folder), "--top", "3"]) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(printed.splitlines()))
    assert [row["path"] for row in rows] == [str(n) for n in sorted(names)]
    assert list(rows[0]) == ["path", "label", "class", "probability", "top2_label", "top2_class",
                             "top2_probability", "top3_label", "top3_class", "top3_probability"]
    predicted = [classifier.predict(n).label for n in sorted(names)]
    assert [int(row["label"]) for row in rows] == predicted
    assert all(float(r["probability"]) >= float(r["top2_probability"]) for r in rows)
    out = tmp_path / "predictions.csv"
    assert main(["predict", str(mnist_run), str(folder), "--out", str(out)]) == 0
    assert out.read_text() == printed
    assert capsys.readouterr().out == f"wrote {out}: 6 predictions\n"


def test_show_saves_the_picture_beside_what_the_model_saw(mnist_run, pictures, tmp_path,
                                                         capsys):
    _, names = pictures
    out = tmp_path / "show.png"
    assert main(["predict", str(mnist_run), str(names[0]), str(names[3]), "--show",
                 str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    with Image.open(out) as figure:
        assert figure.width > 200 and figure.height > 200


@pytest.mark.parametrize(("extra", "message"), [
    (["--set", "rating=8"], "--set is for a table model"),
    ([], "no images to predict"),
    (["missing.png"], "cannot be read (file not found)"),
    (["IMAGE", "--top", "0"], "--top: must be at least 1"),
])
def test_bad_requests_are_one_line(mnist_run, pictures, extra, message, capsys):
    _, names = pictures
    extra = [str(names[0]) if item == "IMAGE" else item for item in extra]
    assert main(["predict", str(mnist_run), *extra]) == 2
    assert message in _error(capsys)


def test_an_empty_folder_is_refused(mnist_run, tmp_path, capsys):
    assert main(["predict", str(mnist_run), str(tmp_path)]) == 2
    assert "no image files in this folder" in _error(capsys)


def test_a_regression_run_takes_no_pictures(pictures, tmp_path, capsys):
    _, names = pictures
    assert main(["train", "--dataset", "bonus", "--model", "linear", "--epochs", "2",
                 "--quiet", "--out", str(tmp_path / "bonus")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "bonus"), str(names[0])]) == 2
    assert "a picture, and this is a table model" in _error(capsys)
    assert main(["predict", str(tmp_path / "bonus"), "--set", "rating=8", "--set", "years=5",
                 "--set", "projects=12"]) == 0  # the bonus path is unchanged
    assert capsys.readouterr().out.startswith("predicted bonus: ")
