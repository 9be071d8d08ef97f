"""A table model exported to ONNX takes the table's own values and answers as predict does."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import torchbasics
from tests.tabular.tables import mixed_table
from torchbasics.cli import main
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.tables import train_table


def _need_onnxruntime():
    pytest.importorskip("onnx", reason="the export extra is not installed")
    pytest.importorskip("onnxruntime", reason="the export extra is not installed")


@pytest.fixture(scope="module", params=[("price", "linear"), ("expensive", "mlp-relu")],
                ids=["regression", "classification"])
def houses(request, tmp_path_factory):
    """A trained table run with numeric, categorical and missing cells, and its table."""
    target, model = request.param
    folder = tmp_path_factory.mktemp("houses")
    task = "regression" if target == "price" else "classification"
    table = mixed_table(folder / "houses.csv", task=task, missing=0.1)
    train_table(TrainConfig(dataset=str(table), target=target, model=model, epochs=40),
                folder / "run", log=lambda line: None)
    return folder / "run", table


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_file_takes_each_column_raw_and_answers_as_predict(houses, tmp_path):
    _need_onnxruntime()
    import onnxruntime

    run, table = houses
    model = torchbasics.load(run)
    out = tmp_path / "houses.onnx"
    from torchbasics.inference.table_export import export_table

    export_table(model, out)
    rows = _rows(table)[:60]
    rows[0]["region"] = "mars"  # a category never seen in training
    rows[1]["region"] = "NA"  # missing, spelt otherwise
    rows[2]["area"] = ""  # a missing number
    source = tmp_path / "rows.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    expected = model.predict_csv(source)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    inputs = {"area": np.array([[float(r["area"]) if r["area"] else np.nan] for r in rows],
                               np.float32),
              "region": np.array([[r["region"]] for r in rows], dtype=object),
              "rooms": np.array([[float(r["rooms"])] for r in rows], np.float32)}
    assert {i.name for i in session.get_inputs()} == set(inputs)  # id, note: ignored
    (answer,) = session.run(None, inputs)
    column = expected.names.index(model.output_column)
    if model.schema.task == "regression":
        ours = np.array([float(row[column]) for row in expected.rows])
        np.testing.assert_allclose(answer[:, 0], ours, rtol=1e-5)
    else:
        ours = model.probabilities(model.outputs(model.schema.encode(
            torchbasics.inference.table.read_csv(source))))
        np.testing.assert_allclose(answer, ours, atol=1e-5)
        assert [model.schema.target.classes[k] for k in answer.argmax(axis=1)] == [
            row[column] for row in expected.rows]


def test_the_command_writes_and_checks_it_and_refuses_torchscript(houses, tmp_path, capsys):
    _need_onnxruntime()
    run, _ = houses
    out = tmp_path / "model.onnx"
    assert main(["export", str(run), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}: onnx, inputs area, region, rooms")
    difference = float(printed.split("onnxruntime: within ")[1].split()[0])
    assert difference < 1e-4
    assert main(["export", str(run), "--format", "torchscript"]) == 2
    assert "a table model exports to ONNX only" in capsys.readouterr().err
