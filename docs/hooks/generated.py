"""MkDocs hook: the pages' generated parts, made from the code and the benchmarks' JSON.

A page asks for a part with a marker on a line of its own, ``<!-- generated: NAME -->``;
the build replaces it with the part (see :data:`PARTS`). Nothing the code or a benchmark
produces is copied into a page by hand, so a page cannot disagree with either: the
command-line reference is read from the argparse parser itself, the settings from their
declarations, the results from the JSON files committed in ``benchmarks/`` (see
:data:`RESULTS`).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)


def commands(parser: argparse.ArgumentParser,
             prefix: str = "torchbasics") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command and subcommand's full name and parser, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                sub = sub.ready()  # the commands add their flags when first used
                yield f"{prefix} {name}", sub
                yield from commands(sub, f"{prefix} {name}")


def flag_rows(parser: argparse.ArgumentParser) -> list[str]:
    """The table rows of a parser's arguments: flags (or name), value, help as ``--help``
    prints it."""
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = ", ".join(f"`{name}`" for name in action.option_strings) or f"`{action.dest}`"
        value = formatter._format_args(action, action.dest.upper()) if action.nargs != 0 else ""
        text = formatter._expand_help(action) if action.help else ""
        shown = f"<code>{_html_cell(value)}</code>" if value else ""
        rows.append(f"| {names} | {shown} | {_cell(text)} |")
    return rows


def cli_reference() -> str:
    """A section per command: what it does, its usage and a table of its arguments."""
    from torchbasics.cli import build_parser

    parts = []
    for name, parser in commands(build_parser()):
        usage = " ".join(parser.format_usage().split())
        parts += [f"## `{name}`", "", parser.description or "", "", "```text", usage, "```",
                  ""]
        rows = flag_rows(parser)
        if rows:
            parts += ["| argument | value | what it does |", "|---|---|---|", *rows, ""]
    return "\n".join(parts)


def settings_reference() -> str:
    """The training settings and the model settings, from their declarations."""
    from torchbasics.cli.flags import help_text, model_setting_help
    from torchbasics.models import MODEL_SETTINGS
    from torchbasics.runs.config import SETTINGS
    from torchbasics.settings import flag_name

    rows = ["| setting | flag | what it is (default; range; where) |", "|---|---|---|"]
    rows += [f"| `{name}` | `{flag_name(name)}` | {_cell(help_text(name, declared))} |"
             for name, declared in SETTINGS.items() if declared.flag]
    models = ["| setting | flag | what it is (each model's default; range) |", "|---|---|---|"]
    models += [f"| `{name}` | `{flag_name(name)}` | {_cell(model_setting_help(name, declared))} |"
               for name, declared in MODEL_SETTINGS.items()]
    return "\n".join([*rows, "", "### Model settings", "", *models])


def tune_space() -> str:
    """What ``torchbasics tune`` searches by default, from the settings' declarations."""
    from torchbasics.models import MODEL_SETTINGS, get_model_entry, list_models
    from torchbasics.runs.config import SETTINGS
    from torchbasics.settings import SCOPE_WORDS, flag_name

    rows = ["| setting | searched | for |", "|---|---|---|"]
    for name, declared in SETTINGS.items():
        if declared.search is not None:
            scope = SCOPE_WORDS.get(declared.applies_to, "every data set")
            rows.append(f"| `{flag_name(name)}` | {_cell(declared.search.describe())} | "
                        f"{scope} |")
    for name, declared in MODEL_SETTINGS.items():
        if declared.search is not None:
            models = [m for m in list_models() if name in get_model_entry(m).settings()]
            rows.append(f"| `{flag_name(name)}` | {_cell(declared.search.describe())} | "
                        f"{', '.join(f'`{m}`' for m in models)} |")
    return "\n".join(rows)


# A results part: the benchmark module that prints it, the name of its results files
# (``benchmarks/results-NAME-DATE.json``, the newest taken), and which of the file's tables
# (a measurement's ``table``; None: every measurement).
RESULTS: dict[str, tuple[str, str, str | None]] = {
    "accuracy-results": ("accuracy", "accuracy", None),
    "records-fashion-results": ("records", "records", "fashion"),
    "records-mnist-results": ("records", "records", "mnist"),
    "speed-results": ("speed", "speed", None),
    "startup-results": ("startup", "startup", None),
    "serve-results": ("serve", "serve", None),
    "own-data-results": ("own_defaults", "own-defaults", None),
    "tune-results": ("tune", "tune", None),
}


def benchmark_results(module: str, name: str, table: str | None = None) -> str:
    """A benchmark's table(s) from its newest committed JSON, printed by the benchmark's own
    ``print_results`` (each names the machine, the date and the command), and the file."""
    import contextlib
    import importlib
    import io
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import _results

        printer = importlib.import_module(module).print_results
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    path = _results.newest(name)
    results = json.loads(path.read_text())
    if table is not None:
        results["measurements"] = [measured for measured in results["measurements"]
                                   if measured.get("table") == table]
        if not results["measurements"]:
            raise ValueError(f"{path.relative_to(ROOT)}: no measurement of table '{table}'")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        printer(results)
    return f"{printed.getvalue().strip()}\n\nMade from `{path.relative_to(ROOT)}`."


def quick_start() -> str:
    """The README's two quick-start commands (the ones `.ci/run` reads), as a code block."""
    lines = re.findall(r"^    (bash scripts/setup\.sh .*&& .*)$", (ROOT / "README.md").read_text(),
                       re.MULTILINE)[:2]
    if len(lines) != 2:
        raise ValueError("README.md: the two quick-start commands were not found")
    return "\n".join(["```bash", *lines, "```"])


PARTS: dict[str, Callable[[], str]] = {
    "quick-start": quick_start,
    "cli-reference": cli_reference,
    "settings-reference": settings_reference,
    "tune-space": tune_space,
    "formats": lambda: formats_reference(),  # defined below
    **{part: functools.partial(benchmark_results, *where) for part, where in RESULTS.items()},
}


def _html_cell(text: str) -> str:
    """Text for a table cell written as HTML (a ``|`` inside backticks would split it)."""
    import html

    return html.escape(" ".join(text.split())).replace("|", "&#124;")


def _cell(text: str) -> str:
    """Text that stays in one table cell."""
    return " ".join(text.replace("%%", "%").replace("|", "\\|").split())


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs' hook: every marker replaced by its part; an unknown one fails the build."""
    def part(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PARTS:
            raise ValueError(f"unknown generated part '{name}' (known: {', '.join(PARTS)})")
        return PARTS[name]()

    return MARKER.sub(part, markdown)


def _type_name(kind: type | tuple[type, ...]) -> str:
    """``int``, ``int or float``, ``torch.Tensor``: a declared field type as a reader says it."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(f"`{'torch.' if k.__module__.startswith('torch') else ''}{k.__name__}`"
                       for k in kinds)


def _described(docstring: str) -> dict[tuple[str, ...], str]:
    """The names a module docstring lists on lines of their own (``    name[, name]   what``,
    further lines indented deeper): each group of names -> its description."""
    found: dict[tuple[str, ...], str] = {}
    names: tuple[str, ...] = ()
    for line in docstring.splitlines():
        entry = re.match(r"^    (\S+(?:, \S+)*)(?:\s{2,}(\S.*))?$", line)
        if entry:
            names = tuple(entry.group(1).split(", "))
            found[names] = entry.group(2) or ""
        elif names and re.match(r"^\s{6,}\S", line):
            found[names] = f"{found[names]} {line.strip()}".strip()
        else:
            names = ()
    return found


def _names(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _checkpoint_fields() -> str:
    """The checkpoint format: its version and every field each kind of checkpoint holds
    (``checkpoint.FIELDS``, ``KIND_FIELDS``; ``last.pt``'s ``runs.images.RESUME_FIELDS``)."""
    from torchbasics import checkpoint
    from torchbasics.runs.images import PARTIAL_FIELDS, RESUME_FIELDS

    declared: dict[str, type | tuple[type, ...]] = {"format": str, "format_version": int,
                                                    **checkpoint.FIELDS}
    said = {names: text for names, text in _described(checkpoint.__doc__ or "").items()
            if set(names) <= set(declared)}
    said |= {(name,): "" for name in declared if not any(name in names for names in said)}
    rows = [f"Format `\"{checkpoint.FORMAT}\"`, version **{checkpoint.FORMAT_VERSION}** "
            f"(`checkpoint.FORMAT_VERSION`).", "",
            "| field | type | in | what it is |", "|---|---|---|---|"]
    rows += [f"| {_names(names)} | {' / '.join(_type_name(declared[n]) for n in names)} | "
             f"every checkpoint | {_cell(text)} |" for names, text in said.items()]
    rows += [f"| `{name}` | {_type_name(kind)} | a `\"{kind_name}\"` checkpoint | |"
             for kind_name, fields in checkpoint.KIND_FIELDS.items()
             for name, kind in fields.items()]
    rows += [f"| `{name}` | {_type_name(kind)} | `last.pt` of a picture run | |"
             for name, kind in RESUME_FIELDS.items()]
    rows += ["| `partial_epoch` | `dict` or `None` | `last.pt` of a picture run | the epoch a "
             f"stop interrupted: {_names(list(PARTIAL_FIELDS))} |"]
    return "\n".join(rows)


def _run_files() -> str:
    """The run directory's files (``runs.rundir.RUN_FILES``, described in its docstring) and
    the columns of ``metrics.csv`` (``METRIC_COLUMNS``, from ``EpochRecord``)."""
    import dataclasses

    from torchbasics.runs import rundir
    from torchbasics.training.loop import EpochRecord

    said = _described(rundir.__doc__ or "")
    missing = [name for name in rundir.RUN_FILES if not any(name in names for names in said)]
    if missing:
        raise ValueError(f"runs/rundir.py's docstring does not describe {', '.join(missing)}")
    files = ["| file | what it holds |", "|---|---|"]
    files += [f"| {_names(names)} | {_cell(text)} |" for names, text in said.items()]
    files += [f"| `{rundir.LR_CURVE}`, `{rundir.LR_DATA}` | the learning-rate range test's "
              "curve and data (`--lr auto`, or `torchbasics lr-find`) |"]
    types = {field.name: str(field.type).replace(" | ", " or ")
             for field in dataclasses.fields(EpochRecord)}
    columns = ["| column | type | |", "|---|---|---|"]
    columns += [f"| `{name}` | `{types[name]}` | "
                + (f"added since 0.2.0: a file without it reads as {rundir.ADDED_COLUMNS[name]}"
                   if name in rundir.ADDED_COLUMNS else "") + " |"
                for name in rundir.METRIC_COLUMNS]
    return "\n".join([*files, "", "### The columns of `metrics.csv`", "",
                      "One row per epoch, the columns in this order:", "", *columns])


def formats_reference() -> str:
    """The file formats: a checkpoint's fields, a run directory's files, metrics.csv's columns."""
    return "\n".join(["## The checkpoint's fields", "", _checkpoint_fields(), "",
                      "## The run directory's files", "", _run_files()])

