"""MkDocs hook: the lessons (the package's notebooks) as the site's Lessons section.

The notebooks live in the package (``src/torchbasics/resources/notebooks/``), not in
``docs/``. Each build copies them into a temporary folder of its own, one folder per
notebook (each writes ``runs/`` beside itself, never into the source tree), and adds them
to the build as ``lessons/NN-name.ipynb``, in the order of the README's table; the
mkdocs-jupyter plugin executes them there (``execute: true``, ``allow_errors: false``: a
failing cell fails the build, naming the page) and renders them with their outputs and
figures. The notebooks' README becomes the section's first page, ``lessons/index.md``,
generated from the file itself with the table's names linked to their pages.

``TORCHBASICS_DOCS_EXECUTE=0`` renders the lessons without running them (quick builds
while writing pages). ``TORCHBASICS_DOCS_EXECUTED=FOLDER`` names lessons already executed
(the test session's: ``tests/helpers.py::run_lesson_once``): a lesson whose copy there ran
from this very notebook (``NAME.sha256`` holds the notebook's sha256) is rendered from that
copy, outputs and all, instead of being run again, so that CI runs each lesson once.

Each page gets a link that downloads its notebook as the package
ships it (clean, no outputs), carried in the link as a data: URL so that it downloads from
a folder (file://) too; mkdocs-jupyter's ``include_source`` also writes the file beside
the page. Nothing comes from another host:
nbconvert's MathJax and Mermaid loaders (CDN scripts) are taken out, so ``$...$`` math
shows as its TeX text.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files, file_sort_key
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "src" / "torchbasics" / "resources" / "notebooks"
SECTION = "lessons"
TABLE_ROW = re.compile(r"^\| `([\w-]+\.ipynb)` \|", re.MULTILINE)
# What nbconvert's template writes to load MathJax (from a CDN, or from an empty URL).
MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL)
# What it writes to import Mermaid (from a CDN) when a cell shows a diagram; none of ours does.
MERMAID = re.compile(r'<script type="module">\s*document\.addEventListener\('
                     r'"DOMContentLoaded", async \(\) => \{\s*'
                     r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
                     re.DOTALL)
# The notebook travels in the link itself (a data: URL, ~50 KB): a browser ignores
# ``download`` on a file:// link and shows the JSON instead; a data: link downloads from a
# folder as from a server. The copy beside the page (include_source) stays for plain links.
BUTTON = ('<a href="{data}" download="{name}" class="md-content__button md-icon" '
          'title="Download the notebook {name}">{icon}</a>\n')
DOWNLOAD = ('<p class="lesson-download">Download this lesson: <a href="{data}" download="{name}">'
            "<code>{name}</code></a> (or write all of them into a folder with "
            "<code>torchbasics notebooks FOLDER</code>).</p>\n")
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M5 20h14v-2H5'
        'v2m14-11h-4V3H9v6H5l7 7 7-7Z"/></svg>')

EXECUTED_ENV = "TORCHBASICS_DOCS_EXECUTED"  # a folder of lessons already executed
REUSED = ".executed"  # the suffix of a lesson's build folder when its executed copy is used

_build_dir: Path | None = None  # this build's copies; removed when the build ends
_copies: dict[str, str] = {}  # a lesson's page (src_uri) -> its copy in _build_dir


def executing() -> bool:
    """Whether the lessons run during the build: unless ``TORCHBASICS_DOCS_EXECUTE=0``."""
    return os.environ.get("TORCHBASICS_DOCS_EXECUTE", "1") != "0"


def executed_copy(source: Path) -> Path | None:
    """The lesson already executed from this very notebook (in ``TORCHBASICS_DOCS_EXECUTED``,
    with the notebook's sha256 beside it), or None: the build runs it."""
    folder = os.environ.get(EXECUTED_ENV)
    if not folder or not executing():
        return None
    copy, stamp = Path(folder) / source.name, Path(folder) / f"{source.name}.sha256"
    if copy.is_file() and stamp.is_file() and stamp.read_text() == hashlib.sha256(
            source.read_bytes()).hexdigest():
        return copy
    return None


def lesson_order(readme: str, names: list[str]) -> list[str]:
    """The notebooks in the order of the README's table, which must list each, and no other."""
    listed = TABLE_ROW.findall(readme)
    missing, absent = sorted(set(names) - set(listed)), sorted(set(listed) - set(names))
    if missing:
        raise ValueError(f"{NOTEBOOKS / 'README.md'}: its table does not list "
                         f"{', '.join(missing)}; describe every lesson there")
    if absent:
        raise ValueError(f"{NOTEBOOKS / 'README.md'}: its table lists {', '.join(absent)}, "
                         f"not in {NOTEBOOKS}")
    return listed


def page_name(index: int, name: str) -> str:
    """A lesson's page in the section, numbered so that the folder sorts in course order."""
    return f"{index:02d}-{name}"


def index_page(readme: str, order: list[str]) -> str:
    """The README as the section's first page, each notebook in its table linked to its page."""
    pages = {name: page_name(number, name) for number, name in enumerate(order, 1)}
    return TABLE_ROW.sub(lambda match: f"| [`{match.group(1)}`]({pages[match.group(1)]}) |",
                         readme)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """mkdocs-jupyter executes the lessons unless ``TORCHBASICS_DOCS_EXECUTE=0``."""
    plugin = config.plugins["mkdocs-jupyter"].config
    plugin["execute"] = executing()
    plugin["execute_ignore"] = [*plugin["execute_ignore"], f"*{REUSED}/*.ipynb"]
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """The README and the notebooks, copied into a temporary folder, added as lessons/."""
    global _build_dir
    _remove_build_dir()
    _build_dir = Path(tempfile.mkdtemp(prefix="torchbasics-docs-lessons-"))
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    order = lesson_order(readme, sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")))
    files.append(File.generated(config, f"{SECTION}/index.md", content=index_page(readme, order)))
    for number, name in enumerate(order, 1):
        executed = executed_copy(NOTEBOOKS / name)
        # A folder each: each writes runs/ beside itself.
        folder = _build_dir / (Path(name).stem + (REUSED if executed else ""))
        folder.mkdir()
        copy = shutil.copy(executed or NOTEBOOKS / name, folder / name)
        # The page is lessons/NN-name; the copy keeps the notebook's own name, which is the
        # one include_source gives the download beside the page.
        page = f"{SECTION}/{page_name(number, name)}"
        _copies[page] = str(copy)
        files.append(File.generated(config, page, abs_src_path=str(copy)))
    # In the folders' order, as MkDocs lists docs/ (the nav follows the files' order).
    return Files(sorted(files, key=file_sort_key))


def on_nav(nav: Any, config: MkDocsConfig, files: Files) -> Any:
    """Each lesson's page reads its copy: mkdocs-jupyter wraps the files it renders in an
    object of its own, which would recompute the path from the (absent) docs folder."""
    for file in files:
        if file.src_uri in _copies:
            file.abs_src_path = _copies[file.src_uri]
    return nav


def on_page_content(html: str, page: Page, **_: Any) -> str:
    """A lesson: no MathJax from another host, and a link that downloads its notebook."""
    if not (page.file.src_uri.startswith(f"{SECTION}/") and page.file.src_uri.endswith(".ipynb")):
        return html
    name = Path(page.file.abs_src_path).name
    data = "data:application/x-ipynb+json;base64," + base64.b64encode(
        (NOTEBOOKS / name).read_bytes()).decode("ascii")
    html = MERMAID.sub("", MATHJAX.sub("", html))
    # The button at the top (where Material puts a page's buttons), the sentence under the title.
    title_end = html.find("</h1>") + len("</h1>") if "</h1>" in html else 0
    return (BUTTON.format(data=data, name=name, icon=ICON) + html[:title_end]
            + DOWNLOAD.format(data=data, name=name) + html[title_end:])


def on_post_build(config: MkDocsConfig) -> None:
    """The notebook beside each lesson's page is the one the package ships (include_source
    copied the build's copy, which may be an executed one), then the copies go."""
    for name in NOTEBOOKS.glob("*.ipynb"):
        beside = Path(config.site_dir) / SECTION / name.name
        if beside.exists():
            shutil.copy(name, beside)
    _remove_build_dir()


def on_build_error(error: Exception) -> None:
    _remove_build_dir()


def _remove_build_dir() -> None:
    global _build_dir
    _copies.clear()
    if _build_dir is not None:
        shutil.rmtree(_build_dir, ignore_errors=True)
        _build_dir = None
