"""Shared fixtures; the helpers they use live in ``tests/helpers.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_idx_dataset


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache."""
    monkeypatch.setenv("TORCHBASICS_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def idx_dir(tmp_path) -> Path:
    """A folder holding a small synthetic MNIST-like data set (200 train, 60 test)."""
    return make_idx_dataset(tmp_path / "synthetic")
