"""Indexing a folder of pictures: the layouts, the classes and their order, what is left out."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.data.pictures import picture, picture_folder
from torchbasics.data.folder import index_folder, index_lists
from torchbasics.errors import TorchbasicsError


def test_class_folders_are_one_training_split(tmp_path):
    index = index_folder(picture_folder(tmp_path / "pics"))
    assert index.layout == "class folders" and index.classes == ("blue", "green", "red")
    assert index.splits() == ["train"] and index.counts() == {"train": [12, 12, 12]}
    assert not index.numeric_order and not index.skipped


@pytest.mark.parametrize(("splits", "found"), [
    (("train", "test"), ["train", "test"]),
    (("train", "val", "test"), ["train", "val", "test"]),
    (("training", "validation", "testing"), ["train", "val", "test"]),
    (("Train", "Dev"), ["train", "val"]),
])
def test_split_folders_give_their_splits(tmp_path, splits, found):
    index = index_folder(picture_folder(tmp_path / "pics", splits=splits, per_class=4))
    assert index.layout == "split folders" and index.splits() == found


def test_pictures_in_subfolders_of_a_class_belong_to_it(tmp_path):
    root = picture_folder(tmp_path / "pics", per_class=2)
    (root / "red" / "2024" / "june").mkdir(parents=True)
    (root / "red" / "001.png").rename(root / "red" / "2024" / "june" / "deep.png")
    index = index_folder(root)
    deep = next(p for p in index.pictures if p.name.endswith("deep.png"))
    assert index.classes[deep.label] == "red" and deep.name == "red/2024/june/deep.png"


def test_numbers_are_ordered_as_numbers(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("10", "2", "7"):
        (tmp_path / "digits" / name).mkdir(parents=True)
        picture(0, rng).save(tmp_path / "digits" / name / "a.png")
    index = index_folder(tmp_path / "digits")
    assert index.classes == ("2", "7", "10") and index.numeric_order


def test_hidden_things_are_not_looked_at_and_others_are_listed(tmp_path):
    root = picture_folder(tmp_path / "pics", per_class=3)
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "x.png").write_bytes(b"")
    (root / "red" / ".DS_Store").write_bytes(b"\0\0")
    (root / "red" / "notes.txt").write_text("hello")
    (root / "README.md").write_text("my pictures")
    index = index_folder(root)
    assert index.classes == ("blue", "green", "red")
    assert {(s.name, s.reason) for s in index.skipped} == {
        ("red/notes.txt", "not a picture file (.txt)"),
        ("README.md", "not in a class folder")}


@pytest.mark.parametrize(("make", "message"), [
    (lambda root: root.mkdir(), "no class folders here"),
    (lambda root: picture_folder(root).joinpath("empty").mkdir(),
     "empty: a class folder without pictures"),
    (lambda root: _without_pictures(root, "red"), "red: a class folder without pictures"),
    (lambda root: _one_class(root), "one class only ('red')"),
    (lambda root: _mixed(root), "holds split folders (train) and other folders (blue, green, red)"),
    (lambda root: _test_differs(root), "the test split's classes differ from the training "
     "split's: missing red"),
    (lambda root: _val_only(root), "split folders without a train/ folder"),
])
def test_folders_that_cannot_train_are_one_line(tmp_path, make, message):
    root = tmp_path / "pics"
    make(root)
    with pytest.raises(TorchbasicsError, match=re.escape(message)):
        index_folder(root)


def _without_pictures(root, name):
    picture_folder(root)
    for path in (root / name).iterdir():
        path.rename(path.with_suffix(".txt"))


def _one_class(root):
    picture_folder(root)
    for name in ("green", "blue"):
        for path in (root / name).iterdir():
            path.unlink()
        (root / name).rmdir()


def _mixed(root):
    picture_folder(root, splits=("train",))
    picture_folder(root)


def _test_differs(root):
    picture_folder(root, splits=("train", "test"), per_class=2)
    for path in (root / "test" / "red").iterdir():
        path.unlink()
    (root / "test" / "red").rmdir()


def _val_only(root):
    picture_folder(root, splits=("val",), per_class=2)


def test_list_files_of_new_classes(tmp_path):
    root = picture_folder(tmp_path / "pics", per_class=4)
    lines = [f"{path} {path.parent.name.upper()}" for path in sorted(root.rglob("*.png"))]
    (tmp_path / "train.txt").write_text("\n".join(lines[::2]) + "\n")
    (tmp_path / "val.txt").write_text("\n".join(lines[1::2]) + "\n")
    index = index_lists({"train": tmp_path / "train.txt", "val": tmp_path / "val.txt"})
    assert index.classes == ("BLUE", "GREEN", "RED") and index.layout == "list files"
    assert index.counts() == {"train": [2, 2, 2], "val": [2, 2, 2]}
    (tmp_path / "bad.txt").write_text(f"{lines[0].split()[0]} PURPLE\n")
    with pytest.raises(TorchbasicsError, match=r"bad\.txt:1: class .PURPLE. is not one of"):
        index_lists({"test": tmp_path / "bad.txt"}, classes=index.classes)
    (tmp_path / "gone.txt").write_text(f"{tmp_path / 'nowhere.png'} RED\n")
    with pytest.raises(TorchbasicsError, match=r"gone\.txt:1: image file not found"):
        index_lists({"train": tmp_path / "gone.txt"})
