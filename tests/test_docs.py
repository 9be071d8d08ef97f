"""The documentation site: it builds with ``mkdocs build --strict`` (no warning, no broken
link), its generated parts cover every command and setting, and it loads nothing from
another host (it must work from a folder, offline)."""

from __future__ import annotations

import html
import html.parser
import json
import re
from pathlib import Path

import pytest

from tests.helpers import build_site, docs_hook
from torchbasics.cli import build_parser
from torchbasics.runs.config import SETTINGS
from torchbasics.settings import flag_name

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install "
                    "'torchbasics[docs]'; scripts/setup.sh --dev installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, its lessons not executed (tests/test_docs_lessons.py builds them executed)."""
    return build_site(tmp_path_factory.mktemp("site"), execute=False)


def test_every_command_has_its_section_in_the_reference(site):
    hook = docs_hook("generated")
    names = [name for name, _ in hook.commands(build_parser())]
    assert {"torchbasics train", "torchbasics evaluate", "torchbasics data info"} <= set(names)
    page = (site / "reference" / "cli.html").read_text()
    missing = [name for name in names if f"<code>{name}</code>" not in page]
    assert not missing, f"commands without a section: {missing}"
    assert "--hidden" in page and "--time-budget" in page


def test_every_setting_is_in_the_settings_table(site):
    page = (site / "reference" / "settings.html").read_text()
    missing = [name for name, declared in SETTINGS.items()
               if declared.flag and f"<code>{flag_name(name)}</code>" not in page]
    assert not missing, f"settings missing: {missing}"


def test_results_and_quick_start_come_from_their_files(site):
    results = (site / "results" / "own-data.html").read_text()
    newest = sorted((ROOT / "benchmarks").glob("results-own-defaults-*.json"))[-1]
    assert newest.name in results and "goals met" in results
    home = (site / "index.html").read_text()
    commands = re.findall(r"^    (bash scripts/setup\.sh .*)$", (ROOT / "README.md").read_text(),
                          re.MULTILINE)[:2]
    assert all(command.split(" && ")[1].split()[0] in home for command in commands)


# Every results part the hook makes (listed here, so a part dropped from the hook fails).
_RESULT_PARTS = ("accuracy-results", "records-fashion-results", "records-mnist-results",
                 "speed-results", "startup-results", "serve-results", "own-data-results",
                 "tune-results")


def _results_file(hook, part: str) -> tuple[Path, list[dict]]:
    """A results part's newest committed JSON and the measurements it shows."""
    _, name, table = hook.RESULTS[part]
    path = sorted((ROOT / "benchmarks").glob(f"results-{name}-*.json"))[-1]
    results = json.loads(path.read_text())
    shown = results.get("measurements", [results])  # own_defaults.py: one run, its own shape
    return path, [measured for measured in shown if table in (None, measured.get("table"))]


class _Tables(html.parser.HTMLParser):
    """The text of every table row of an HTML page, one list of cells a row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


@pytest.mark.parametrize("part", _RESULT_PARTS)
def test_each_results_table_is_its_json_on_its_page(site, part):
    """The page holding the marker shows every row its benchmark prints from the newest
    JSON, and names the file, each measurement's date, command and CPU."""
    hook = docs_hook("generated")
    assert set(hook.RESULTS) == {*_RESULT_PARTS}
    marker = f"<!-- generated: {part} -->"
    pages = [page for page in (ROOT / "docs").rglob("*.md") if marker in page.read_text()]
    assert len(pages) == 1, f"{marker} is on {pages}"
    built = site / pages[0].relative_to(ROOT / "docs").with_suffix(".html")
    page = built.read_text()
    text = " ".join(re.sub(r"<[^>]+>", "", html.unescape(page)).split())
    path, measurements = _results_file(hook, part)
    assert measurements and f"Made from {path.relative_to(ROOT)}" in text
    for measured in measurements:
        machine = measured["machine"]
        assert (machine["cpu"] if isinstance(machine, dict) else machine) in text
        assert measured["command"] in text
        assert measured.get("date", "") in text
    tables = _Tables()
    tables.feed(page)
    printed = hook.PARTS[part]()
    rows = [[" ".join(cell.replace("**", "").replace("`", "").split())
             for cell in line.strip().strip("|").split("|")]
            for line in printed.splitlines() if line.startswith("| ")]
    assert len(rows) >= 2
    missing = [row for row in rows if row not in tables.rows]
    assert not missing, f"{built.name} lacks the rows {missing}"


def test_the_readme_headline_results_are_rows_of_the_newest_accuracy_json():
    """README.md's Results table is three rows of the file the accuracy page is made from:
    the same test error and training time, and the file's date, command and CPU named."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Results\n"):]
    section = section[:section.index("\n## ", 1)]
    path = sorted((ROOT / "benchmarks").glob("results-accuracy-*.json"))[-1]
    measured = json.loads(path.read_text())["measurements"][0]
    by_model = {(row["data"], row["model"]): row for row in measured["rows"]}
    headline = re.findall(r"^\| (\S+) \| (\S+) \| ([\d.]+ %) \| (\d+ s) \|$", section,
                          re.MULTILINE)
    assert len(headline) == 3, section
    for data, model, error, seconds in headline:
        row = by_model.get((data, model))
        assert row, f"README.md: {data} {model} is not in {path.name}"
        assert (error, seconds) == (f"{row['test_error_pct']:.2f} %",
                                    f"{row['train_seconds']:.0f} s"), f"{data} {model}"
    words = " ".join(section.split())
    machine = measured["machine"]
    assert path.name in words and measured["date"] in words and measured["command"] in words
    assert machine["cpu"] in words
    assert f"family {machine['family']}, model {machine['model']}" in words


@pytest.mark.parametrize(("name", "page"), [("ARCHITECTURE.md", "03-architecture"),
                                          ("CHANGELOG.md", "05-changelog")])
def test_the_root_files_are_development_pages_without_a_copy(site, name, page):
    """ARCHITECTURE.md and CHANGELOG.md are included from the root, not copied into docs/:
    the page's source is the include line, and the built page has every heading."""
    assert (ROOT / "docs" / "development" / f"{page}.md").read_text() == f'--8<-- "{name}"\n'
    built = html.unescape(re.sub(r"<[^>]+>", "", (site / "development" / f"{page}.html")
                                 .read_text()))
    headings = re.findall(r"^#+ (.+)$", (ROOT / name).read_text(), re.MULTILINE)
    assert len(headings) > 3
    missing = [heading for heading in headings
               if " ".join(heading.replace("`", "").replace("*", "").split())
               not in " ".join(built.split())]
    assert not missing, f"{page}.html lacks {missing}"


def test_nothing_is_loaded_from_another_host(site):
    """Scripts, styles and pictures come from the site's own folder (links may point out)."""
    loaded = re.compile(r"<(?:script|img|link[^>]*stylesheet)[^>]*(?:src|href)=\"(https?:)?//",
                        re.IGNORECASE)
    offenders = [str(page.relative_to(site)) for page in site.rglob("*.html")
                 if loaded.search(page.read_text())]
    assert not offenders, offenders


def test_an_unknown_generated_part_fails_the_build():
    with pytest.raises(ValueError, match="unknown generated part 'nope'"):
        docs_hook("generated").on_page_markdown("text\n<!-- generated: nope -->\n")


def test_the_sections_come_in_reading_order(site):
    """Lessons before guides before reference (docs/hooks/sections.py), not alphabetical."""
    html = (site / "index.html").read_text()
    shown = re.findall(r'md-nav__item--section.*?<span class="md-ellipsis">\s*(\w+)', html,
                       re.DOTALL)
    assert shown == ["Lessons", "Guides", "Reference", "Results", "Development"]
