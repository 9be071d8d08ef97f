"""Every registered model: right output shape, finite output, and one step lowers the loss.

Classification models are tested on images, regression models on rows of features.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from torchbasics.errors import TorchbasicsError
from torchbasics.models import count_parameters, create_model, get_model_entry, list_models


@pytest.mark.parametrize("name", list_models(task="classification", inputs="image"))
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_logits_have_one_column_per_class(name, shape):
    model = create_model(name, shape, num_classes=7)
    logits = model(torch.randn(4, *shape))
    assert logits.shape == (4, 7) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list_models(task="classification", inputs="image"))
def test_a_few_steps_lower_the_loss_on_a_fixed_batch(name):
    torch.manual_seed(0)
    model = create_model(name, (1, 28, 28), 10)
    images, labels = torch.randn(32, 1, 28, 28), torch.arange(32) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    before = F.cross_entropy(model(images), labels).item()
    for _ in range(5):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    assert F.cross_entropy(model(images), labels).item() < before


@pytest.mark.parametrize("name", list_models(task="regression"))
def test_regression_models_give_one_value_per_row_and_learn(name):
    torch.manual_seed(0)
    model = create_model(name, (3,), 1)
    rows = torch.randn(32, 3)
    target = rows @ torch.tensor([[1.0], [-2.0], [0.5]]) + 3.0  # (32, 1)
    assert model(rows).shape == (32, 1) and torch.isfinite(model(rows)).all()
    # A small rate: an MLP's output sums 512 hidden units, so its gradient is large.
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    before = F.mse_loss(model(rows), target).item()
    for _ in range(5):
        optimizer.zero_grad()
        F.mse_loss(model(rows), target).backward()
        optimizer.step()
    assert F.mse_loss(model(rows), target).item() < before


@pytest.mark.parametrize("name", list_models(task="classification", inputs="table"))
def test_table_classifiers_give_one_logit_per_class_per_row(name):
    model = create_model(name, (5,), 3)
    assert model(torch.randn(8, 5)).shape == (8, 3)


def test_every_model_has_a_task_and_an_input():
    assert set(list_models()) == set(list_models("classification")) | set(
        list_models("regression"))
    assert set(list_models()) == set(list_models(inputs="image")) | set(
        list_models(inputs="table"))
    assert "linear" in list_models("regression") and "cnn" in list_models("classification")
    assert "cnn" not in list_models(inputs="table") and "linear" not in list_models(inputs="image")


def test_linear_regression_refuses_images():
    with pytest.raises(TorchbasicsError, match="rows of features"):
        create_model("linear", (1, 28, 28), 10)


def test_softmax_regression_is_one_linear_layer():
    model = create_model("softmax", (1, 28, 28), 10)
    assert count_parameters(model) == 28 * 28 * 10 + 10
    linear = model[1]
    images = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(model(images), images.flatten(1) @ linear.weight.T + linear.bias)


@pytest.mark.parametrize(("name", "activation"), [("mlp-sigmoid", torch.nn.Sigmoid),
                                                  ("mlp-relu", torch.nn.ReLU)])
def test_mlp_hidden_size_and_activation(name, activation):
    model = create_model(name, (1, 28, 28), 10, hidden=64)
    assert count_parameters(model) == 784 * 64 + 64 + 64 * 10 + 10
    assert any(isinstance(layer, activation) for layer in model)


@pytest.mark.parametrize("name", ["mlp-sigmoid", "mlp-relu"])
def test_an_mlp_takes_several_hidden_layers_input_side_first(name):
    model = create_model(name, (1, 28, 28), 10, hidden=[64, 32], dropout=0.1)
    widths = [layer.out_features for layer in model if isinstance(layer, torch.nn.Linear)]
    assert widths == [64, 32, 10]
    assert count_parameters(model) == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert sum(isinstance(layer, torch.nn.Dropout) for layer in model) == 2


def test_one_hidden_layer_keeps_the_state_dict_keys_old_checkpoints_have():
    """Checkpoints of one-layer MLPs (written before several layers were possible) load."""
    assert list(create_model("mlp-relu", (1, 28, 28), 10, hidden=[64]).state_dict()) == [
        "1.weight", "1.bias", "3.weight", "3.bias"]
    assert list(create_model("mlp-relu", (1, 28, 28), 10, hidden=64).state_dict()) == [
        "1.weight", "1.bias", "3.weight", "3.bias"]


def test_several_values_are_for_the_mlps_only():
    with pytest.raises(TorchbasicsError, match=r"--hidden: model 'convnet' takes one value, "
                                               r"got 2"):
        create_model("convnet", (1, 28, 28), 10, hidden=[64, 32])
    with pytest.raises(TorchbasicsError, match="--hidden: must be at least 1, got 0"):
        create_model("mlp-relu", (1, 28, 28), 10, hidden=[64, 0])
    with pytest.raises(TorchbasicsError, match="--hidden: needs at least one value"):
        create_model("mlp-relu", (1, 28, 28), 10, hidden=[])


def test_seed_cnn_computes_conv_relu_pool_fc():
    """Pooling before ReLU is the seed's Conv -> ReLU -> MaxPool -> FC, values and gradients."""
    torch.manual_seed(0)
    model = create_model("cnn", (1, 28, 28), 10)
    conv, _, _, _, linear = model
    assert [type(layer).__name__ for layer in model] == [
        "Conv2d", "MaxPool2d", "ReLU", "Flatten", "Linear"]
    seed_order = torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                     torch.nn.Flatten(), linear)
    images = torch.randn(8, 1, 28, 28)
    gradients = []
    for net in (model, seed_order):
        net.zero_grad()
        outputs = net(images)
        outputs.square().sum().backward()
        gradients.append((outputs.detach(), conv.weight.grad.clone(), linear.weight.grad.clone()))
    for ours, seeds in zip(*gradients, strict=True):
        torch.testing.assert_close(ours, seeds, rtol=0, atol=0)


def test_convnet_head_is_sized_from_the_image_and_hidden_setting():
    model = create_model("convnet", (3, 40, 24), 10, width=8, hidden=16)
    first_linear, last_linear = (layer for layer in model if isinstance(layer, torch.nn.Linear))
    assert first_linear.in_features == 4 * 8 * (40 // 8) * (24 // 8)
    assert (first_linear.out_features, last_linear.in_features) == (16, 16)
    assert model.eval()(torch.randn(2, 3, 40, 24)).shape == (2, 10)


def test_convnet_refuses_images_too_small_to_pool_three_times():
    with pytest.raises(TorchbasicsError, match="at least 8x8"):
        create_model("convnet", (1, 28, 7), 10)


def test_unknown_model_suggests_the_closest():
    with pytest.raises(TorchbasicsError, match="Did you mean 'mlp-relu'"):
        create_model("mlp_relu", (1, 28, 28), 10)


def test_unknown_setting_is_refused_not_ignored():
    with pytest.raises(TorchbasicsError, match=r"--hidden: model 'cnn' does not take this "
                       r"setting\. 'cnn' takes: --filters"):
        create_model("cnn", (1, 28, 28), 10, hidden=5)


@pytest.mark.parametrize(("setting", "value", "match"), [
    ("hidden", 0, "--hidden: must be at least 1, got 0"),
    ("hidden", 2.5, "--hidden: must be a whole number"),
    ("dropout", 1.0, "--dropout: must be at least 0 and below 1, got 1"),
    ("dropout", float("nan"), "--dropout: must be a finite number"),
])
def test_model_settings_out_of_range_are_refused(setting, value, match):
    with pytest.raises(TorchbasicsError, match=match):
        create_model("mlp-relu", (1, 28, 28), 10, **{setting: value})


@pytest.mark.parametrize("name", list_models())
def test_every_model_setting_has_a_range_and_every_recipe_names_real_settings(name):
    from torchbasics.models import MODEL_SETTINGS
    from torchbasics.runs.config import SETTINGS

    entry = get_model_entry(name)
    assert set(entry.settings()) <= set(MODEL_SETTINGS)
    assert set(entry.recipe) <= set(SETTINGS), "a recipe sets something that is not a setting"


@pytest.mark.parametrize("shape", [(2, 1, 28, 28), (3, 28, 28), (5, 7)])
def test_mirror_images_is_a_left_right_flip(shape):
    """The gather written for exported graphs gives flip's values, whatever the shape."""
    from torchbasics.models.mirror import mirror_images

    images = torch.randn(shape)
    assert torch.equal(mirror_images(images), images.flip(-1))
