"""The formula in original units: un-standardizing is exact, least squares is least squares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchbasics.metrics import regression_metrics
from torchbasics.tabular.formula import LinearFormula, comparison_table


def test_unstandardized_formula_predicts_what_the_layer_predicts():
    torch.manual_seed(0)
    raw = torch.rand(50, 3, dtype=torch.float64) * torch.tensor([9.0, 30.0, 50.0])
    mean, std = raw.mean(0), raw.std(0, correction=0)
    layer = torch.nn.Linear(3, 1).double()
    formula = LinearFormula.from_standardized(layer.weight[0].tolist(), layer.bias.item(),
                                              mean.tolist(), std.tolist(), ["a", "b", "c"], "y")
    with torch.no_grad():
        expected = layer((raw - mean) / std)[:, 0].numpy()
    np.testing.assert_allclose(formula.predict(raw.numpy()), expected, rtol=1e-12)


def test_least_squares_matches_scikit_learn():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    target = 2.0 + features @ [1.0, -3.0, 0.5] + rng.normal(scale=0.1, size=40)
    fitted = LinearFormula.least_squares(features, target, ["a", "b", "c"], "y")
    reference = LinearRegression().fit(features, target)
    np.testing.assert_allclose([fitted.intercept, *fitted.coefficients.values()],
                               [reference.intercept_, *reference.coef_], rtol=1e-10)


def test_formula_text_and_round_trip():
    formula = LinearFormula("bonus", 1234.5, {"rating": 512.3, "age": -3.1})
    assert str(formula) == "bonus ≈ 1,234.50 + 512.30·rating − 3.10·age"
    assert LinearFormula.from_dict(formula.to_dict()) == formula
    table = comparison_table({"net": formula, "true": None})
    assert table[0] == "| coefficient | net | true |"
    assert "| rating (w1) | 512.30 | — |" in table


def test_regression_metrics_against_their_definitions():
    target, prediction = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.5, 2.0, 2.0, 4.0])
    metrics = regression_metrics(target, prediction)
    assert metrics["mse"] == pytest.approx((0.25 + 0 + 1 + 0) / 4)
    assert metrics["rmse"] == pytest.approx(np.sqrt(1.25 / 4))
    assert metrics["mae"] == pytest.approx(1.5 / 4)
    assert metrics["r2"] == pytest.approx(1 - (1.25 / 4) / np.var(target))
    from sklearn.metrics import r2_score

    assert metrics["r2"] == pytest.approx(r2_score(target, prediction))
