"""List files: ID subsets, image paths with labels, and every bad input named by file:line."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from torchbasics.data.listfile import class_slug, read_list_file, subset_from_list
from torchbasics.data.sources import load_split
from torchbasics.errors import TorchbasicsError

NAMES = ("T-shirt/top", "Trouser", "Ankle boot")


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    return path


def _error(list_path, line):
    """What a TorchbasicsError about ``list_path`` line ``line`` starts with."""
    return re.escape(f"{list_path}:{line}: ")


# IDs ------------------------------------------------------------------------------------


def test_id_list_picks_those_images_in_order(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    listed = _write(tmp_path / "test.txt", "# chosen by hand\n\n12\n 3 \n12\n0059\n")
    part = subset_from_list(data, listed)
    assert len(part) == 4  # the repeated ID is kept
    for got, want in enumerate([12, 3, 12, 59]):
        assert torch.equal(part.images[got], data.images[want])
        assert part.labels[got] == data.labels[want]
    assert part.class_names == data.class_names and "test.txt" in part.source


def test_id_list_records_line_numbers(tmp_path):
    listed = read_list_file(_write(tmp_path / "ids.txt", "# header\n4\n\n2\n"))
    assert listed.kind == "ids" and listed.ids.tolist() == [4, 2]
    assert listed.lines == (2, 4) and listed.where(1) == f"{tmp_path / 'ids.txt'}:4"
    assert listed.paths is None and listed.labels is None


def test_id_out_of_range_names_the_line(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)  # 60 images
    listed = _write(tmp_path / "ids.txt", "1\n60\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 2) + r"ID 60 is out of range"):
        subset_from_list(data, listed)


def test_negative_id_names_the_line(tmp_path):
    listed = _write(tmp_path / "ids.txt", "1\n-3\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 2) + "negative ID -3"):
        read_list_file(listed)


def test_id_with_second_column_is_refused(tmp_path):
    listed = _write(tmp_path / "ids.txt", "1 7\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 1) + "an ID line holds only"):
        read_list_file(listed)


def test_path_list_is_refused_where_ids_are_needed(idx_dir, tmp_path):
    data = load_split("mnist", "test", idx_dir, download=False)
    _png(tmp_path / "7" / "a.png")
    listed = _write(tmp_path / "list.txt", "7/a.png\n")
    message = re.escape(f"{listed}: this lists image files, not split IDs") + ".*load_image_list"
    with pytest.raises(TorchbasicsError, match=message):
        subset_from_list(data, listed)


# Paths and labels -------------------------------------------------------------------------


def test_paths_with_label_index_name_and_slug(tmp_path):
    for name in ("a.png", "b.png", "c.png", "d e.png"):
        _png(tmp_path / "img" / name)
    listed = _write(tmp_path / "list.txt",
                    "img/a.png 1\nimg/b.png Trouser\nimg/c.png\tT-shirt_top\n"
                    "img/d e.png, Ankle boot\n")
    result = read_list_file(listed, class_names=NAMES)
    assert result.kind == "paths" and result.ids is None
    assert result.labels.tolist() == [1, 1, 0, 2]
    assert result.paths == tuple(tmp_path / "img" / n for n in ("a.png", "b.png", "c.png",
                                                                  "d e.png"))


def test_labels_from_folder_names(tmp_path):
    for folder in ("Ankle_boot", "Trouser", "0"):
        _png(tmp_path / folder / "x.png")
    listed = _write(tmp_path / "list.txt", "Ankle_boot/x.png\nTrouser/x.png\n0/x.png\n")
    assert read_list_file(listed, class_names=NAMES).labels.tolist() == [2, 1, 0]


def test_absolute_paths_and_paths_relative_to_the_list(tmp_path):
    image = _png(tmp_path / "data" / "Trouser" / "x.png")
    (tmp_path / "lists").mkdir()
    listed = _write(tmp_path / "lists" / "l.txt", f"{image}\n../data/Trouser/x.png 1\n")
    result = read_list_file(listed, class_names=NAMES)
    assert [p.resolve() for p in result.paths] == [image.resolve()] * 2
    assert result.labels.tolist() == [1, 1]


def test_class_slug():
    assert class_slug("T-shirt/top") == "T-shirt_top"
    assert class_slug("Ankle boot") == "Ankle_boot"
    assert class_slug("7") == "7"
    assert class_slug("..") == "_" and class_slug("a / b") == "a_b"


# Errors -------------------------------------------------------------------------------------


def test_missing_list_file(tmp_path):
    with pytest.raises(TorchbasicsError, match="list file not found"):
        read_list_file(tmp_path / "nope.txt")


def test_empty_list(tmp_path):
    listed = _write(tmp_path / "empty.txt", "# nothing\n\n   \n")
    with pytest.raises(TorchbasicsError, match=re.escape(f"{listed}: the list has no entries")):
        read_list_file(listed)


@pytest.mark.parametrize("line, message", [
    ("a.png 1 2", "expected 1 or 2 columns, found 3"),
    ("a.png,", "expected 1 or 2 columns"),
    ("12a", "'12a' is neither a split ID nor an image file name"),
    ("path,label", "'path' is neither"),
])
def test_bad_line_names_file_and_line(tmp_path, line, message):
    listed = _write(tmp_path / "list.txt", f"# ok\n{line}\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 2) + re.escape(message)):
        read_list_file(listed, class_names=NAMES)


def test_not_utf8(tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_bytes(b"caf\xe9.png\n")
    with pytest.raises(TorchbasicsError, match="not UTF-8"):
        read_list_file(listed)


@pytest.mark.parametrize("text, line, first", [
    ("1\n2\nx/a.png\n", 3, "'x/a.png' is an image path, but line 1 is a split ID"),
    ("x/a.png\n5\n", 2, "'5' is a split ID, but line 1 is an image path"),
])
def test_mixing_ids_and_paths(tmp_path, text, line, first):
    _png(tmp_path / "x" / "a.png")
    listed = _write(tmp_path / "list.txt", text)
    with pytest.raises(TorchbasicsError, match=_error(listed, line) + re.escape(first)):
        read_list_file(listed, class_names=NAMES)


def test_missing_image_names_the_line(tmp_path):
    _png(tmp_path / "a.png")
    listed = _write(tmp_path / "list.txt", "a.png 0\nb.png 0\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 2) + "image file not found"):
        read_list_file(listed, class_names=NAMES)


def test_unknown_class_name_suggests_the_closest(tmp_path):
    _png(tmp_path / "a.png")
    listed = _write(tmp_path / "list.txt", "a.png Trowser\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 1) + r"unknown class label "
                       r"'Trowser'.*Did you mean 'Trouser'"):
        read_list_file(listed, class_names=NAMES)


def test_unknown_folder_name(tmp_path):
    _png(tmp_path / "Sandals" / "a.png")
    listed = _write(tmp_path / "list.txt", "Sandals/a.png\n")
    with pytest.raises(TorchbasicsError, match=_error(listed, 1) + "unknown class folder name "
                       "'Sandals'. Name the class in a second column"):
        read_list_file(listed, class_names=NAMES)


@pytest.mark.parametrize("label", ["3", "-1"])
def test_label_out_of_range(tmp_path, label):
    _png(tmp_path / "a.png")
    listed = _write(tmp_path / "list.txt", f"a.png {label}\n")
    message = _error(listed, 1) + re.escape(f"label {label} is outside 0..2")
    with pytest.raises(TorchbasicsError, match=message):
        read_list_file(listed, class_names=NAMES)
