"""The package's shape, checked: layers import only downward, no import cycles, short functions.

The layers (ARCHITECTURE.md draws them), lowest first. A module may import from its own
layer and the layers below, never from above, whether at the top of the file or inside a
function. Within the data layer, samples < tabular < data: what every data set's samples
share, then tables, then the data sets, which know tables and not the other way round.

An import inside a function is an import all the same: it hides a cycle from the
interpreter's start-up, not from the design, so the cycle test reads those too. Only
``if TYPE_CHECKING:`` imports are left out, since they never run.
"""

from __future__ import annotations

import ast
import itertools
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
    ("tune",),
    ("cli", "serve", "__main__", "doctor"),
)
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}
DATA_ORDER = ("samples", "tabular", "data")  # layer 1's parts that build on each other
LONGEST_FUNCTION = 60  # lines; longer ones must say why in a comment starting "# Long:"


def modules(source: Path = SOURCE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``source``."""
    found = {}
    for path in source.rglob("*.py"):
        parts = path.relative_to(source).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, *, skip_type_checking: bool = False) -> dict[str, int]:
    """The torchbasics modules a file imports, wherever in it (each ``from X import y`` also
    as ``X.y``), each with the line of its first import; ``skip_type_checking`` leaves out
    those under ``if TYPE_CHECKING:``, which never run."""
    found: dict[str, int] = {}
    for node in _nodes(ast.parse(path.read_text()), skip_type_checking):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "torchbasics":
                found[name] = min(found.get(name, node.lineno), node.lineno)
    return found


def _nodes(tree: ast.AST, skip_type_checking: bool) -> list[ast.AST]:
    """Every node under ``tree``; without the bodies of ``if TYPE_CHECKING:`` if asked."""
    found = []
    for node in ast.iter_child_nodes(tree):
        # The `else:` of an `if TYPE_CHECKING:` is what does run.
        kept = node.orelse if skip_type_checking and _is_type_checking(node) else [node]
        for child in kept:
            found += [child, *_nodes(child, skip_type_checking)]
    return found


def _is_type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``if typing.TYPE_CHECKING:``)."""
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


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
    upward = sorted(target for target in imports(known[module])
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


def import_graph(known: dict[str, Path], source: Path = SOURCE) -> dict[str, dict[str, str]]:
    """Module -> the modules it imports (anywhere but under ``if TYPE_CHECKING:``), each
    with where it first does: ``path/to/file.py:line``."""
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for module, path in known.items():
        lines: dict[str, int] = {}
        for target, line in imports(path, skip_type_checking=True).items():
            while target and target not in known:  # `from pkg import name` -> pkg
                target = target.rpartition(".")[0]
            if target and target != module:
                lines[target] = min(lines.get(target, line), line)
        graph[module] = {target: f"{path.relative_to(source)}:{line}"
                         for target, line in lines.items()}
    return graph


def find_cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Cycles found by a depth-first walk, each as its modules with the first one again at
    the end (at least one per strongly connected group of modules)."""
    visiting, done, cycles = set(), set(), []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append([*trail[trail.index(node):], node])
            return
        visiting.add(node)
        for target in sorted(graph.get(node, {})):
            visit(target, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for module in sorted(graph):
        visit(module, [])
    return cycles


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    """One line per import of a cycle: ``a imports b (a.py:12)``."""
    return "\n".join(f"    {module} imports {target} ({graph[module][target]})"
                     for module, target in itertools.pairwise(cycle))


def test_no_import_cycles():
    graph = import_graph(modules())
    cycles = find_cycles(graph)
    listed = "\n".join(f"  cycle {number}:\n{describe_cycle(cycle, graph)}"
                       for number, cycle in enumerate(cycles, 1))
    assert not cycles, (f"{len(cycles)} import cycle(s), imports inside functions counted "
                        f"(a module imported for its names belongs below both):\n{listed}")


def test_a_cycle_through_a_function_is_found_and_described(tmp_path):
    """What the test above relies on, on a package of three modules: a cycle closed by an
    import inside a function is found, one closed only under ``TYPE_CHECKING`` is not."""
    package = tmp_path / "torchbasics"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from torchbasics import b\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                                  "    from torchbasics import c\n\n\n"
                                  "def f():\n    from torchbasics.a import name\n")
    (package / "c.py").write_text("import torchbasics.b\n")
    graph = import_graph(modules(tmp_path), tmp_path)
    cycles = find_cycles(graph)
    assert cycles == [["torchbasics.a", "torchbasics.b", "torchbasics.a"]]
    assert describe_cycle(cycles[0], graph) == (
        "    torchbasics.a imports torchbasics.b (torchbasics/a.py:1)\n"
        "    torchbasics.b imports torchbasics.a (torchbasics/b.py:8)")


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
