"""A table model's run: every command's work for a model of rows (see :mod:`.trained`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from torchbasics.errors import TorchbasicsError
from torchbasics.inference.formats import GRAPHS, OPSETS
from torchbasics.runs.trained import (
    ROWS,
    EvaluateRequest,
    ExplainRequest,
    Exported,
    ExportRequest,
    Predicted,
    PredictRequest,
    TrainedRun,
    refuse,
    shown_dataset,
)


class TrainedTable(TrainedRun):
    """A trained :class:`~torchbasics.inference.table.Regressor` or
    :class:`~torchbasics.inference.table.TableClassifier` and its run."""

    kind: ClassVar[str] = "table"
    takes: ClassVar[str] = ROWS

    def predict(self, request: PredictRequest) -> Predicted:
        """Every row of one CSV with its prediction added, or one row from COLUMN=VALUE."""
        if request.show is not None:
            raise refuse("--show is for image classifiers, and this is a table model", self,
                         fix="give ROWS.csv, or --set COLUMN=VALUE")
        if request.inputs and request.values:
            raise TorchbasicsError("a CSV and --set do not go together",
                                   fix="give the rows in a CSV, or one row with --set, not "
                                   "both")
        if len(request.inputs) > 1:
            raise TorchbasicsError(f"{len(request.inputs)} files given; a table model "
                                   "predicts the rows of one CSV", fix="give one CSV file")
        if request.inputs:
            return self.predict_rows(request.inputs[0], as_json=request.json)
        if request.out is not None:
            raise TorchbasicsError("--out is for the rows of a CSV", fix="give ROWS.csv too")
        if not request.values:
            raise TorchbasicsError("nothing to predict", fix="give ROWS.csv, or one row with "
                                   "--set COLUMN=VALUE (repeated); the columns are "
                                   + ", ".join(f.name for f in self.model.schema.features))
        return self.predict_one_row(request.values, as_json=request.json)

    def predict_rows(self, source: Path, *, as_json: bool) -> Predicted:
        """Every row of ``source`` as CSV (or JSON) with the predictions added."""
        from torchbasics.data.listfile import IMAGE_SUFFIXES

        if source.suffix.lower() in IMAGE_SUFFIXES or source.is_dir():
            raise TorchbasicsError("a picture, and this is a table model", where=source,
                                   fix="give a CSV of rows, or one row with --set "
                                   "COLUMN=VALUE")
        result = self.model.predict_csv(source)
        if as_json:
            text = json.dumps([dict(zip(result.names, row, strict=True))
                               for row in result.rows], indent=2) + "\n"
        else:
            text = result.to_csv()
        notes = [f"{result.notes}; filled in as in training"] if result.notes else []
        return Predicted(text, f"{len(result.rows):,} rows with a {self.model.output_column} "
                         "column", notes, as_csv=not as_json)

    def predict_one_row(self, pairs: list[str], *, as_json: bool) -> Predicted:
        """One row from ``COLUMN=VALUE`` pairs; columns left out count as missing."""
        values = {}
        for item in pairs:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise TorchbasicsError(f"'{item}' is not COLUMN=VALUE", where="--set",
                                       fix="e.g. --set age=41 --set region=north")
            values[key.strip()] = value.strip()
        answer = self.model.predict_row(values)
        notes = ([f"{answer['filled_in']}; filled in as in training"]
                 if answer["filled_in"] else [])
        if as_json:
            return Predicted(json.dumps({"target": self.model.target, **answer}, indent=2)
                             + "\n", "1 prediction", notes)
        given = ", ".join(f"{key} {value}" for key, value in values.items())
        shown = (f"{answer['value']:,.2f}" if "value" in answer
                 else f"{answer['class']} ({100 * answer['probability']:.2f} %)")
        return Predicted(f"predicted {self.model.target}: {shown}  ({given})\n",
                         "1 prediction", notes)

    def evaluate(self, request: EvaluateRequest) -> dict[str, Any]:
        """The task's metrics on the test rows, or every row of ``csv`` that has a target."""
        from torchbasics.runs.table_results import evaluate_table

        if request.list_path is not None:
            raise refuse("--list is for image classifiers, and this is a table model", self,
                         fix="evaluate other rows with --csv FILE")
        if request.split != "test":
            raise refuse("a table run is evaluated on its test rows or a CSV", self,
                         fix="leave out --split, or give --csv FILE")
        return evaluate_table(self.run_dir, self.model, request.csv)

    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        from torchbasics.runs.report import percent

        lines = []
        where = f"{self.run_dir} on {result['evaluated_on']} ({result['count']:,} rows)"
        if "mse" in result:  # a number
            r2 = "—" if result["r2"] is None else f"{result['r2']:.4f}"
            lines.append(f"{where}: MSE {result['mse']:,.4f}, RMSE {result['rmse']:,.4f}, "
                         f"MAE {result['mae']:,.4f}, R² {r2}")
        else:  # classes
            lines += [f"{where}: accuracy {percent(result['accuracy'])}, error "
                      f"{percent(result['error'])}, log-loss {result['log_loss']:.4f}\n",
                      result["report"], f"figure: {self.run_dir}/confusion_matrix.png"]
        return lines

    def explain(self, out: Path, request: ExplainRequest) -> dict[str, Any]:
        """The formula or weights, and each column's permutation importance."""
        from torchbasics.runs.explain_table import explain_table

        if request.pictures:
            raise refuse("pictures are for image classifiers; this is a table model", self,
                         fix=f"torchbasics explain {self.run_dir}")
        return explain_table(self.model, out, seed=request.seed, log=request.log)

    @classmethod
    def explanation_lines(cls, result: dict[str, Any]) -> list[str]:
        from torchbasics.runs.explain_table import importance_lines

        return importance_lines(result)

    def export(self, out: Path, request: ExportRequest) -> Exported:
        """One ONNX file taking the table's own values, checked in ONNX Runtime."""
        from torchbasics.inference.table_export import (
            check_table_export,
            export_table,
            refuse_torchscript,
        )

        if request.format != "onnx":
            refuse_torchscript()
        if request.graph != GRAPHS[0]:
            raise TorchbasicsError("--graph network is for image models", where="--graph",
                                   fix="a table model's file always takes the table's values")
        if request.opset not in OPSETS:
            raise TorchbasicsError(f"opset {request.opset} is not offered", where="--opset",
                                   fix=f"use {OPSETS[0]} to {OPSETS[-1]}")
        export_table(self.model, out, request.opset)
        names = ", ".join(feature.name for feature in self.model.schema.features)
        lines = [f"wrote {out}: onnx, inputs {names}; output {self.model.answer_name}",
                 "  OpenCV's DNN module is not tried: it takes no text inputs"]
        return Exported(out, lines, check_table_export(self.model, out),
                        "within {:.1e} of PyTorch's on rows made from the training statistics "
                        "(for a number: in standard deviations of the target)")

    def describe(self) -> dict[str, Any]:
        """The target, the task, and each input column as the page's form needs it."""
        schema = self.model.schema
        # "tabular": the word the API and the page have used for a table model since 0.2.
        return {"kind": "tabular", "dataset": shown_dataset(self.model.dataset),
                "target": schema.target.name, "task": schema.task,
                "classes": list(schema.target.classes),
                "inputs": [input_field(feature) for feature in schema.features]}


def input_field(feature: Any) -> dict[str, Any]:
    """A table model's input column as the page's form and API clients need it: a number
    (with its rule, if declared) or a category (with the values seen in training)."""
    from torchbasics.tabular.schema import CategoricalFeature

    if isinstance(feature, CategoricalFeature):
        return {"key": feature.name, "name": feature.name, "kind": "categorical",
                "levels": list(feature.levels),
                "allowed": f"one of the {len(feature.levels)} values seen in training"}
    rule = feature.rule
    return {"key": (rule.flag if rule is not None and rule.flag else feature.name),
            "name": feature.name, "kind": "numeric",
            "minimum": rule.minimum if rule is not None else None,
            "maximum": rule.maximum if rule is not None else None,
            "integer": bool(rule is not None and rule.integer),
            "allowed": rule.allowed() if rule is not None else "a number",
            "median": feature.median}
