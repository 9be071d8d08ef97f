"""Shared fixtures; the helpers they use live in ``tests/helpers.py``."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def lesson_runs(tmp_path_factory) -> Path:
    """Where this test session keeps each executed lesson (``run_lesson_once``): one folder
    for every worker of ``pytest -n``, so that the notebook tests and the docs build run
    each lesson once between them."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "executed-lessons"


def pytest_configure(config: pytest.Config) -> None:
    """In a worker of ``pytest -n`` (pytest-xdist), PyTorch uses one thread.

    The workers already use every core between them; each with PyTorch's default of one
    thread per core would oversubscribe them, and the heavy tests ran several times slower
    so. Subprocesses that the tests start inherit the setting. A serial run (no ``-n``)
    keeps PyTorch's default.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding slow tests run first, in their order, then the rest in theirs.

    ``pytest -n`` hands out whole modules (``--dist loadfile``); starting with the long
    ones keeps a worker from being left with one of them at the end while the other idles.
    A serial run is unchanged but for the order of modules.
    """
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)
