"""``torchbasics notebooks [DIR]``: the teaching notebooks, written where a user can open them."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

DEFAULT_DIR = Path("torchbasics-notebooks")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``notebooks`` to the top-level parser."""
    parser = commands.add_parser(
        "notebooks", help="write the teaching notebooks into a folder, to open in Jupyter",
        description="Write the six lessons that ship with torchbasics (bonus regression, "
        "digits, Dataset and DataLoader, softmax to CNN, hidden layers, inside the models) and "
        "their README into DIR, and say how to open them. Each lesson writes its model, loss "
        "and training loop in plain PyTorch, then proves the package computes the same; each "
        "runs top to bottom in under a minute on a laptop CPU and writes its runs under the "
        "folder it runs in. Notebooks already in DIR are "
        "not overwritten unless --force is given. JupyterLab comes with `pip install "
        "'torchbasics[notebooks]'`; the inside notebook needs the explain extra too.",
    )
    parser.add_argument("dir", type=Path, nargs="?", default=DEFAULT_DIR, metavar="DIR",
                        help=f"folder to write them into, created if needed (default: "
                        f"{DEFAULT_DIR})")
    parser.add_argument("--force", action="store_true",
                        help="replace notebooks already in DIR with fresh copies "
                        "(default: refuse)")
    parser.set_defaults(handler=run_notebooks)


def run_notebooks(args: argparse.Namespace) -> int:
    """Copy the notebooks out and print how to open them."""
    from torchbasics.extras import EXTRAS, is_installed
    from torchbasics.resources import copy_notebooks

    written = copy_notebooks(args.dir, force=args.force)
    print(f"wrote {len(written)} files to {args.dir}: "
          + ", ".join(path.name for path in written))
    folder = shlex.quote(str(args.dir))
    if is_installed("notebooks"):
        print(f"open them with: {jupyter_command()} lab {folder}")
    else:
        print(f"to open them, install JupyterLab: {EXTRAS['notebooks'].pip_command}")
        print(f"then: jupyter lab {folder}")
    print("in Jupyter, choose the 'Python 3' kernel; runs are written under the notebook's "
          "folder (runs/)")
    return 0


def jupyter_command() -> str:
    """How to start this Python's Jupyter: ``jupyter`` when that is the one on PATH."""
    beside = Path(sys.executable).parent / "jupyter"
    on_path = shutil.which("jupyter")
    if on_path is not None and Path(on_path).resolve() == beside.resolve():
        return "jupyter"
    if beside.exists():
        return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m jupyter"
