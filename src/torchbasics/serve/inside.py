"""The "Inside" view of a served image model: what its units did for the picture just sent,
and which pixels made its answer (:mod:`torchbasics.explain.live`).

Each served model gets its own copy of its network for this: the view records layer
outputs with forward hooks, and hooks on the network the micro-batcher runs would also
see (and mix in) other clients' pictures. One view is computed at a time per model.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np
import torch

from torchbasics.inference.predictor import Classifier, Prediction


class InsideModel:
    """A served classifier's private network for the Inside view."""

    def __init__(self, classifier: Classifier):
        from torchbasics.explain.attributions import black_baseline
        from torchbasics.explain.inside import network

        self.classifier = classifier
        self.net = copy.deepcopy(network(classifier.model)).float().eval()
        preprocessing = classifier.preprocessing
        self.baseline = black_baseline(preprocessing.model_input, preprocessing.input_shape)
        self._lock = threading.Lock()

    def view(self, prediction: Prediction) -> dict[str, Any]:
        """The Inside view for one prediction, from the picture the model saw."""
        from torchbasics.explain.live import inside_view

        preprocessing = self.classifier.preprocessing
        pixels = preprocessing.pixels(np.asarray(prediction.seen)[None])
        with torch.no_grad():
            inputs = preprocessing.model_input(pixels)
        with self._lock:
            return inside_view(self.net, inputs, prediction.label, self.baseline,
                               self.classifier.class_names)

    def weights(self, layer: int, index: int) -> dict[str, Any]:
        """The weights of one unit, class or filter (see ``explain.live.weights_of``)."""
        from torchbasics.explain.live import weights_of

        with self._lock:
            return weights_of(self.net, layer, index,
                              self.classifier.preprocessing.input_shape)
