"""The attribution methods on models whose answer is known: an exact oracle for a linear
model, completeness for a nonlinear one, and each map's shape and sign."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("captum", reason="the explain extra (captum) is not installed")

from torchbasics.explain import attributions, checks, inside


def convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 3)).eval()


def test_integrated_gradients_of_softmax_regression_is_its_weights_times_the_picture():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    pictures = torch.randn(6, 1, 8, 8)
    targets = torch.tensor([0, 3, 9, 2, 2, 7])
    found = attributions.integrated_gradients(model, pictures, targets, torch.zeros(1, 1, 8, 8))
    exact = inside.contributions(model, pictures)[np.arange(6), targets.numpy()]  # w_c ⊙ x
    np.testing.assert_allclose(found.maps, exact, rtol=1e-5, atol=1e-6)


def test_integrated_gradients_reports_how_far_from_complete_its_maps_are():
    """On a smooth network the integral is all but exact with the default steps (the
    trained models' figures are checked in tests/runs/test_explain.py)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()
    with torch.no_grad():
        model[-1].weight.mul_(10)  # scores that move by several units, as a trained net's
    pictures = torch.rand(12, 1, 8, 8) * 3
    targets = model(pictures).argmax(dim=1)
    baseline = torch.zeros(1, 1, 8, 8)
    found = attributions.integrated_gradients(model, pictures, targets, baseline)
    assert checks.completeness(found.delta, found.gap) <= checks.COMPLETENESS_GOAL
    with torch.no_grad():  # the gap is F(x) - F(baseline) of the class explained
        expected = (model(pictures) - model(baseline))[torch.arange(12), targets]
    np.testing.assert_allclose(found.gap, expected.double().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(found.maps.sum(axis=(1, 2)), found.gap, atol=0.01 * abs(
        found.gap).max())


@pytest.mark.parametrize("method", attributions.METHODS)
def test_every_method_maps_each_picture_at_its_size(method):
    model = convnet()
    pictures = torch.rand(3, 1, 8, 8)
    found = attributions.attribute(method, model, pictures, torch.tensor([0, 1, 2]),
                                   torch.zeros(1, 1, 8, 8))
    assert found.maps.shape == (3, 8, 8) and np.isfinite(found.maps).all()
    if method in ("saliency", "grad_cam"):
        assert (found.maps >= 0).all()  # magnitudes; Grad-CAM keeps the positive part


def test_grad_cam_needs_a_convolution():
    linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    assert attributions.methods_for(linear) == ["integrated_gradients", "saliency", "occlusion"]
    assert "grad_cam" in attributions.methods_for(convnet())
    with pytest.raises(ValueError, match="convolution"):
        attributions.grad_cam(linear, torch.rand(1, 1, 8, 8), torch.tensor([0]))


def test_occlusion_of_a_linear_model_credits_the_pixels_that_raise_the_score():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)).eval()
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[0, :32] = 1.0  # class 0 counts the top half's ink
    picture = torch.ones(1, 1, 8, 8)
    maps = attributions.occlusion(model, picture, torch.tensor([0]), torch.zeros(1, 1, 8, 8))
    assert maps[0, :3].min() > 0 and np.allclose(maps[0, 5:], 0)


def test_a_map_that_does_not_add_up_is_integrated_again_with_more_steps():
    """A ReLU network's gradient jumps along the path: 64 points miss by several percent
    for some pictures, and doubling them (for those pictures only) closes most of it."""
    model = convnet()
    with torch.no_grad():
        model[-1].weight.mul_(30)
    pictures = torch.rand(12, 1, 8, 8) * 3
    targets = model(pictures).argmax(dim=1)
    baseline = torch.zeros(1, 1, 8, 8)
    fixed = attributions.integrated_gradients(model, pictures, targets, baseline, most_steps=64)
    adaptive = attributions.integrated_gradients(model, pictures, targets, baseline)
    assert (fixed.steps == 64).all() and checks.completeness(fixed.delta, fixed.gap) > 0.03
    misses = checks.relative_miss(fixed.delta, fixed.gap)
    assert (adaptive.steps[misses <= checks.COMPLETENESS_GOAL] == 64).all()  # left alone
    assert adaptive.steps.max() == attributions.MOST_STEPS
    assert checks.completeness(adaptive.delta, adaptive.gap) < checks.completeness(
        fixed.delta, fixed.gap) / 3
