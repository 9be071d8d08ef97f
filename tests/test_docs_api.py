"""The API and formats reference pages: every public name of ``torchbasics`` (and every name a
lesson imports) has its entry, with its docstring, in the built site; the formats page lists
every file of a run directory and every column of ``metrics.csv``."""

from __future__ import annotations

import html
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

import torchbasics
from tests.helpers import build_site
from torchbasics.runs.rundir import METRIC_COLUMNS, RUN_FILES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "src" / "torchbasics" / "resources" / "notebooks"
pytest.importorskip("mkdocstrings", reason="the docs extra is not installed (pip install "
                    "'torchbasics[docs]'; scripts/setup.sh --dev installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built --strict without running the lessons (these pages do not need them)."""
    return build_site(tmp_path_factory.mktemp("site"), execute=False)


def text(markup: str) -> str:
    """What a reader sees of some HTML: no tags, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def entry(page: str, identifier: str) -> str:
    """The text of the entry mkdocstrings rendered for ``identifier`` (up to the next one)."""
    start = page.find(f'id="{identifier}"')
    assert start >= 0, f"no entry for {identifier}"
    following = re.compile(r'<div class="doc doc-object doc-(?:function|class|module|attribute)')
    end = following.search(page, page.find(">", start))
    return text(page[start:end.start() if end else len(page)])


def squashed(words: str) -> str:
    """Text without its spaces (a tag between words leaves a space, one around code not)."""
    return re.sub(r"\s+", "", words)


def first_line(obj: object) -> str:
    """A docstring's first line as the page shows it: roles and code marks gone."""
    line = inspect.getdoc(obj).splitlines()[0]
    line = re.sub(r":\w+:`~?\.?([^`]+)`", lambda m: m.group(1).rsplit(".", 1)[-1], line)
    return " ".join(line.replace("``", "").replace("`", "").replace("*", "").split())


def lesson_imports() -> set[str]:
    """``module.name`` of every ``from torchbasics... import name`` in a lesson."""
    names = set()
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            source = "".join(cell["source"])
            for module, imported in re.findall(r"^\s*from (torchbasics[\w.]*) import ([\w, ]+)",
                                               source, re.MULTILINE):
                names |= {f"{module}.{name.strip()}" for name in imported.split(",")}
    return names


def test_every_public_name_has_its_entry_with_its_docstring(site):
    page = (site / "reference" / "api.html").read_text()
    names = [name for name in torchbasics.__all__ if name != "__version__"]
    assert {"train", "load", "TrainConfig", "Classifier"} <= set(names)
    for name in names:
        module = torchbasics._API[name]
        shown = entry(page, f"{module}.{name}")
        assert squashed(first_line(getattr(torchbasics, name))) in squashed(shown), name


def test_every_name_a_lesson_imports_has_its_entry(site):
    page = (site / "reference" / "api.html").read_text()
    imported = lesson_imports()
    assert "torchbasics.models.create_model" in imported
    assert "torchbasics.training.loop.training_step" in imported
    missing = [name for name in sorted(imported) if f'id="{name}"' not in page]
    assert not missing, f"imported by a lesson, missing from the API page: {missing}"
    for name in ("torchbasics.models.create_model", "torchbasics.checkpoint.load_checkpoint"):
        module, attribute = name.rsplit(".", 1)
        shown = entry(page, name)
        docstring = first_line(getattr(importlib.import_module(module), attribute))
        assert squashed(docstring) in squashed(shown), name


def test_sphinx_roles_read_as_code(site):
    """The docstrings' ``:func:`x``` (Sphinx) are rendered as code, not left as ``:func:``."""
    page = text((site / "reference" / "api.html").read_text())
    assert not re.search(r":(func|class|meth|mod|data|attr):", page)


def test_formats_page_lists_every_run_file_and_metrics_column(site):
    page = (site / "reference" / "formats.html").read_text()
    missing = [name for name in (*RUN_FILES, *METRIC_COLUMNS) if f"<code>{name}</code>" not in page]
    assert not missing, f"not on the formats page: {missing}"
    from torchbasics.checkpoint import FIELDS, FORMAT_VERSION, KIND_FIELDS

    fields = [*FIELDS, *(name for kind in KIND_FIELDS.values() for name in kind)]
    assert not [name for name in fields if f"<code>{name}</code>" not in page]
    assert f"version <strong>{FORMAT_VERSION}</strong>" in page
