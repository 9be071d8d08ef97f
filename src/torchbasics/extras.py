"""Optional packages: which extra brings each, and one clear error when one is missing.

``pip install torchbasics`` installs what training, evaluation and prediction need. The
rest comes with an extra, ``pip install 'torchbasics[NAME]'`` (``[all]`` for every one).
Code that uses an optional package imports it with :func:`require`, so a missing one is
one line naming the exact pip command, never a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from torchbasics.errors import TorchbasicsError


@dataclass(frozen=True)
class Extra:
    """One optional feature and the packages it needs.

    Attributes:
        name: the extra's name in ``pyproject.toml`` (``pip install 'torchbasics[NAME]'``).
        purpose: what it is for, as a user would look for it.
        packages: the distributions it installs, as pip names them.
        modules: the top-level modules the code imports from them.
    """

    name: str
    purpose: str
    packages: tuple[str, ...]
    modules: tuple[str, ...]

    @property
    def pip_command(self) -> str:
        """The command that installs it, quoted for any shell."""
        return f"pip install 'torchbasics[{self.name}]'"


EXTRAS: dict[str, Extra] = {extra.name: extra for extra in (
    Extra("export", "ONNX export and its runtimes (torchbasics export --format onnx)",
          ("onnx", "onnxscript", "onnxruntime", "opencv-python-headless"),
          ("onnx", "onnxscript", "onnxruntime", "cv2")),
    Extra("serve", "the prediction web service (torchbasics serve)",
          ("fastapi", "uvicorn", "python-multipart", "fastapi-offline", "captum"),
          ("fastapi", "uvicorn", "python_multipart", "fastapi_offline", "captum")),
    Extra("notebooks", "the teaching notebooks in JupyterLab (torchbasics notebooks)",
          ("jupyterlab", "pandas"), ("jupyterlab", "pandas")),
    Extra("tensorboard", "TensorBoard logging (train --tensorboard)",
          ("tensorboard",), ("tensorboard",)),
    Extra("explain", "attribution maps and their checks (torchbasics explain)",
          ("captum",), ("captum",)),
    Extra("tune", "searching the best settings for your data (torchbasics tune): Optuna, "
          "its figures' plotting, and PostgreSQL for a study shared by several machines",
          ("optuna", "psycopg"), ("optuna", "psycopg")),
    Extra("docs", "building the documentation site (mkdocs build)",
          ("mkdocs", "mkdocs-material", "mkdocstrings", "mkdocs-jupyter"),
          ("mkdocs", "material", "mkdocstrings", "mkdocs_jupyter")),
)}
ALL = "all"  # the extra that installs every other one


def require(module: str, extra: str, *, where: str | None = None) -> ModuleType:
    """``import module``, or a :class:`TorchbasicsError` naming ``extra``'s pip command.

    Args:
        module: what to import, e.g. ``"onnxruntime"`` or ``"torch.utils.tensorboard"``.
        extra: the extra that provides it (a key of :data:`EXTRAS`).
        where: the flag or command concerned, shown first in the message.
    """
    spec = EXTRAS[extra]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name if exc.name in spec.modules else ", ".join(spec.packages)
        raise TorchbasicsError(
            f"{spec.purpose} needs the '{extra}' extra, and {missing} is not installed",
            where=where, fix=f"install it with `{spec.pip_command}`",
        ) from exc
    except ImportError as exc:  # installed, but broken (a missing shared library, ...)
        raise TorchbasicsError(
            f"{spec.purpose}: {module} is installed but does not import ({exc})", where=where,
            fix=f"reinstall it with `pip install --force-reinstall 'torchbasics[{extra}]'`",
        ) from exc


def require_extra(extra: str, *, where: str | None = None) -> None:
    """Import every module of ``extra``; the first missing one is the one-line error."""
    for module in EXTRAS[extra].modules:
        require(module, extra, where=where)


def installed_versions(extra: str) -> dict[str, str | None]:
    """Each package of ``extra`` -> its installed version, or None (nothing is imported)."""
    versions: dict[str, str | None] = {}
    for package in EXTRAS[extra].packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def is_installed(extra: str) -> bool:
    """Whether every module of ``extra`` can be found (found, not imported: this is quick)."""
    return all(importlib.util.find_spec(module) is not None for module in EXTRAS[extra].modules)
