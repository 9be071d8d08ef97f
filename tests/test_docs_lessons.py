"""The site's Lessons section (``docs/hooks/lessons.py``): every notebook the package ships
has its page, executed during the build (its figures are on the page), with a link that
downloads the notebook; the notebooks' README is the section's first page; the build runs
the lessons in a temporary folder, never beside the sources; nothing comes from a CDN."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.helpers import build_site, docs_hook, real_data_dir, run_lesson_once

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "src" / "torchbasics" / "resources" / "notebooks"
NOTEBOOKS = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
pytest.importorskip("mkdocs_jupyter", reason="the docs extra is not installed (pip install "
                    "'torchbasics[docs]'; scripts/setup.sh --dev installs it)")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder``: its size and modification time."""
    return {str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in folder.rglob("*") if "__pycache__" not in path.parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory, lesson_runs) -> tuple[Path, dict, dict]:
    """The site built with the lessons executed, and the source folder before and after.

    Each lesson runs once per test session: here, unless the notebook tests ran it first
    (``run_lesson_once``); the build renders those executed copies."""
    real_data_dir("fashion-mnist")  # two lessons need it; skips (or fails in CI) without it
    before = snapshot(NOTEBOOK_DIR)
    for name in NOTEBOOKS:
        failure, _ = run_lesson_once(NOTEBOOK_DIR / name, lesson_runs)
        assert failure is None, failure
    out = build_site(tmp_path_factory.mktemp("site"), execute=True, timeout=900,
                     executed=lesson_runs)
    return out, before, snapshot(NOTEBOOK_DIR)


def lesson_pages(site: Path) -> dict[str, Path]:
    """Each notebook's name -> its page (``lessons/NN-name.html``)."""
    return {re.sub(r"^\d+-", "", page.stem) + ".ipynb": page
            for page in (site / "lessons").glob("[0-9]*-*.html")}


@pytest.mark.slow
def test_every_notebook_has_its_page_with_a_download_link(built):
    site = built[0]
    pages = lesson_pages(site)
    assert sorted(pages) == NOTEBOOKS
    for name, page in pages.items():
        html = page.read_text()
        # The link carries the notebook as shipped (a browser ignores ``download`` on a
        # file:// link; a data: link downloads from a folder too); a copy is beside the page.
        link = re.search(r'<a href="data:application/x-ipynb\+json;base64,([^"]+)" '
                         rf'download="{re.escape(name)}"', html)
        assert link, f"{page.name}: no download link"
        assert base64.b64decode(link.group(1)) == (NOTEBOOK_DIR / name).read_bytes()
        assert (page.parent / name).read_bytes() == (NOTEBOOK_DIR / name).read_bytes()
        assert "jp-Notebook" in html and "jp-OutputArea" in html, f"{page.name}: not rendered"


@pytest.mark.slow
def test_the_lessons_are_executed_with_their_figures(built):
    pages = lesson_pages(built[0])
    figure = re.compile(r'<img[^>]+src="(data:image/png;base64,[A-Za-z0-9+/=]{1000,}|[^"]+\.png)"')
    without = [name for name, page in pages.items() if not figure.search(page.read_text())]
    # Every lesson draws at least one figure (a curve, a grid of digits, a confusion matrix).
    assert not without, f"lessons without a figure on their page: {without}"
    assert "Traceback" not in pages["bonus_prediction_nn.ipynb"].read_text()


@pytest.mark.slow
def test_the_build_does_not_run_the_lessons_in_the_source_folder(built):
    _, before, after = built
    assert after == before, "the build wrote into src/torchbasics/resources/notebooks/"
    assert "runs" not in after


@pytest.mark.slow
def test_the_readme_is_the_sections_first_page_with_the_lessons_linked(built):
    site = built[0]
    index = (site / "lessons" / "index.html").read_text()
    assert "torchbasics notebooks my-notebooks" in index  # from the README itself
    for name, page in lesson_pages(site).items():
        assert f'href="{page.name}"' in index, f"{name} is not linked from the section's page"


@pytest.mark.slow
def test_no_lesson_loads_a_script_from_another_host(built):
    """nbconvert's pages load MathJax and Mermaid from a CDN; the hook takes both out."""
    remote = re.compile(r"""<script[^>]*src=["']?(https?:)?//|import\(["'](https?:)?//""")
    for page in (built[0] / "lessons").glob("*.html"):
        html = page.read_text()
        assert not remote.search(html), f"{page.name} loads a script from another host"
        assert "mathjax" not in html.lower(), f"{page.name} still asks for MathJax"


def test_lessons_follow_the_readme_which_lists_each_and_no_other():
    hook = docs_hook("lessons")
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    order = hook.lesson_order(readme, NOTEBOOKS)
    assert sorted(order) == NOTEBOOKS and order[0] == "bonus_prediction_nn.ipynb"
    with pytest.raises(ValueError, match=r"does not list new_lesson\.ipynb"):
        hook.lesson_order(readme, [*NOTEBOOKS, "new_lesson.ipynb"])
    with pytest.raises(ValueError, match=r"lists bonus_prediction_nn\.ipynb, not in"):
        hook.lesson_order(readme, NOTEBOOKS[1:])
    page = hook.index_page(readme, order)
    assert "| [`bonus_prediction_nn.ipynb`](01-bonus_prediction_nn.ipynb) |" in page


def test_the_switch_turns_execution_off(monkeypatch):
    hook = docs_hook("lessons")
    monkeypatch.delenv("TORCHBASICS_DOCS_EXECUTE", raising=False)
    assert hook.executing()  # the default: the lessons run
    monkeypatch.setenv("TORCHBASICS_DOCS_EXECUTE", "0")
    assert not hook.executing()


def test_a_lesson_the_tests_ran_is_rendered_from_that_copy_only_if_it_ran_this_notebook(
        tmp_path, monkeypatch):
    import hashlib

    hook = docs_hook("lessons")
    source = NOTEBOOK_DIR / NOTEBOOKS[0]
    executed = tmp_path / source.name
    executed.write_text("{}")
    monkeypatch.delenv("TORCHBASICS_DOCS_EXECUTE", raising=False)
    monkeypatch.delenv(hook.EXECUTED_ENV, raising=False)
    assert hook.executed_copy(source) is None  # no folder named: the build runs it
    monkeypatch.setenv(hook.EXECUTED_ENV, str(tmp_path))
    assert hook.executed_copy(source) is None  # no stamp
    (tmp_path / f"{source.name}.sha256").write_text(hashlib.sha256(b"older").hexdigest())
    assert hook.executed_copy(source) is None  # run from another version of the lesson
    (tmp_path / f"{source.name}.sha256").write_text(
        hashlib.sha256(source.read_bytes()).hexdigest())
    assert hook.executed_copy(source) == executed
    monkeypatch.setenv("TORCHBASICS_DOCS_EXECUTE", "0")
    assert hook.executed_copy(source) is None  # not executing: the clean notebook


@pytest.mark.slow
def test_a_failing_cell_fails_the_build_naming_its_lesson(tmp_path, monkeypatch, caplog):
    """``allow_errors: false``: a lesson that raises stops the build, which names it."""
    import nbformat
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "README.md").write_text("# Notebooks\n\n| notebook | what |\n|---|---|\n"
                                      "| `broken.ipynb` | raises |\n")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Broken"),
                                               nbformat.v4.new_code_cell("1 / 0")])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}
    nbformat.write(notebook, folder / "broken.ipynb")
    monkeypatch.setenv("NO_MKDOCS_2_WARNING", "1")
    monkeypatch.setenv("TORCHBASICS_DOCS_EXECUTE", "1")
    monkeypatch.chdir(ROOT)
    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)
    config.plugins["docs/hooks/lessons.py"].NOTEBOOKS = folder
    with pytest.raises(Exception, match="1 / 0"):
        build(config)
    assert "Error reading page 'lessons/01-broken.ipynb'" in caplog.text
    assert "ZeroDivisionError" in caplog.text
    assert sorted(path.name for path in folder.iterdir()) == ["README.md", "broken.ipynb"]
