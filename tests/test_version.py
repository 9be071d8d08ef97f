"""The version is written once, in ``torchbasics.__version__``, and everything reads it."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

import torchbasics

tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python >= 3.11")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads(PYPROJECT.read_text())
    assert "version" not in project["project"]  # no second copy to forget
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "torchbasics.__version__"}


def test_version_is_pep440_and_matches_the_installed_metadata():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?",
                        torchbasics.__version__)
    assert importlib.metadata.version("torchbasics") == torchbasics.__version__


def test_cli_version_prints_it():
    printed = subprocess.run([sys.executable, "-m", "torchbasics", "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert printed.strip() == f"torchbasics {torchbasics.__version__}"
