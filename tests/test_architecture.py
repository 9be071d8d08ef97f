"""The package's shape, checked: layers import only downward, no import cycles, short functions.

The layers (ARCHITECTURE.md draws them), lowest first. A module may import from its own
layer and the layers below, never from above, whether at the top of the file or inside a
function. Within the data layer, samples < tabular < data: what every data set's samples
share, then tables, then the data sets, which know tables and not the other way round.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
LAYERS = (
    ("torchbasics", "errors", "settings", "files", "allocator", "memory", "cpu", "device",
     "extras", "resources"),
    ("samples", "tabular", "data", "models", "metrics", "plots"),
    ("checkpoint", "training"),
    ("inference", "explain"),
    ("runs",),
    ("cli", "serve", "__main__", "doctor"),
)
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}
DATA_ORDER = ("samples", "tabular", "data")  # layer 1's parts that build on each other
LONGEST_FUNCTION = 60  # lines; longer ones must say why in a comment starting "# Long:"


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The torchbasics modules a file imports (each ``from X import y`` also as ``X.y``)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.split(".")[0] == "torchbasics"}


def part(module: str) -> str:
    """The part of the package a module belongs to: ``torchbasics.data.own`` -> ``data``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer(module: str) -> int:
    return LAYER_OF[part(module)]


def goes_up(module: str, target: str) -> bool:
    """Whether ``module`` importing ``target`` goes up the layers (or up layer 1's
    :data:`DATA_ORDER`)."""
    if layer(target) != layer(module):
        return layer(target) > layer(module)
    here, there = part(module), part(target)
    return (here in DATA_ORDER and there in DATA_ORDER
            and DATA_ORDER.index(there) > DATA_ORDER.index(here))


def test_every_part_of_the_package_has_a_layer():
    assert {module.split(".")[1] for module in modules() if "." in module} <= set(LAYER_OF)


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_go_down_the_layers(module):
    known = modules()
    upward = sorted(target for target in imports(known[module], top_level_only=False)
                    if target in known and goes_up(module, target))
    order = f", {' < '.join(DATA_ORDER)}" if part(module) in DATA_ORDER else ""
    assert not upward, f"{module} (layer {layer(module)}{order}) imports from above: {upward}"


def test_within_the_data_layer_tables_know_nothing_of_the_data_sets():
    """The data sets' registry lists tables; a table never asks which data set it is."""
    assert goes_up("torchbasics.tabular.schema", "torchbasics.data.registry")
    assert goes_up("torchbasics.samples.splits", "torchbasics.tabular.prepare")
    assert not goes_up("torchbasics.data.registry", "torchbasics.tabular.bonus")
    assert not goes_up("torchbasics.tabular.schema", "torchbasics.samples.classes")
    assert not goes_up("torchbasics.models.cnn", "torchbasics.metrics")  # no order there




def test_no_import_cycles_at_module_level():
    known = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        for target in imports(path, top_level_only=True):
            while target and target not in known:  # `from pkg import name` -> pkg
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    visiting, done, cycles = set(), set(), []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append([*trail[trail.index(node):], node])
            return
        visiting.add(node)
        for target in sorted(graph[node]):
            visit(target, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(known):
        visit(module, [])
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_functions_fit_on_a_screen_or_say_why_not():
    long = []
    for module, path in modules().items():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = lines[node.lineno - 1:node.end_lineno]
                if len(body) > LONGEST_FUNCTION and not any("# Long:" in line for line in body):
                    long.append(f"{module}.{node.name} ({len(body)} lines)")
    assert not long, f"functions over {LONGEST_FUNCTION} lines without a '# Long:' reason: {long}"
