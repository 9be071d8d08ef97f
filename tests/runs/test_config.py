"""Settings: one declaration gives the default, the range check and the flag's help."""

from __future__ import annotations

import pytest

from torchbasics.cli import build_parser
from torchbasics.data.registry import DATASETS
from torchbasics.errors import TorchbasicsError
from torchbasics.models import get_model_entry
from torchbasics.runs.config import SETTINGS, TrainConfig, recipe_for, resolve


def test_precedence_given_then_data_set_recipe_then_model_recipe_then_data_set_then_default():
    resolved = resolve(TrainConfig(dataset="fashion-mnist", model="convnet", lr=0.05))
    assert resolved.lr == 0.05  # given
    assert resolved.batch_size == DATASETS["fashion-mnist"].recipes["convnet"]["batch_size"]
    assert resolved.weight_decay == get_model_entry("convnet").recipe["weight_decay"]
    assert resolve(TrainConfig(dataset="mnist", model="softmax")).deskew is True  # data set
    assert resolved.momentum == SETTINGS["momentum"].default  # nobody else sets it


def test_each_data_set_has_its_default_model_and_settings_that_do_not_apply_stay_unset():
    assert resolve(TrainConfig()).model == "cnn"
    bonus = resolve(TrainConfig(dataset="bonus"))
    assert bonus.model == "linear"
    assert bonus.augment is None and bonus.deskew is None and bonus.test_fraction == 0.2
    assert resolve(TrainConfig(dataset="mnist")).test_fraction is None


@pytest.mark.parametrize(("values", "message"), [
    ({"lr": float("nan")}, "--lr: must be a finite number, got nan"),
    ({"epochs": 2.5}, "--epochs: must be a whole number, got 2.5"),
    ({"epochs": True}, "--epochs: must be a whole number, got True"),
    ({"batch_size": 0}, "--batch-size: must be at least 1, got 0"),
    ({"warmup": 1.0}, "--warmup: must be above 0 and below 1, got 1.0"),
    ({"optimizer": "sgdd"}, "--optimizer: unknown value 'sgdd'. Did you mean 'sgd'?"),
    ({"deskew": "yes"}, "--deskew: must be true or false, got 'yes'"),
    ({"model": "mlp-relu", "model_settings": {"hidden": 0}}, "--hidden: must be at least 1"),
    ({"model": "softmax", "model_settings": {"hidden": 8}},
     "--hidden: model 'softmax' does not take this setting"),
    ({"dataset": "bonus", "augment": 0.5}, "--augment is for image data sets, not for"),
    ({"dataset": "mnist", "target": "y", "test_fraction": 0.1},
     "--target, --test-fraction are for tables and your own tables, not for 'MNIST"),
    ({"dataset": "mnist", "model": "linear"}, "'linear' does not do classification on pictures"),
    ({"dataset": "bonus", "image_size": 32}, "--image-size is for your own pictures"),
])
def test_the_python_api_refuses_what_the_command_line_refuses(values, message):
    with pytest.raises(TorchbasicsError) as caught:
        resolve(TrainConfig(**values))
    assert message in caught.value.message


def test_every_recipe_names_real_settings_of_the_right_kind():
    for spec in DATASETS.values():
        for model in spec.recipes:
            assert set(recipe_for(model, spec.name)) <= set(SETTINGS) | {"model_settings"}
            resolve(TrainConfig(dataset=spec.name, model=model))  # its model settings fit
        assert set(spec.settings) <= set(SETTINGS)
        for recipe in spec.recipes.values():
            assert set(recipe) <= set(SETTINGS) | {"model_settings"}


def test_a_recipe_may_train_for_a_time_and_set_the_models_own_settings():
    """The Fashion convnet: five minutes at half width, unless told otherwise."""
    resolved = resolve(TrainConfig(dataset="fashion-mnist", model="convnet"))
    assert resolved.time_budget == 300 and resolved.epochs is None
    assert resolved.model_settings == {"width": 16}
    told = resolve(TrainConfig(dataset="fashion-mnist", model="convnet", epochs=3,
                               model_settings={"width": 8, "hidden": 64}))
    assert told.epochs == 3 and told.time_budget is None  # a length given wins
    assert told.model_settings == {"width": 8, "hidden": 64}  # given settings win
    assert resolve(TrainConfig(dataset="mnist", model="convnet")).model_settings == {}


def test_from_dict_refuses_unknown_settings():
    assert TrainConfig.from_dict(TrainConfig(lr=0.1).to_dict()) == TrainConfig(lr=0.1)
    with pytest.raises(TorchbasicsError, match="unknown settings"):
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 0.1})


def test_help_states_each_default_and_range_from_the_declaration(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--val-fraction FRACTION share of the training set held out" in text
    assert "default: 0.1; above 0 and below 1" in text
    assert "--lr LR|auto peak learning rate; auto runs `torchbasics lr-find` first" in text
    assert "(default: the model's recipe" in text
    assert "--hidden N [N ...] hidden units" in text and "convnet 256; at least 1" in text
    assert "--target COLUMN the column to predict" in text and "your own tables only" in text
    assert "--image-size N the side" in text and "your own pictures only" in text
