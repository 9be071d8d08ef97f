"""Evaluate a trained image classifier on its test split (or the pictures a list file names):
error, per-class report, confusion matrix and the most confident mistakes. Table models are
evaluated in :mod:`.table_results`; :func:`torchbasics.runs.evaluate.evaluate_run` does
either."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from torchbasics.data.image_data import ImageSplit
from torchbasics.data.registry import get_dataset
from torchbasics.data.sources import load_split
from torchbasics.device import resolve_device
from torchbasics.errors import TorchbasicsError
from torchbasics.inference.predictor import Classifier
from torchbasics.metrics import (
    confusion,
    error_rate,
    format_report,
    most_confident_mistakes,
    per_class_report,
)
from torchbasics.runs import rundir
from torchbasics.runs.images import eval_batch_size
from torchbasics.training.loop import predict_probabilities

if TYPE_CHECKING:
    from torchbasics.runs.config import TrainConfig

MISTAKES_SHOWN = 32


def check_compatible(classifier: Classifier, data: ImageSplit, where: str) -> None:
    """Refuse data whose image shape or classes differ from what the model was trained on."""
    if data.image_shape != classifier.preprocessing.input_shape:
        raise TorchbasicsError(
            f"the model expects images of shape {classifier.preprocessing.input_shape}, the "
            f"data has {data.image_shape}", where=where,
        )
    if data.class_names != classifier.class_names:
        raise TorchbasicsError(
            f"the model was trained on {len(classifier.class_names)} classes of "
            f"'{classifier.dataset}', not these {data.num_classes}", where=where,
        )


def evaluate_pictures(run_dir: Path, classifier: Classifier, *, split: str,
                      list_path: str | os.PathLike | None, data_dir: str | os.PathLike | None,
                      checkpoint_name: str, device: str) -> dict[str, Any]:
    """Evaluate ``classifier`` (from ``run_dir/checkpoint_name``) on ``split`` or the
    pictures ``list_path`` names; write its figures and ``evaluation.json``.

    The model runs in fp32, as ``predict`` and exported files run it, even when it was
    trained in bf16. Evaluating the full test split also records ``test_error`` in
    ``summary.json``.

    Returns:
        error, accuracy, count, per-class report (text and dict), and what was evaluated.
    """
    data = evaluation_data(classifier, split, list_path, data_dir)
    check_compatible(classifier, data, str(run_dir / checkpoint_name))

    torch_device = resolve_device(device)
    batches = data.batches(batch_size=eval_batch_size(data.image_shape), device=torch_device,
                           transform=classifier.preprocessing.model_input.batches())
    # In fp32 whatever precision training used: bf16 is a training speed-up, and the
    # figures must be those of the model as `predict` and exported files run it (fp32).
    probabilities, labels = predict_probabilities(classifier.model.to(torch_device), batches,
                                                  device=torch_device, precision="fp32")
    predictions = probabilities.argmax(dim=1)
    error = error_rate(labels, predictions)
    evaluated_on = str(list_path) if list_path is not None else split
    result = {
        "evaluated_on": evaluated_on,
        "checkpoint": checkpoint_name,
        "count": len(labels),
        "error": error,
        "accuracy": 1.0 - error,
        "per_class": per_class_report(labels, predictions, data.class_names),
        "report": format_report(labels, predictions, data.class_names),
    }
    _write_figures(run_dir, data, probabilities, labels, predictions, evaluated_on)
    rundir.write_json(run_dir / "evaluation.json", result)
    if split == "test" and list_path is None and (run_dir / "summary.json").is_file():
        summary = rundir.read_json(run_dir / "summary.json")
        rundir.write_json(run_dir / "summary.json", summary | {"test_error": error})
        from torchbasics.runs.report import write_report

        write_report(run_dir)
    return result


def evaluation_data(classifier: Classifier, split: str, list_path: str | os.PathLike | None,
                    data_dir: str | os.PathLike | None) -> ImageSplit:
    """What a classifier is evaluated on: a split of its data set, or the pictures a list
    names; for the user's own pictures, read through the picture cache as in training."""
    from torchbasics.runs.config import TrainConfig
    from torchbasics.runs.images import own_lists, picture_options

    config = TrainConfig.from_dict(classifier.config)
    spec = get_dataset(classifier.dataset)
    if spec.own:
        from torchbasics.data.folder import index_lists
        from torchbasics.data.pictures import index_of, test_split

        if list_path is not None:
            index = index_lists({"test": str(list_path)}, classes=classifier.class_names)
        elif split == "test":
            index = index_of(spec, own_lists(config))
        else:
            raise TorchbasicsError("a run on your own pictures is evaluated on its test "
                                   "split or a list", where="--split",
                                   fix="leave out --split, or give --list FILE")
        return test_split(index, picture_options(config), progress=sys.stderr.isatty(),
                          log=lambda line: print(line, file=sys.stderr))  # stdout: results
    data = load_split(classifier.dataset, split, data_dir or classifier.config["data_dir"])
    if list_path is not None:
        from torchbasics.data.image_files import load_list

        check_list_split(list_path, split, config)
        data = load_list(list_path, data)
    return data


def check_list_split(list_path: str | os.PathLike, split: str, config: TrainConfig) -> None:
    """Refuse the run's own training or validation list read as test-split IDs: its IDs
    name training images, and the same numbers in the test split are other pictures (on a
    data set whose splits have the same size, silently)."""
    if split != "test":
        return
    for name in ("train_list", "val_list"):
        own = getattr(config, name)
        if own is not None and Path(own).resolve() == Path(list_path).resolve():
            raise TorchbasicsError(
                f"this is the run's --{name.replace('_', '-')} file, whose IDs are in the "
                "training split", where=str(list_path), fix="add --split train")


def _write_figures(
    run_dir: Path, data: ImageSplit, probabilities: torch.Tensor, labels: torch.Tensor,
    predictions: torch.Tensor, evaluated_on: str,
) -> None:
    """confusion_matrix.png and mistakes.png (the most confidently wrong images)."""
    from torchbasics.plots import confusion_matrix_figure, image_grid, save_figure

    matrix = confusion(labels, predictions, data.num_classes)
    save_figure(confusion_matrix_figure(matrix, data.class_names,
                                        title=f"Confusion matrix ({evaluated_on})"),
                run_dir / "confusion_matrix.png")
    wrong = most_confident_mistakes(probabilities, labels, MISTAKES_SHOWN)
    if len(wrong):
        figure = image_grid(data.take(wrong), labels[wrong].tolist(), data.class_names,
                            predictions=predictions[wrong].tolist(),
                            title="Most confidently wrong (true → predicted)")
        save_figure(figure, run_dir / "mistakes.png")
