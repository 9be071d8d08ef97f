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
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from torchbasics.errors import TorchbasicsError

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
