"""An image classifier's run: every command's work for a model of pictures (see
:mod:`.trained`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from torchbasics.errors import TorchbasicsError
from torchbasics.runs.trained import (
    PICTURES,
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


class TrainedImages(TrainedRun):
    """A trained :class:`~torchbasics.inference.predictor.Classifier` and its run."""

    kind: ClassVar[str] = "image"
    takes: ClassVar[str] = PICTURES

    def predict(self, request: PredictRequest) -> Predicted:
        """The class of each picture (a folder stands for the pictures in it): one line
        each, JSON, or a CSV (for a folder, or when written to a file)."""
        if request.values:
            raise refuse("--set is for a table model, and this is an image classifier", self,
                         fix="give image files or folders: torchbasics predict RUN IMAGE...")
        if not request.inputs:
            raise TorchbasicsError("no images to predict", fix="give image files or folders "
                                   "after the run directory")
        if request.top < 1:
            raise TorchbasicsError(f"must be at least 1, got {request.top}", where="--top")
        files = image_files(request.inputs)
        top = min(request.top, len(self.model.class_names))
        predictions = self.model.predict_many(files, top=top)
        as_csv = not request.json and (request.out is not None
                                       or any(path.is_dir() for path in request.inputs))
        if request.json:
            text = json.dumps([p.to_dict() for p in predictions], indent=2) + "\n"
        elif as_csv:
            text = predictions_csv(predictions, top)
        else:
            text = "".join(prediction_line(p) + "\n" for p in predictions)
        figure = None
        if request.show is not None:
            def figure() -> None:
                save_show(request.show, files, predictions,
                          deskewed=self.model.preprocessing.deskew)
        return Predicted(text, f"{len(predictions):,} predictions", as_csv=as_csv,
                         figure=figure)

    def evaluate(self, request: EvaluateRequest) -> dict[str, Any]:
        """The error and per-class report on the test split (or ``split``, or the
        pictures of a list file); ``confusion_matrix.png``, ``mistakes.png``."""
        from torchbasics.runs.evaluate_pictures import evaluate_pictures

        if request.csv is not None:
            raise refuse("--csv is for table models, and this is an image classifier", self,
                         fix="evaluate pictures with --list FILE")
        return evaluate_pictures(self.run_dir, self.model, split=request.split,
                                 list_path=request.list_path, data_dir=request.data_dir,
                                 checkpoint_name=self.checkpoint_name, device=request.device)

    def evaluation_lines(self, result: dict[str, Any]) -> list[str]:
        from torchbasics.runs.report import percent

        return [f"{self.checkpoint} on {result['evaluated_on']} ({result['count']:,} images): "
                f"error {percent(result['error'])}, accuracy {percent(result['accuracy'])}\n",
                result["report"],
                f"figures: {self.run_dir}/confusion_matrix.png, {self.run_dir}/mistakes.png"]

    def explain(self, out: Path, request: ExplainRequest) -> dict[str, Any]:
        """What the network holds, attribution maps checked, the hidden representation."""
        from torchbasics.runs.explain_pictures import explain_pictures

        return explain_pictures(self.model, request.pictures, out, checked=request.checked,
                                steps=request.steps, seed=request.seed, log=request.log)

    @classmethod
    def explanation_lines(cls, result: dict[str, Any]) -> list[str]:
        from torchbasics.runs.explain_pictures import check_lines

        return check_lines(result)

    def export(self, out: Path, request: ExportRequest) -> Exported:
        """Pixels in, probabilities out (ONNX or TorchScript), checked on random pixels."""
        import torch

        from torchbasics.inference.export import check_export, export

        export(self.model, out, request.format, graph=request.graph, opset=request.opset)
        pixels = torch.rand((8, *self.model.preprocessing.input_shape),
                            generator=torch.Generator().manual_seed(0))  # (8, C, H, W)
        differences = check_export(self.model, out, request.format, pixels, request.graph)
        return Exported(out, [f"wrote {out}: {request.format} ({request.graph} graph), "
                              f"{len(self.model.class_names)} classes"],
                        differences, "probabilities within {:.1e} of PyTorch's on random "
                        "pixels")

    def describe(self) -> dict[str, Any]:
        """The classes, and how the page should prepare a drawing or a photo."""
        preprocessing = self.model.preprocessing
        return {"kind": self.kind, "dataset": shown_dataset(self.model.dataset),
                "classes": list(self.model.class_names),
                "deskew": bool(preprocessing.deskew),
                "digits": self.model.dataset == "mnist",
                "photo": preprocessing.pipeline == "photo",
                "resize": preprocessing.resize,
                "input_shape": list(preprocessing.input_shape)}


def image_files(arguments: list[Path]) -> list[Path]:
    """The files named, with each folder replaced by the image files under it (sorted)."""
    from torchbasics.data.listfile import IMAGE_SUFFIXES

    files: list[Path] = []
    for argument in arguments:
        if not argument.is_dir():
            files.append(argument)  # a missing or unreadable file is reported when read
            continue
        found = sorted(p for p in argument.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise TorchbasicsError("no image files in this folder", where=argument,
                                   fix=f"it should hold {', '.join(IMAGE_SUFFIXES)} files")
        files += found
    return files


def prediction_line(prediction: Any) -> str:
    """One line: the file, its class and probability, and the runners-up."""
    ranked = ", ".join(f"{name} {100 * p:.2f} %" for _, name, p in prediction.top)
    return (f"{prediction.source}: {prediction.class_name} "
            f"({100 * prediction.probability:.2f} %)  top {len(prediction.top)}: {ranked}")


def predictions_csv(predictions: list[Any], top: int) -> str:
    """CSV: path, label, class, probability, then label/class/probability of ranks 2..top."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["path", "label", "class", "probability"]
    for rank in range(2, top + 1):
        header += [f"top{rank}_label", f"top{rank}_class", f"top{rank}_probability"]
    writer.writerow(header)
    for prediction in predictions:
        row = [prediction.source, prediction.label, prediction.class_name,
               f"{prediction.probability:.6f}"]
        for label, name, probability in prediction.top[1:]:
            row += [label, name, f"{probability:.6f}"]
        writer.writerow(row)
    return buffer.getvalue()


def save_show(out: Path, files: list[Path], predictions: list[Any], *,
              deskewed: bool = False) -> None:
    """Save the pictures beside what the model saw (see :mod:`torchbasics.inference.show`)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    import numpy as np

    from torchbasics.data.decode import open_picture
    from torchbasics.inference.show import MAX_ROWS, prediction_figure
    from torchbasics.plots import save_figure

    pictures = [np.asarray(open_picture(f).convert("RGB")) for f in files[:MAX_ROWS]]
    figure = prediction_figure(pictures, predictions, deskewed=deskewed)
    save_figure(figure, out)
    plt.close(figure)
