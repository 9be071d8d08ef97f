"""The page's Inside view, computed for one picture: its shape per family, and the weights
a click asks for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("captum", reason="the explain extra (captum) is not installed")

from torchbasics.explain import live

NAMES = tuple("abc")
BLACK = torch.zeros(1, 1, 8, 8)


def cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 4, 3),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()


def test_a_cnn_shows_each_convolutions_busiest_maps_and_the_attribution():
    view = live.inside_view(cnn(), torch.rand(1, 1, 8, 8), 2, BLACK, NAMES)
    assert view["family"] == "cnn" and view["attribution"]["class"] == "c"
    assert np.array(view["attribution"]["map"]).shape == (8, 8)
    first, second = view["layers"]
    assert len(first["items"]) == live.MAPS_SHOWN and len(second["items"]) == 4  # all 4
    values = [item["value"] for item in first["items"]]
    assert values == sorted(values, reverse=True)  # the most active first
    assert np.array(second["items"][0]["map"]).shape == (6, 6)


def test_an_mlp_lists_every_unit_most_influential_first():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.Sigmoid(), nn.Linear(10, 3))
    view = live.inside_view(model, torch.rand(1, 1, 8, 8), 0, BLACK, NAMES)
    (layer,) = view["layers"]
    assert layer["kind"] == "units" and layer["activation"] == "sigmoid"
    assert sorted(item["index"] for item in layer["items"]) == list(range(10))


def test_softmax_regressions_maps_add_up_to_each_score_less_its_bias():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
    picture = torch.rand(1, 1, 8, 8)
    items = live.inside_view(model, picture, 1, BLACK, NAMES)["layers"][0]["items"]
    with torch.no_grad():
        scores = (model(picture)[0] - model[1].bias).numpy()
    np.testing.assert_allclose([item["value"] for item in items], scores, rtol=1e-4)
    assert [item["label"] for item in items] == list(NAMES)


def test_weights_of_a_filter_a_unit_and_what_is_not_there():
    model = cnn()
    found = live.weights_of(model, 1, 3, (1, 8, 8))
    np.testing.assert_allclose(found["weights"], model[2].weight[3].mean(dim=0).detach(),
                               atol=1e-4)
    assert "averaged over its 12 input channels" in found["caption"]
    with pytest.raises(IndexError, match="2 convolutions"):
        live.weights_of(model, 2, 0, (1, 8, 8))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU(), nn.Linear(10, 3))
    assert np.array(live.weights_of(mlp, 0, 9, (1, 8, 8))["weights"]).shape == (8, 8)
    with pytest.raises(IndexError, match="10 units"):
        live.weights_of(mlp, 0, 10, (1, 8, 8))


def test_numbers_are_rounded_to_a_few_significant_digits():
    assert live.rounded(np.array([0.000123456, -0.0000111])) == [0.0001235, -0.0000111]
    assert live.rounded(np.zeros((2, 2))) == [[0.0, 0.0], [0.0, 0.0]]
