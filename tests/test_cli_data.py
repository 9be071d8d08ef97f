"""``torchbasics data ...`` end to end: output, files written, and errors as one line + exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from torchbasics.cli import main


@pytest.fixture(autouse=True)
def _only_the_given_data(monkeypatch, tmp_path):
    monkeypatch.delenv("TORCHBASICS_DATA", raising=False)
    monkeypatch.chdir(tmp_path)


def test_info_text(idx_dir, capsys):
    assert main(["data", "info", "mnist", "--data-dir", str(idx_dir)]) == 0
    out = capsys.readouterr().out
    assert f"found in:    {idx_dir}" in out
    assert "differ from the official release" in out  # synthetic files
    assert "train" in out and "200" in out and "<- a reduced copy" in out


def test_info_json(idx_dir, capsys):
    assert main(["data", "info", "mnist", "--data-dir", str(idx_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"]["train"]["count"] == 200
    assert sum(info["splits"]["test"]["class_counts"]) == 60
    assert info["image_shape"] == [1, 28, 28] and len(info["classes"]) == 10


def test_show_writes_a_png(idx_dir, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["data", "show", "mnist", "--data-dir", str(idx_dir), "--n", "16",
                 "--out", str(out)]) == 0
    with Image.open(out) as png:
        assert png.format == "PNG"
    assert "saved 16 images" in capsys.readouterr().out


def test_show_deskewed_shows_what_a_deskewing_model_sees(idx_dir, tmp_path, monkeypatch):
    import torch

    import torchbasics.plots
    from torchbasics.data.geometry import deskew

    shown = {}  # title -> the images drawn
    real_grid = torchbasics.plots.image_grid

    def recording_grid(images, *rest, **options):
        shown[options["title"]] = images
        return real_grid(images, *rest, **options)

    monkeypatch.setattr(torchbasics.plots, "image_grid", recording_grid)
    for flags in ([], ["--deskew"]):
        assert main(["data", "show", "mnist", "--data-dir", str(idx_dir), "--n", "8",
                     "--out", str(tmp_path / "grid.png"), *flags]) == 0
    (plain_title, plain), (deskewed_title, deskewed) = shown.items()
    assert deskewed_title == plain_title + ", deskewed"
    expected = (deskew(plain.float() / 255) * 255).round().to(torch.uint8)
    assert torch.equal(deskewed, expected) and not torch.equal(deskewed, plain)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "info", "mnsit"], "unknown data set 'mnsit'. Did you mean 'mnist'?"),
        (["data", "info", "mnist", "--data-dir", "/no/such/dir"], "/no/such/dir: no such folder"),
        (["data", "info", "bonus"], "'bonus' is not an image data set"),
    ],
)
def test_errors_are_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("torchbasics: error: ") and message in err
    assert "Traceback" not in err


def test_not_found_without_download(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "info", "mnist", "--data-dir", str(tmp_path / "empty"),
                 "--no-download"]) == 2
    err = capsys.readouterr().err
    assert "not found; looked in " in err and len(err.strip().splitlines()) == 1


def test_debug_shows_the_traceback(capsys):
    assert main(["--debug", "data", "info", "mnsit"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_module_entry_point_and_help():
    result = subprocess.run([sys.executable, "-m", "torchbasics", "data", "show", "--help"],
                            capture_output=True, text=True, check=True)
    assert "--out" in result.stdout and "TORCHBASICS_DATA" in result.stdout


def test_export_then_show_from_the_list_file(idx_dir, tmp_path, capsys):
    out = tmp_path / "exported"
    assert main(["data", "export", "mnist", "--data-dir", str(idx_dir), "--out", str(out)]) == 0
    assert (out / "test.txt").is_file() and len(list(out.glob("*/*.png"))) == 60
    assert main(["data", "export", "mnist", "--data-dir", str(idx_dir), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["data", "show", "mnist", "--data-dir", str(idx_dir), "--split", "test",
                 "--list", str(out / "test.txt"), "--out", str(tmp_path / "g.png")]) == 0
    assert "saved 60 images" in capsys.readouterr().out


def test_show_with_a_bad_id_list_names_the_line(idx_dir, tmp_path, capsys):
    (tmp_path / "ids.txt").write_text("3\n999\n")
    assert main(["data", "show", "mnist", "--data-dir", str(idx_dir), "--split", "test",
                 "--list", str(tmp_path / "ids.txt")]) == 2
    assert "ids.txt:2" in capsys.readouterr().err
