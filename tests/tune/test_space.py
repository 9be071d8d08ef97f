"""The search space: made from the settings' declarations, narrowed by --search."""

from __future__ import annotations

import dataclasses

import pytest

optuna = pytest.importorskip("optuna")

from torchbasics.data.registry import get_dataset  # noqa: E402
from torchbasics.errors import TorchbasicsError  # noqa: E402
from torchbasics.runs.config import SETTINGS, TrainConfig, resolve  # noqa: E402
from torchbasics.settings import SearchRange  # noqa: E402
from torchbasics.tune.space import build_space, parse_search  # noqa: E402


def space_for(models, dataset="mnist", given=None, search=()):
    given = given or TrainConfig(dataset=dataset)
    recipes = {m: resolve(dataclasses.replace(given, model=m)) for m in models}
    return build_space(models, recipes, get_dataset(dataset), given, parse_search(search))


def names(space, model):
    return [d.name for d in space.dimensions[model]]


def test_the_space_is_the_declared_settings_that_apply_to_the_data_and_model():
    space = space_for(["softmax", "mlp-relu", "convnet"])
    training = ["batch_size", "lr", "weight_decay", "label_smoothing", "augment"]
    assert names(space, "softmax") == training
    assert names(space, "mlp-relu") == [*training, "hidden", "dropout"]
    assert names(space, "convnet") == [*training, "width", "hidden", "dropout"]
    # Only an MLP searches its depth.
    layers = {m: next(d.layers for d in space.dimensions[m] if d.name == "hidden")
              for m in ("mlp-relu", "convnet")}
    assert layers == {"mlp-relu": (1, 3), "convnet": None}
    # Pictures-only settings are not searched on a table.
    assert names(space_for(["linear"], dataset="bonus"), "linear") == [
        "batch_size", "lr", "weight_decay"]


def test_a_learning_rate_is_searched_around_each_models_recipe():
    space = space_for(["softmax", "mlp-relu"])
    lr = {m: next(d for d in space.dimensions[m] if d.name == "lr") for m in space.models}
    for model, dimension in lr.items():
        recipe = resolve(TrainConfig(dataset="mnist", model=model)).lr
        assert dimension.range.log and dimension.range.low == pytest.approx(recipe / 10)
        assert dimension.range.high == pytest.approx(recipe * 10)


def test_a_flag_fixes_a_setting_and_search_narrows_adds_or_fixes_one():
    space = space_for(["mlp-relu"], given=TrainConfig(dataset="mnist", batch_size=64),
                      search=["lr=0.01:0.3:log", "momentum=0.8:0.95", "hidden-layers=2",
                              "augment=0,0.5"])
    dims = {d.name: d.range for d in space.dimensions["mlp-relu"]}
    assert "batch_size" not in dims  # given as a flag
    assert (dims["lr"].low, dims["lr"].high, dims["lr"].log) == (0.01, 0.3, True)
    assert (dims["momentum"].low, dims["momentum"].high) == (0.8, 0.95)  # added
    assert dims["hidden"].layers == (2, 2)
    assert dims["augment"].choices == (0.0, 0.5)
    assert parse_search(["batch-size=64"]) == {"batch_size": 64}  # one value: fixed


def test_each_trial_proposes_valid_settings_and_the_recipe_params_give_the_recipe():
    space = space_for(["mlp-relu", "convnet"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        model, settings, own = space.suggest(trial)
        config = resolve(TrainConfig(dataset="mnist", model=model, **settings,
                                     model_settings=own))  # checks every range
        assert config.model in ("mlp-relu", "convnet")
        study.tell(trial, 0.5)
    for model in space.models:
        recipe = resolve(TrainConfig(dataset="mnist", model=model))
        fixed = optuna.trial.FixedTrial(space.recipe_params(model, recipe))
        chosen, settings, own = space.suggest(fixed)
        assert chosen == model
        assert all(getattr(recipe, name) == value for name, value in settings.items())
        defaults = {"mlp-relu": {"hidden": 512, "dropout": 0.0},
                    "convnet": {"width": 32, "hidden": 256, "dropout": 0.25}}[model]
        assert own == defaults | recipe.model_settings


@pytest.mark.parametrize("text, message", [
    ("learning=0.1:1", "'learning' is not a setting tune can search"),
    ("lr=0.3:0.01", "the range 0.3:0.01 is empty"),
    ("lr=-1:1", "must be above 0, got -1"),
    ("lr=0:1:log", "must be above 0, got 0"),
    ("dropout=0:1", "must be at least 0 and below 1, got 1.0"),
    ("batch-size=0.5,64", "'0.5' is not a whole number"),
    ("optimizer=sgd,rmsprop", "unknown value 'rmsprop'"),
    ("lr", "expected NAME=LOW:HIGH[:log]"),
    ("lr=0.1:0.2:linear", "a range is LOW:HIGH or LOW:HIGH:log"),
    ("seed=1:5", "'seed' is not a setting tune can search"),
])
def test_a_wrong_search_is_one_line_naming_it(text, message):
    with pytest.raises(TorchbasicsError) as raised:
        parse_search([text])
    assert message in raised.value.message
    assert f"--search {text}" in raised.value.message
    assert "\n" not in raised.value.message


def test_a_search_that_no_model_uses_or_that_a_flag_fixes_is_refused():
    with pytest.raises(TorchbasicsError, match="width is not used by softmax"):
        space_for(["softmax"], search=["width=8:16"])
    with pytest.raises(TorchbasicsError, match="--lr is given, and searched"):
        space_for(["softmax"], given=TrainConfig(dataset="mnist", lr=0.1),
                  search=["lr=0.01:0.1"])


def test_the_declared_ranges_lie_in_each_settings_own_range():
    for name, declared in SETTINGS.items():
        found = declared.search
        if found is None or found.around is not None:
            continue
        for value in (*found.choices, *(v for v in (found.low, found.high) if v is not None)):
            declared.check(name, value)
    assert isinstance(SETTINGS["lr"].search, SearchRange)


def test_the_first_trial_is_the_recipe_even_where_it_lies_outside_the_declared_range():
    space = space_for(["linear"], dataset="bonus")
    recipe = resolve(TrainConfig(dataset="bonus", model="linear"))  # full batch, no decay
    batch = next(d for d in space.dimensions["linear"] if d.name == "batch_size")
    assert recipe.batch_size in batch.range.choices  # the declared choices, and the recipe's
    params = space.recipe_params("linear", recipe)
    assert params == {"batch_size": recipe.batch_size, "lr": recipe.lr,
                      "weight_decay": 1e-6}  # no decay: the least the range holds
    narrowed = space_for(["linear"], dataset="bonus", search=["batch-size=32,64"])
    assert "batch_size" not in narrowed.recipe_params("linear", recipe)  # the user's range


def test_the_guides_table_of_what_is_searched_is_read_from_the_declarations():
    from tests.helpers import docs_hook
    from torchbasics.models import MODEL_SETTINGS
    from torchbasics.settings import flag_name

    table = docs_hook("generated").tune_space()
    searched = [name for name, s in [*SETTINGS.items(), *MODEL_SETTINGS.items()] if s.search]
    rows = [line for line in table.splitlines()[2:]]
    assert [row.split("`")[1] for row in rows] == [flag_name(name) for name in searched]
    assert "from 1/10 to 10 times the recipe's value, log scale" in rows[
        [flag_name(n) for n in searched].index("--lr")]
