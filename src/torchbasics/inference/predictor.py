"""A trained image classifier, ready for pictures: preprocessing, model and class names.

    classifier = Classifier.from_checkpoint(load_checkpoint("runs/mnist-cnn/best.pt"))
    result = classifier.predict("photo.jpg")      # or a PIL image, or a numpy array
    result.label, result.class_name, result.probability, result.top
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.inference.preprocess import ImageInput, Preprocessed, Preprocessing

DEFAULT_TOP = 3
BATCH_SIZE = 256  # pictures per forward pass in predict_many


@dataclass(frozen=True)
class Prediction:
    """What the model says about one picture."""

    label: int  # the most probable class index
    class_name: str
    probability: float  # of that class
    probabilities: tuple[float, ...]  # one per class, in label order; they sum to 1
    top: tuple[tuple[int, str, float], ...]  # (label, class name, probability), most likely first
    source: str = ""  # the file it came from, if any
    seen: np.ndarray | None = field(default=None, repr=False, compare=False)  # (H, W) uint8

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (without the pixels)."""
        return {
            "source": self.source, "label": self.label, "class": self.class_name,
            "probability": self.probability,
            "top": [{"label": label, "class": name, "probability": probability}
                    for label, name, probability in self.top],
            "probabilities": list(self.probabilities),
        }


class Classifier:
    """A trained image classifier that takes pictures as they come.

    Args:
        model: the network (its output is logits); used in fp32 eval mode.
        class_names: one name per output, in label order.
        preprocessing: how pictures become model input (see :mod:`.preprocess`).
        dataset: the data set it was trained on (for messages and metadata).
        config: the settings it was trained with (``TrainConfig.to_dict()``), if known.
    """

    kind: ClassVar[str] = "image"  # what :func:`~.loading.load` tells by, once

    def __init__(self, model: nn.Module, class_names: Sequence[str],
                 preprocessing: Preprocessing, dataset: str = "",
                 config: dict[str, Any] | None = None):
        # Training may use bf16 autocast and channels-last; prediction is plain fp32, so
        # results do not depend on the CPU and match the exported models.
        self.model = model.float().to(memory_format=torch.contiguous_format).eval()
        self.class_names = tuple(class_names)
        self.preprocessing = preprocessing
        self.dataset = dataset
        self.config = dict(config or {})

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any], where: str = "") -> Classifier:
        """Rebuild from a checkpoint written by ``torchbasics train``."""
        from torchbasics.checkpoint import CLASSIFIER, model_from_checkpoint

        if checkpoint["kind"] != CLASSIFIER:
            raise TorchbasicsError("not an image classifier checkpoint", where=where or None)
        return cls(model_from_checkpoint(checkpoint, where), checkpoint["class_names"],
                   Preprocessing.for_checkpoint(checkpoint), checkpoint["dataset"],
                   checkpoint["config"])

    def __repr__(self) -> str:
        return (f"Classifier(dataset={self.dataset!r}, classes={len(self.class_names)}, "
                f"pipeline={self.preprocessing.pipeline!r})")

    def preprocess(self, image: ImageInput) -> Preprocessed:
        """The model input for ``image`` and the picture it shows (see :mod:`.preprocess`)."""
        return self.preprocessing(image)

    @torch.no_grad()
    def probabilities(self, inputs: torch.Tensor) -> np.ndarray:
        """Class probabilities ``(N, K)`` for model inputs ``(N, C, H, W)`` (normalized, as
        ``preprocessing.model_input`` makes them)."""
        logits = self.model(inputs.float())  # (N, K)
        return torch.softmax(logits, dim=1).numpy()

    @torch.no_grad()
    def probabilities_of_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Class probabilities ``(N, K)`` for 28x28 pixels ``(N, C, H, W)`` on [0, 1], as
        ``Prediction.seen`` shows them (before deskewing): what exported files take."""
        return self.probabilities(self.preprocessing.model_input(pixels.float()))

    def predict(self, image: ImageInput, top: int = DEFAULT_TOP) -> Prediction:
        """The prediction for one picture: a path, a PIL image or a numpy array.

        Args:
            image: any size and colour; see :func:`~.preprocess.to_gray` for arrays.
            top: how many of the most probable classes to list in ``Prediction.top``.
        """
        return self.predict_many([image], top=top)[0]

    def predict_many(self, images: Iterable[ImageInput], top: int = DEFAULT_TOP,
                     batch_size: int = BATCH_SIZE) -> list[Prediction]:
        """Predictions for many pictures, run through the model in batches.

        Raises:
            TorchbasicsError: a picture cannot be read or is blank (it names the file).
        """
        if top < 1:
            raise TorchbasicsError(f"top must be at least 1, got {top}", where="--top")
        results: list[Prediction] = []
        batch: list[tuple[str, Preprocessed]] = []
        for image in images:
            batch.append((_source(image), self.preprocess(image)))
            if len(batch) == batch_size:
                results += self._predict_batch(batch, top)
                batch = []
        if batch:
            results += self._predict_batch(batch, top)
        return results

    def _predict_batch(self, batch: list[tuple[str, Preprocessed]],
                       top: int) -> list[Prediction]:
        inputs = torch.cat([item.tensor for _, item in batch])  # (N, C, H, W)
        probabilities = self.probabilities(inputs)  # (N, K)
        return [self._prediction(row, top, source, item.seen)
                for row, (source, item) in zip(probabilities, batch, strict=True)]

    def _prediction(self, row: np.ndarray, top: int, source: str,
                    seen: np.ndarray) -> Prediction:
        order = np.argsort(-row, kind="stable")[:top]  # ties: the lower label first
        ranked = tuple((int(k), self.class_names[k], float(row[k])) for k in order)
        label = ranked[0][0]
        return Prediction(label, self.class_names[label], float(row[label]),
                          tuple(float(p) for p in row), ranked, source, seen)


def _source(image: ImageInput) -> str:
    """The file name of ``image`` when it is a path, else ``""``."""
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else ""
