"""``torchbasics notebooks [DIR]``: the shipped notebooks, copied where a user opens them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from torchbasics.cli import main
from torchbasics.cli import notebooks as notebooks_command
from torchbasics.resources import notebook_files

SHIPPED = {entry.name: entry.read_bytes() for entry in notebook_files()}


def test_the_six_notebooks_and_their_readme_ship():
    assert sorted(SHIPPED) == ["README.md", "bonus_prediction_nn.ipynb",
                               "datasets_dataloader.ipynb", "digits_classification.ipynb",
                               "hidden_layers.ipynb", "inside_the_models.ipynb",
                               "pytorch_deep_learning_models.ipynb"]


def test_writes_them_into_a_new_folder_and_says_how_to_open_them(tmp_path, capsys):
    folder = tmp_path / "my notebooks" / "deep"
    assert main(["notebooks", str(folder)]) == 0
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == SHIPPED
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote 7 files to {folder}: README.md, bonus_prediction_nn")
    assert f"lab '{folder}'" in printed  # quoted: the folder has a space


def test_default_folder_is_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["notebooks"]) == 0
    assert (tmp_path / "torchbasics-notebooks" / "bonus_prediction_nn.ipynb").is_file()


def test_refuses_to_overwrite_a_notebook_without_force(tmp_path, capsys):
    (tmp_path / "digits_classification.ipynb").write_text("my own changes")
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["notebooks", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error == (f"torchbasics: error: {tmp_path}: digits_classification.ipynb is there "
                     "already. Pass --force to replace them with fresh copies (changes made to "
                     "them are lost), or choose another DIR\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "digits_classification.ipynb", "notes.txt"]  # nothing written
    assert main(["notebooks", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "digits_classification.ipynb").read_bytes() == SHIPPED[
        "digits_classification.ipynb"]
    assert (tmp_path / "notes.txt").read_text() == "mine"  # other files are left alone


def test_a_file_in_the_way_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    assert main(["notebooks", str(tmp_path / "taken")]) == 2
    assert "taken: not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(("installed", "expected"), [
    (True, "open them with: "),
    (False, "to open them, install JupyterLab: pip install 'torchbasics[notebooks]'"),
])
def test_open_instructions_depend_on_jupyterlab(tmp_path, capsys, monkeypatch, installed,
                                                expected):
    monkeypatch.setattr("torchbasics.extras.is_installed", lambda extra: installed)
    assert main(["notebooks", str(tmp_path)]) == 0
    assert expected in capsys.readouterr().out


def test_jupyter_command_is_this_pythons(tmp_path, monkeypatch):
    beside = Path(sys.executable).parent / "jupyter"
    monkeypatch.setattr(notebooks_command.shutil, "which", lambda name: str(beside))
    monkeypatch.setattr(Path, "exists", lambda self: True)
    assert notebooks_command.jupyter_command() == "jupyter"
    monkeypatch.setattr(notebooks_command.shutil, "which", lambda name: None)
    assert notebooks_command.jupyter_command() == str(beside)
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert notebooks_command.jupyter_command() == f"{sys.executable} -m jupyter"
