"""The documentation site: it builds with ``mkdocs build --strict`` (no warning, no broken
link), its generated parts cover every command and setting, and it loads nothing from
another host (it must work from a folder, offline)."""

from __future__ import annotations

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
