"""The search path: order, layouts, refusing the wrong data set, and the not-found message."""

from __future__ import annotations

import shutil

import pytest

from tests.helpers import make_idx_dataset
from torchbasics.data.locate import find_dataset
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split, locate
from torchbasics.errors import TorchbasicsError

MNIST = get_dataset("mnist")


@pytest.fixture(autouse=True)
def _empty_search_path(monkeypatch, tmp_path):
    """Only what each test puts on the path: no env roots, no ./data, no system folders."""
    monkeypatch.delenv("TORCHBASICS_DATA", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("layout", ["", "mnist", "MNIST/raw"])
def test_finds_each_layout_under_a_root(tmp_path, layout):
    make_idx_dataset(tmp_path / "root" / layout)
    located = find_dataset(MNIST, tmp_path / "root")
    assert located.directory == tmp_path / "root" / layout
    assert located.origin == "--data-dir"


def test_decompressed_files_are_found_too(tmp_path):
    folder = make_idx_dataset(tmp_path / "root")
    for path in folder.glob("*.gz"):
        shutil.move(path, path.with_suffix(""))  # the files torchvision extracts
    assert load_split(MNIST, "test", folder, download=False).images.shape[0] == 60


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    make_idx_dataset(tmp_path / "env" / "mnist")
    make_idx_dataset(tmp_path / "cache" / "mnist")
    monkeypatch.setenv("TORCHBASICS_DATA", f"{tmp_path / 'missing'}:{tmp_path / 'env'}")
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path / "cache"))
    assert find_dataset(MNIST).origin == "$TORCHBASICS_DATA"
    make_idx_dataset(tmp_path / "explicit")
    assert find_dataset(MNIST, tmp_path / "explicit").directory == tmp_path / "explicit"
    monkeypatch.delenv("TORCHBASICS_DATA")
    assert find_dataset(MNIST).origin == "user cache"


def test_current_directory_data_folder(tmp_path):
    make_idx_dataset(tmp_path / "data" / "mnist")
    assert find_dataset(MNIST).origin == "./data"


def test_incomplete_folder_is_skipped(tmp_path):
    folder = make_idx_dataset(tmp_path / "root")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert find_dataset(MNIST, folder) is None


def test_missing_data_dir_is_an_error_not_a_silent_fallback(tmp_path):
    with pytest.raises(TorchbasicsError, match="no such folder"):
        find_dataset(MNIST, tmp_path / "typo")


def test_not_found_offline_lists_where_it_looked(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TorchbasicsError) as caught:
        locate("mnist", tmp_path / "empty", download=False)
    message = caught.value.message
    assert "MNIST handwritten digits not found" in message
    assert str(tmp_path / "empty") in message and "MNIST/raw" in message
    assert "torchbasics data download mnist" in message


def test_fashion_files_passed_as_mnist_are_refused():
    folder = get_dataset("fashion-mnist").system_dirs[0]
    if find_dataset(get_dataset("fashion-mnist"), folder) is None:
        pytest.skip("Fashion-MNIST is not installed in " + folder)
    with pytest.raises(TorchbasicsError, match="these are Fashion-MNIST"):
        find_dataset(MNIST, folder)


def test_tabular_data_set_is_not_an_image_data_set():
    with pytest.raises(TorchbasicsError, match="not an image data set"):
        locate("bonus")


def test_unknown_split():
    with pytest.raises(TorchbasicsError, match="Did you mean 'test'"):
        load_split("mnist", "tset")
