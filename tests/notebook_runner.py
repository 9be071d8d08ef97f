"""Run a notebook top to bottom in a ``python3`` kernel of the running interpreter.

Used by ``tests/test_notebooks.py`` (in-process) and by ``tests/test_release.py``, which runs
this file as a script with the Python of a fresh virtual environment, from a folder outside
the repository::

    python notebook_runner.py NOTEBOOK.ipynb     # exit 0, or 1 with the failing cell

The notebook runs in its own folder (the kernel's working folder), on the file itself, and
a last cell added to the run reports the kernel's Python and where it imported torchbasics
from, so a caller can check that both are the ones it meant.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

CELL_TIMEOUT = 300  # seconds; the slowest cell (training four models) takes well under a minute
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REPORT = "import sys, torchbasics\nprint(sys.executable)\nprint(torchbasics.__file__)"


def execute(path: Path, save_to: Path | None = None) -> tuple[str | None, list[str]]:
    """Run ``path`` in its folder: (the failure described, or None; the report's lines).
    ``save_to``: where to write the executed notebook, its outputs kept (the report's cell
    is the runner's, not the lesson's, and is left out)."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT))
    running: dict[str, int] = {}
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's working folder
        on_cell_start=lambda cell, cell_index: running.update(index=cell_index),
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        return describe_failure(path.name, notebook, running.get("index"), exc), []
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    if save_to is not None:
        notebook.cells.pop()
        nbformat.write(notebook, save_to)
    return None, printed.split()


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


if __name__ == "__main__":
    failure, report = execute(Path(sys.argv[1]).resolve())
    print(failure or "\n".join(report))
    sys.exit(1 if failure else 0)
