"""One interface per kind of model: commands call a ``TrainedRun`` and never ask which kind.

Image or table is decided at two edges only: when training (by the data set) and when a
trained run is opened (``runs/kinds.py::open_run``, by the checkpoint). The kinds' own
modules implement the interface; everything else must not branch on the kind again, which
is what the scan below checks.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from torchbasics.runs.kinds import KINDS, open_run
from torchbasics.runs.trained import TrainedRun

SOURCE = Path(__file__).resolve().parents[1] / "src" / "torchbasics"
MODEL_CLASSES = {"Classifier", "TableModel", "Regressor", "TableClassifier",
                 "TrainedImages", "TrainedTable", "TrainedRun"}
KIND_WORDS = {"image", "table", "tabular"}
# What uses a trained model: the commands after training, the server, the inference and
# explanation layers. (Training decides by the data set's kind, at the other edge.)
AFTER_TRAINING = ["cli/predict.py", "cli/evaluate.py", "cli/explain.py", "cli/export.py",
                  "cli/serve.py", "serve/*.py", "inference/*.py", "explain/*.py",
                  "runs/evaluate*.py", "runs/explain*.py", "runs/table_results.py",
                  "runs/report.py", "runs/trained*.py"]
# Where the kinds are defined and picked: the edge and the kinds' own implementations.
ALLOWED = {"runs/trained.py", "runs/trained_images.py", "runs/trained_table.py",
           "inference/loading.py", "inference/predictor.py", "inference/table.py"}


def kind_branches(tree: ast.AST) -> list[int]:
    """Lines that ask which kind of model something is: ``isinstance`` with a model class,
    or a comparison with a ``kind`` or with the word of a kind."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance" and len(node.args) == 2):
            classes = node.args[1].elts if isinstance(node.args[1], ast.Tuple) else [node.args[1]]
            if any(isinstance(c, (ast.Name, ast.Attribute))
                   and (c.id if isinstance(c, ast.Name) else c.attr) in MODEL_CLASSES
                   for c in classes):
                found.append(node.lineno)
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(asks_kind(side) for side in sides):
                found.append(node.lineno)
    return found


def asks_kind(node: ast.AST) -> bool:
    """``x.kind``, ``x["kind"]``, ``x.get("kind")`` or a kind's word as a string."""
    if isinstance(node, ast.Attribute) and node.attr == "kind":
        return True
    if isinstance(node, ast.Constant) and node.value in KIND_WORDS:
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value == "kind"
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get" and bool(node.args)
            and isinstance(node.args[0], ast.Constant) and node.args[0].value == "kind")


def test_the_scan_finds_a_branch_on_the_kind():
    """The scan itself: each way of asking is caught, other code is not."""
    asked = ("isinstance(model, Classifier)\nisinstance(m, (int, inference.TableModel))\n"
             "served.kind == TABULAR\nresult['kind'] != 'image'\n"
             "result.get('kind') == 'table'\nmode == 'tabular'\n")
    assert kind_branches(ast.parse(asked)) == [1, 2, 3, 4, 5, 6]
    assert kind_branches(ast.parse("isinstance(x, int)\nlayer.kind\na == b\n")) == []


def scanned() -> list[Path]:
    """The modules that use a trained model, less those that define the kinds."""
    paths = {path for pattern in AFTER_TRAINING for path in SOURCE.glob(pattern)}
    return sorted(p for p in paths if p.relative_to(SOURCE).as_posix() not in ALLOWED)


@pytest.mark.parametrize("path", scanned(), ids=lambda p: p.relative_to(SOURCE).as_posix())
def test_no_command_branches_on_the_kind_of_model(path):
    lines = kind_branches(ast.parse(path.read_text()))
    assert not lines, (f"{path.relative_to(SOURCE)} asks which kind of model it has on lines "
                       f"{lines}: give TrainedRun (runs/trained.py) a method instead")


def test_every_kind_a_checkpoint_holds_has_a_trained_run():
    from torchbasics.inference.predictor import Classifier
    from torchbasics.inference.table import TableModel

    assert {Classifier.kind, TableModel.kind} == set(KINDS)
    for kind, implementation in KINDS.items():
        assert issubclass(implementation, TrainedRun) and implementation.kind == kind
        assert not inspect.isabstract(implementation), f"{kind} leaves a method undone"


@pytest.mark.slow
def test_a_run_opens_as_its_kind_by_directory_or_file(tmp_path):
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.train import train

    train(TrainConfig(dataset="bonus", epochs=2), tmp_path / "bonus", log=lambda line: None)
    by_folder = open_run(tmp_path / "bonus")
    by_file = open_run(tmp_path / "bonus" / "last.pt")
    assert by_folder.kind == by_file.kind == "table"
    assert by_folder.checkpoint == by_file.checkpoint == tmp_path / "bonus" / "last.pt"
    assert by_file.run_dir == tmp_path / "bonus"
    assert open_run(tmp_path / "bonus", "last").checkpoint_name == "last.pt"


def test_a_checkpoint_that_is_not_there_is_named(tmp_path):
    from torchbasics.errors import TorchbasicsError

    (tmp_path / "last.pt").write_bytes(b"")
    with pytest.raises(TorchbasicsError, match="checkpoint not found") as caught:
        open_run(tmp_path, "best")
    assert "last.pt" in str(caught.value)
    with pytest.raises(TorchbasicsError, match="no checkpoint called 'worst'"):
        open_run(tmp_path, "worst")
    with pytest.raises(TorchbasicsError, match="do not go together"):
        open_run(tmp_path / "last.pt", "best")
