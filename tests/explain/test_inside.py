"""What a model holds, read from its weights and hooks: every figure's numbers checked against
what the model computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from torchbasics.explain import inside
from torchbasics.models.mirror import MirrorAveraged


def softmax_regression(classes: int = 4, shape=(1, 6, 6)) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(shape)), classes))


def mlp(activation: nn.Module, units: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, units), activation, nn.Linear(units, 3))


def test_the_contributions_of_a_picture_add_up_to_each_class_score_less_its_bias():
    model = softmax_regression()
    pictures = torch.randn(5, 1, 6, 6)
    parts = inside.contributions(model, pictures)  # (5, 4, 6, 6)
    with torch.no_grad():
        scores = model(pictures).double().numpy()
    np.testing.assert_allclose(parts.sum(axis=(2, 3)) + model[1].bias.detach().numpy(),
                               scores, rtol=1e-5, atol=1e-5)
    assert inside.templates(model, (1, 6, 6)).shape == (4, 1, 6, 6)
    assert inside.family(model) == "linear"


def test_a_relu_unit_that_is_never_active_is_dead_and_a_sigmoid_pinned_at_one_is_saturated():
    relu = mlp(nn.ReLU())
    with torch.no_grad():
        relu[1].bias[3] = -1e3  # unit 3 never passes anything
    pictures = torch.randn(200, 1, 6, 6)
    health = inside.unit_health(relu, pictures)
    assert health.activation == "relu" and health.dead.tolist() == [i == 3 for i in range(8)]
    assert health.order()[-1] == 3  # a dead unit has no influence
    sigmoid = mlp(nn.Sigmoid())
    with torch.no_grad():
        sigmoid[1].bias[5] = 1e3
    health = inside.unit_health(sigmoid, pictures)
    assert health.activation == "sigmoid" and health.saturated.tolist() == [i == 5
                                                                            for i in range(8)]
    assert not health.dead.any()


def test_the_hidden_representation_is_what_the_output_layer_reads():
    model = mlp(nn.ReLU())
    pictures = torch.randn(7, 1, 6, 6)
    with torch.no_grad():
        expected = model[2](model[1](model[0](pictures)))
    np.testing.assert_allclose(inside.hidden_representation(model, pictures), expected.numpy(),
                               rtol=1e-6)
    assert inside.unit_activations(model, pictures).shape == (7, 8)


def test_a_convnet_shows_its_first_filters_and_every_convolutions_maps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3),
                          nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3))
    maps = inside.feature_maps(model, torch.randn(2, 1, 6, 6))
    assert [m.shape for m in maps] == [(2, 4, 6, 6), (2, 6, 4, 4)]
    assert inside.filters(model).shape == (4, 1, 3, 3)
    assert inside.family(model) == "cnn"


@pytest.mark.parametrize("wrapped", [False, True])
def test_a_mirror_averaged_model_is_explained_through_its_network(wrapped):
    model = mlp(nn.ReLU())
    outer = MirrorAveraged(model) if wrapped else model
    assert inside.network(outer) is model
    assert inside.family(outer) == "mlp"
