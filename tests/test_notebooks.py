"""The notebooks: committed without outputs, and each one runs top to bottom.

Every ``notebooks/*.ipynb`` is executed with nbclient in a ``python3`` kernel of this
interpreter (the virtual environment's), from a copy in a temporary folder, so that a broken
notebook fails CI and a run never writes into the repository. The tests are parametrized by
file name: a new notebook is tested as soon as it is added.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from tests.helpers import real_data_dir

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# The walk-throughs that issue #5 asks for; the glob above also picks up any added later.
REQUIRED = (
    "bonus_prediction_nn.ipynb",
    "datasets_dataloader.ipynb",
    "digits_classification.ipynb",
    "pytorch_deep_learning_models.ipynb",
)
CELL_TIMEOUT = 300  # seconds; the slowest cell (training four models) takes well under a minute
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def real_data_needed(name: str) -> tuple[str, ...]:
    """The real data sets a notebook reads, to skip (or, in CI, fail) early without them.

    The digits notebook falls back to Fashion-MNIST when MNIST is missing; CI
    (``TORCHBASICS_REQUIRE_DATA=1``) must run it on MNIST itself.
    """
    if name == "digits_classification.ipynb":
        ci = os.environ.get("TORCHBASICS_REQUIRE_DATA") == "1"
        return ("mnist",) if ci else ()
    if name in ("datasets_dataloader.ipynb", "pytorch_deep_learning_models.ipynb"):
        return ("fashion-mnist",)
    return ()


def test_every_required_notebook_exists():
    missing = set(REQUIRED) - {path.name for path in NOTEBOOKS}
    assert not missing, f"missing from notebooks/: {', '.join(sorted(missing))}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_committed_clean(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} hold outputs or execution counts; clear "
                       "them before committing (see notebooks/README.md)")
    assert notebook.metadata.kernelspec.name == "python3"
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert re.search(r"^\s*(from|import) torchbasics\b", code, re.MULTILINE), (
        f"{path.name} does not use the package")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in real_data_needed(path.name):
        real_data_dir(name)
    # The kernel inherits this environment (and the test's isolated TORCHBASICS_CACHE).
    # One torch thread unless told otherwise: on this 2-core machine shared with other jobs,
    # two threads made the digits notebook take 76 s instead of 24 s (measured).
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    shutil.copy(path, tmp_path / path.name)
    notebook = nbformat.read(tmp_path / path.name, as_version=4)
    # A last cell reports which Python the kernel runs: it must be this virtual environment's.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"))
    running: dict[str, int] = {}
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
    )
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        failure = describe_failure(path.name, notebook, running.get("index"), exc)
    if failure:  # failed outside the except block: the report is the cell's error alone
        pytest.fail(failure, pytrace=False)
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    assert printed.strip() == sys.executable


def describe_failure(name: str, notebook, index: int | None, exc: Exception) -> str:
    """Which cell failed, its source, and the error with its traceback, without colour codes."""
    if index is None:
        return f"{name}: {type(exc).__name__}: {exc}"
    cell = notebook.cells[index]
    errors = [output for output in cell.get("outputs", []) if output.output_type == "error"]
    if errors:
        error = errors[0]
        what = f"{error.ename}: {error.evalue}\n" + "\n".join(error.traceback)
    elif isinstance(exc, CellTimeoutError):
        what = f"still running after {CELL_TIMEOUT} s"
    else:
        what = f"{type(exc).__name__}: {exc}"
    return (f"{name}: cell {index} failed\n--- cell source ---\n{cell.source}\n"
            f"--- error ---\n{ANSI.sub('', what)}")
