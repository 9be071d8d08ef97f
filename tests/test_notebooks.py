"""The notebooks: committed without outputs, and each one runs top to bottom.

Every notebook the package ships (``src/torchbasics/resources/notebooks/*.ipynb``) is
executed with nbclient in a ``python3`` kernel of this interpreter (the virtual
environment's), from a copy in a temporary folder (``tests/notebook_runner.py``), so that a
broken notebook fails CI and a run never writes into the repository. The tests are
parametrized by file name: a new notebook is tested as soon as it is added.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

import torchbasics
from tests.helpers import real_data_dir, run_lesson_once
from torchbasics import resources

NOTEBOOK_DIR = Path(str(resources.resource(resources.NOTEBOOKS)))  # in src/torchbasics/
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# The walk-throughs that issue #5 asks for; the glob above also picks up any added later.
REQUIRED = (
    "bonus_prediction_nn.ipynb",
    "datasets_dataloader.ipynb",
    "digits_classification.ipynb",
    "pytorch_deep_learning_models.ipynb",
    "inside_the_models.ipynb",  # issue #25
    "hidden_layers.ipynb",  # issue #34
)
# The building blocks each lesson writes out in plain PyTorch (issue #34), as patterns its
# code cells must hold, so that a later change cannot hide them behind the package again.
# Every lesson also proves the package computes the same: it builds the package's model
# (``create_model``) and asserts agreement, and prints the timings it measures.
BUILDING_BLOCKS = {
    "bonus_prediction_nn.ipynb": [
        r"pd\.read_csv\(", r"torch\.tensor\(|torch\.from_numpy\(", r"nn\.Linear\(3, 1\)",
        r"nn\.MSELoss\(", r"torch\.optim\.SGD\(", r"\.zero_grad\(", r"\.backward\(\)",
        r"\.step\(\)"],
    "digits_classification.ipynb": [
        r"class \w+\(nn\.Module\)", r"def forward\(", r"nn\.CrossEntropyLoss\(",
        r"\.zero_grad\(", r"\.backward\(\)", r"\.step\(\)", r"\.train\(\)", r"\.eval\(\)",
        r"torch\.no_grad\(\)", r"confusion", r"torch\.save\(\w+\.state_dict\(\)",
        r"\.load_state_dict\(", r"torch\.load\(", r"Image\.open\("],
    "datasets_dataloader.ipynb": [
        r"class \w+\((torch\.utils\.data\.)?Dataset\)", r"def __len__\(", r"def __getitem__\(",
        r"DataLoader\(", r"batch_size=64", r"shuffle=True", r"transform"],
    "pytorch_deep_learning_models.ipynb": [
        r"nn\.Linear\(", r"nn\.Sigmoid\(\)", r"nn\.ReLU\(\)", r"nn\.Conv2d\(",
        r"nn\.MaxPool2d\(", r"nn\.CrossEntropyLoss\(", r"\.backward\(\)", r"\.step\(\)",
        r"train\.txt", r"test\.txt", r"DataLoader\("],
    "hidden_layers.ipynb": [
        r"nn\.Sigmoid", r"nn\.ReLU", r"\.backward\(\)", r"\.grad\b", r"\.norm\(",
        r"nn\.CrossEntropyLoss\("],
}
PROOF = [r"create_model\(", r"assert", r"perf_counter\(\)"]


def real_data_needed(name: str) -> tuple[str, ...]:
    """The real data sets a notebook reads, to skip (or, in CI, fail) early without them.

    The digits, hidden-layers and inside notebooks fall back to Fashion-MNIST when MNIST is
    missing; CI (``TORCHBASICS_REQUIRE_DATA=1``) must run them on MNIST itself.
    """
    if name in ("digits_classification.ipynb", "hidden_layers.ipynb",
                "inside_the_models.ipynb"):
        ci = os.environ.get("TORCHBASICS_REQUIRE_DATA") == "1"
        return ("mnist",) if ci else ()
    if name in ("datasets_dataloader.ipynb", "pytorch_deep_learning_models.ipynb"):
        return ("fashion-mnist",)
    return ()


def test_every_required_notebook_exists():
    missing = set(REQUIRED) - {path.name for path in NOTEBOOKS}
    assert not missing, f"missing from {NOTEBOOK_DIR}: {', '.join(sorted(missing))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_clean(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs or execution counts; clear "
                       "them before committing (see the README.md beside them)")
    assert notebook.metadata.kernelspec.name == "python3"
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert re.search(r"^\s*(from|import) torchbasics\b", code, re.MULTILINE), (
        f"{path.name} does not use the package")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_uses_no_path_of_the_repository(path: Path):
    """They ship in the wheel and run from any folder: data comes from the package (its
    search path, its shipped CSV), runs go under the notebook's own folder."""
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    found = re.findall(r"\.\./|notebooks/|src/|data/|\.venv|scripts/|__file__", code)
    assert not found, f"{path.name} uses paths of the repository: {found}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path: Path, lesson_runs: Path):
    for name in real_data_needed(path.name):
        real_data_dir(name)
    # The kernel inherits this environment (and the test's isolated TORCHBASICS_CACHE). The
    # lesson runs once per test session: the docs build renders the same executed copy.
    failure, (executable, package) = run_lesson_once(path, lesson_runs)
    if failure:
        pytest.fail(failure, pytrace=False)
    assert executable == sys.executable  # the kernel runs this virtual environment's Python
    assert Path(package).resolve() == Path(torchbasics.__file__).resolve()


@pytest.mark.parametrize("name", sorted(BUILDING_BLOCKS))
def test_each_lesson_writes_its_building_blocks_in_plain_pytorch(name: str):
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    missing = [pattern for pattern in [*BUILDING_BLOCKS[name], *PROOF]
               if not re.search(pattern, code)]
    assert not missing, f"{name}: no code cell matches {missing}"


def test_the_building_blocks_check_finds_a_lesson_that_hides_them():
    """The check above fails on a lesson that only calls the package."""
    code = "import torchbasics\nsummary = torchbasics.train(config, 'runs/x')"
    assert [p for p in BUILDING_BLOCKS["digits_classification.ipynb"] if re.search(p, code)] == []

