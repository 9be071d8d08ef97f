"""Files that ship inside the package, and how to reach them from wherever it is installed.

- ``bonus.csv``: the employee-bonus data set (``scripts/make_bonus_data.py`` in the
  repository writes it here; a test checks that it is what the generator makes);
- ``notebooks/``: the teaching notebooks and their README (``torchbasics notebooks DIR``
  copies them out).

They are read with :mod:`importlib.resources`, so they are found the same way in a clone,
an editable install and a wheel installed anywhere: never by a path relative to the
repository or the working folder.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write

if TYPE_CHECKING:  # importlib.resources.abc is Python >= 3.11; only the annotations need it
    from importlib.resources.abc import Traversable

NOTEBOOKS = "notebooks"
# Keeps the temporary copies that as_file() makes for a package that is not plain files on
# disk (a zip import); removed when the process ends. A normal install needs none.
_COPIES = contextlib.ExitStack()
atexit.register(_COPIES.close)


def resource(name: str) -> Traversable:
    """The shipped file or folder ``name`` (e.g. ``"bonus.csv"``, ``"notebooks"``).

    Raises:
        TorchbasicsError: it is missing, i.e. the installation is incomplete.
    """
    found = resources.files(__name__).joinpath(name)
    if not (found.is_file() or found.is_dir()):
        raise TorchbasicsError(
            f"{name} is missing from the installed package", where=str(found),
            fix="reinstall torchbasics (`pip install --force-reinstall --no-deps torchbasics`)",
        )
    return found


def resource_path(name: str) -> Path:
    """A real path on disk for the shipped file ``name``, for readers that need one."""
    found = resource(name)
    if isinstance(found, Path):  # installed as plain files: every pip/uv install
        return found
    return _COPIES.enter_context(resources.as_file(found))


def notebook_files() -> list[Traversable]:
    """The shipped notebooks (``*.ipynb``) and their ``README.md``, sorted by name."""
    folder = resource(NOTEBOOKS)
    return sorted((entry for entry in folder.iterdir()
                   if entry.is_file() and entry.name.endswith((".ipynb", ".md"))),
                  key=lambda entry: entry.name)


def copy_notebooks(folder: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the shipped notebooks and their README into ``folder`` (created if needed).

    Returns:
        The files written, sorted by name.

    Raises:
        TorchbasicsError: one of them is there already and ``force`` is off (it may hold the
            user's own changes), or ``folder`` is a file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise TorchbasicsError("not a folder", where=folder, fix="choose another DIR")
    files = notebook_files()
    there = [entry.name for entry in files if (folder / entry.name).exists()]
    if there and not force:
        raise TorchbasicsError(
            f"{', '.join(there)} {'is' if len(there) == 1 else 'are'} there already",
            where=folder, fix="pass --force to replace them with fresh copies (changes made to "
            "them are lost), or choose another DIR")
    folder.mkdir(parents=True, exist_ok=True)
    for entry in files:
        with atomic_write(folder / entry.name) as handle:
            handle.write(entry.read_bytes())
    return [folder / entry.name for entry in files]
