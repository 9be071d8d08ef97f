"""Training on tables: the oracles (least squares, scikit-learn's logistic regression), the
bonus lesson kept, and the run files of any table."""

from __future__ import annotations

import json

import numpy as np
import pytest

import torchbasics
from tests.tabular.tables import mixed_table, sklearn_table
from torchbasics.checkpoint import load_checkpoint, save_checkpoint
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.runs.table_data import encode_parts, read_table
from torchbasics.runs.tables import train_table
from torchbasics.tabular.bonus import TRUE_FORMULA
from torchbasics.tabular.formula import LinearFormula

GOAL = 0.01  # within 1 % of the closed-form least-squares fit


def quiet(line: str) -> None:
    """The log of a run, not shown."""


@pytest.fixture(scope="module")
def bonus(tmp_path_factory):
    """One run with the default recipe on the shipped bonus CSV: (run directory, summary)."""
    out = tmp_path_factory.mktemp("bonus") / "run"
    return out, train_table(TrainConfig(dataset="bonus", model="linear"), out, log=quiet)


def encoded(config: TrainConfig):
    """The split and encoded rows a run of ``config`` trains on, and its resolved config."""
    config, _, data = read_table(config)
    config = resolve(config)
    return encode_parts(data, config), config


def test_the_bonus_net_matches_least_squares_and_the_true_rule(bonus):
    from sklearn.linear_model import LinearRegression

    _, summary = bonus
    parts, _ = encoded(TrainConfig(dataset="bonus", model="linear"))
    # The oracle: scikit-learn's closed form on the same training rows, in original units.
    raw = {split: parts.schema.target.mean + parts.schema.target.std
           * parts.targets[split][:, 0].double().numpy() for split in ("train", "test")}
    features = {split: parts.inputs[split].double().numpy() for split in ("train", "test")}
    oracle = LinearRegression().fit(features["train"], raw["train"])
    oracle_mse = np.mean((oracle.predict(features["test"]) - raw["test"]) ** 2)
    assert summary["metrics"]["test"]["mse"] == pytest.approx(oracle_mse, rel=GOAL)
    learned = LinearFormula.from_dict(summary["formula"])
    least = LinearFormula.from_dict(summary["least_squares_formula"])
    for name in TRUE_FORMULA.names:
        assert learned.coefficients[name] == pytest.approx(least.coefficients[name], rel=GOAL)
        assert learned.coefficients[name] == pytest.approx(TRUE_FORMULA.coefficients[name],
                                                           rel=0.1)
    assert learned.intercept == pytest.approx(least.intercept, rel=GOAL)


def test_the_bonus_run_directory_and_checkpoint(bonus):
    out, summary = bonus
    for name in ("config.json", "metrics.csv", "last.pt", "loss_curves.png", "summary.json",
                 "report.md"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert (config["train_rows"], config["val_rows"], config["test_rows"]) == (720, 80, 200)
    report = (out / "report.md").read_text()
    assert "| coefficient | SGD net | least squares | true (generator) |" in report
    checkpoint = load_checkpoint(out / "last.pt")  # weights_only=True
    assert checkpoint["kind"] == "table" and checkpoint["model"] == "linear"
    assert [f["name"] for f in checkpoint["schema"]["features"]] == TRUE_FORMULA.names
    regressor = torchbasics.load(out)
    formula = LinearFormula.from_dict(summary["formula"])
    value = regressor.predict_one({"rating": 8, "years": 5, "projects": 12})
    assert value == pytest.approx(float(formula.predict(np.array([[8, 5, 12]]))[0]), rel=1e-5)
    assert str(regressor.formula()) == str(formula)


def test_linear_equals_least_squares_on_numbers_categories_and_missing_cells(tmp_path):
    path = mixed_table(tmp_path / "houses.csv")
    summary = train_table(TrainConfig(dataset=str(path), target="price"), tmp_path / "run",
                          log=quiet)
    net, least = summary["metrics"]["test"]["mse"], summary["least_squares_metrics"]["test"]["mse"]
    assert net == pytest.approx(least, rel=GOAL)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    kinds = {column["name"]: column["kind"] for column in config["columns"]}
    assert kinds == {"id": "ignored", "area": "numeric", "region": "categorical",
                     "rooms": "numeric", "note": "ignored"}
    assert "area missing" in config["inputs"] and "region missing" in config["inputs"]
    formula = LinearFormula.from_dict(summary["formula"])  # region terms: their differences
    shift = formula.coefficients["region=west"] - formula.coefficients["region=south"]
    assert shift == pytest.approx(65.0, abs=8.0)  # the rule: west +55, south -10
    assert formula.coefficients["area"] == pytest.approx(2.0, rel=0.05)


SKLEARN_CLASSES = ["breast_cancer", "wine"]


@pytest.mark.parametrize("name", SKLEARN_CLASSES)
def test_softmax_matches_scikit_learns_logistic_regression(tmp_path, name):
    from sklearn.linear_model import LogisticRegression

    path = sklearn_table(tmp_path / f"{name}.csv", name)
    config = TrainConfig(dataset=str(path), target="target", model="softmax")
    summary = train_table(config, tmp_path / "run", log=quiet)
    parts, resolved = encoded(config)
    features, labels = parts.inputs["train"].numpy(), parts.targets["train"].numpy()
    # The same penalty: weight decay adds lambda/2 |W|^2 to the mean loss; scikit-learn's C
    # weighs the summed loss against |W|^2 / 2, with one weight vector for two classes
    # where softmax has two (half the norm each).
    vectors = 2 if len(parts.schema.target.classes) == 2 else 1
    oracle = LogisticRegression(C=vectors / (resolved.weight_decay * len(labels)),
                                max_iter=100_000, tol=1e-10).fit(features, labels)
    probabilities = oracle.predict_proba(parts.inputs["test"].numpy())
    truth = parts.targets["test"].numpy()
    accuracy = np.mean(probabilities.argmax(axis=1) == truth)
    log_loss = -np.mean(np.log(np.clip(probabilities[np.arange(len(truth)), truth], 1e-15, 1)))
    ours = summary["metrics"]["test"]
    assert abs(ours["accuracy"] - accuracy) <= 0.01
    assert ours["log_loss"] == pytest.approx(log_loss, rel=0.02)


def test_regression_on_scikit_learns_diabetes_matches_least_squares(tmp_path):
    path = sklearn_table(tmp_path / "diabetes.csv", "diabetes")
    summary = train_table(TrainConfig(dataset=str(path), target="target"), tmp_path / "run",
                          log=quiet)
    assert summary["metrics"]["test"]["mse"] == pytest.approx(
        summary["least_squares_metrics"]["test"]["mse"], rel=GOAL)


@pytest.mark.parametrize("model", ["mlp-relu", "mlp-sigmoid", "softmax"])
def test_a_table_classifier_learns_and_writes_its_figures(tmp_path, model):
    path = mixed_table(tmp_path / "houses.csv", task="classification")
    summary = train_table(TrainConfig(dataset=str(path), target="expensive", model=model,
                                      epochs=60), tmp_path / "run", log=quiet)
    assert summary["task"] == "classification" and summary["classes"] == ["no", "yes"]
    assert summary["metrics"]["test"]["accuracy"] > 0.8
    assert (tmp_path / "run" / "confusion_matrix.png").is_file()
    assert "| log-loss |" in (tmp_path / "run" / "report.md").read_text()


def test_the_task_is_inferred_and_recorded_and_can_be_overridden(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_text("hours,grade\n" + "".join(f"{h / 2},{h % 5 + 1}\n" for h in range(60)))
    train_table(TrainConfig(dataset=str(path), target="grade"), tmp_path / "classes", log=quiet)
    config = json.loads((tmp_path / "classes" / "config.json").read_text())
    assert config["task"] == "classification" and config["model"] == "softmax"
    assert config["classes"] == ["1", "2", "3", "4", "5"]
    train_table(TrainConfig(dataset=str(path), target="grade", task="regression"),
                tmp_path / "numbers", log=quiet)
    config = json.loads((tmp_path / "numbers" / "config.json").read_text())
    assert config["task"] == "regression" and config["model"] == "linear"


def test_a_regression_checkpoint_of_before_0_3_still_loads_and_predicts(bonus, tmp_path):
    out, _ = bonus
    checkpoint = load_checkpoint(out / "last.pt")
    schema = checkpoint.pop("schema")
    # What 0.2.0 wrote: the columns, the scaler, a target predicted in its own units.
    weight = checkpoint["model_state"]["weight"] * schema["target"]["std"]
    bias = checkpoint["model_state"]["bias"] * schema["target"]["std"] + schema["target"]["mean"]
    old = checkpoint | {
        "kind": "regressor", "model_state": {"weight": weight, "bias": bias},
        "features": [f["rule"] for f in schema["features"]],
        "target": {"name": "bonus", "minimum": None, "maximum": None, "integer": False,
                   "flag": None},
        "scaler": {"mean": [f["mean"] for f in schema["features"]],
                   "std": [f["std"] for f in schema["features"]]}}
    save_checkpoint(tmp_path / "old.pt", old)
    then, now = torchbasics.load(tmp_path / "old.pt"), torchbasics.load(out)
    row = {"rating": 8, "years": 5, "projects": 12}
    assert then.predict_one(row) == pytest.approx(now.predict_one(row), rel=1e-6)


def test_an_image_model_or_data_set_is_refused(tmp_path):
    with pytest.raises(TorchbasicsError, match="'cnn' does not do regression on table rows"):
        train_table(TrainConfig(dataset="bonus", model="cnn"), tmp_path / "run")
    with pytest.raises(TorchbasicsError, match="'linear' does not do classification on "
                       "pictures"):
        resolve(TrainConfig(dataset="mnist", model="linear"))
    assert not (tmp_path / "run").exists()


def test_an_existing_run_is_kept_and_resume_refused(bonus):
    out, _ = bonus
    with pytest.raises(TorchbasicsError, match="already holds a run"):
        train_table(TrainConfig(dataset="bonus", model="linear"), out)
    with pytest.raises(TorchbasicsError, match="not resumed"):
        train_table(TrainConfig(dataset="bonus", model="linear"), out, resume=True)
