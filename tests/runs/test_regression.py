"""Training linear regression on the bonus data: the oracle (least squares) and the run files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import torchbasics
from torchbasics.checkpoint import load_checkpoint
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig, resolve
from torchbasics.runs.regression import train_regression
from torchbasics.tabular.bonus import TRUE_FORMULA, load_bonus
from torchbasics.tabular.formula import LinearFormula
from torchbasics.tabular.prepare import split_table

GOAL = 0.01  # the goal: within 1 % of the closed-form least-squares fit


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run with the default recipe on the shipped bonus CSV: (run directory, summary)."""
    out = tmp_path_factory.mktemp("bonus") / "run"
    return out, train_regression(TrainConfig(dataset="bonus", model="linear"), out,
                                 log=lambda line: None)


def test_sgd_coefficients_match_least_squares(run):
    _, summary = run
    config = resolve(TrainConfig(dataset="bonus", model="linear"))
    parts = split_table(load_bonus(), test_fraction=config.test_fraction,
                        val_fraction=config.val_fraction, seed=config.seed)
    # The oracle: scikit-learn's closed form on the same training rows, in original units.
    oracle = LinearRegression().fit(parts.train.features.double().numpy(),
                                    parts.train.target[:, 0].double().numpy())
    learned = LinearFormula.from_dict(summary["formula"])
    np.testing.assert_allclose(list(learned.coefficients.values()), oracle.coef_, rtol=GOAL)
    assert learned.intercept == pytest.approx(oracle.intercept_, rel=GOAL)
    test_x, test_y = parts.test.features.double().numpy(), parts.test.target[:, 0].numpy()
    oracle_mse = np.mean((oracle.predict(test_x) - test_y) ** 2)
    assert summary["metrics"]["test"]["mse"] == pytest.approx(oracle_mse, rel=GOAL)
    # And the formula is close to the rule that generated the data (sampling noise only).
    for name, true in TRUE_FORMULA.coefficients.items():
        assert learned.coefficients[name] == pytest.approx(true, rel=0.1)


def test_run_directory_holds_every_file(run):
    out, summary = run
    for name in ("config.json", "metrics.csv", "last.pt", "loss_curves.png", "summary.json",
                 "report.md"):
        assert (out / name).is_file(), name
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == summary["epochs"] == 200
    assert metrics["val_error"].isna().all()  # regression: no error column
    assert metrics["train_loss"].iloc[-1] < metrics["train_loss"].iloc[0] / 10
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "linear" and config["precision_used"] == "fp32"
    assert (config["train_rows"], config["val_rows"], config["test_rows"]) == (720, 80, 200)
    assert json.loads((out / "summary.json").read_text()) == summary
    for split in ("train", "val", "test"):
        assert set(summary["metrics"][split]) == {"mse", "rmse", "mae", "r2"}
    assert summary["metrics"]["test"]["r2"] > 0.9
    report = (out / "report.md").read_text()
    assert "| coefficient | SGD net | least squares | true (generator) |" in report
    assert "SGD net:          bonus ≈ " in report and "](loss_curves.png)" in report
    assert "| R² |" in report


def test_checkpoint_describes_itself_and_predicts_like_the_formula(run):
    out, summary = run
    checkpoint = load_checkpoint(out / "last.pt")  # weights_only=True
    assert checkpoint["kind"] == "regressor" and checkpoint["model"] == "linear"
    assert [c["name"] for c in checkpoint["features"]] == TRUE_FORMULA.names
    assert checkpoint["target"]["name"] == "bonus" and len(checkpoint["scaler"]["mean"]) == 3
    assert checkpoint["config"]["test_fraction"] == 0.2
    regressor = torchbasics.load(out / "last.pt")
    rows = np.array([[8.0, 5.0, 12.0], [1.0, 0.0, 0.0]])
    formula = LinearFormula.from_dict(summary["formula"])
    np.testing.assert_allclose(regressor.predict(rows), formula.predict(rows), rtol=1e-5)


def test_a_classification_model_is_refused(tmp_path):
    with pytest.raises(TorchbasicsError, match=r"'cnn' is a classification model.*linear"):
        train_regression(TrainConfig(dataset="bonus", model="cnn"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_image_data_set_is_refused(tmp_path):
    with pytest.raises(TorchbasicsError, match="'linear' is a regression model, and 'mnist' "
                       "needs a classification model"):
        train_regression(TrainConfig(dataset="mnist", model="linear"), tmp_path / "run")


def test_existing_run_is_kept_and_resume_refused(run):
    out, _ = run
    with pytest.raises(TorchbasicsError, match="already holds a run"):
        train_regression(TrainConfig(dataset="bonus", model="linear"), out)
    with pytest.raises(TorchbasicsError, match="not resumed"):
        train_regression(TrainConfig(dataset="bonus", model="linear"), out, resume=True)
