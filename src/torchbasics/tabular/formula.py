"""A linear formula in the data's own units: ``target ≈ b + w1·x1 + w2·x2 + ...``.

The network learns on standardized features, ``z = (x - mean) / std``; its weights are
turned back into the units of the CSV here, so they can be read, compared with the
closed-form least-squares fit and with the rule that generated the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torchbasics.tabular.schema import TableSchema


@dataclass(frozen=True)
class LinearFormula:
    """``target ≈ intercept + Σ coefficients[name] · name``, in original units.

    Attributes:
        target: the name of what is predicted, e.g. ``"bonus"``.
        intercept: ``b``, the prediction when every feature is 0.
        coefficients: feature name -> change of the target per unit of that feature, in
            the order of the feature columns.
    """

    target: str
    intercept: float
    coefficients: dict[str, float]

    @property
    def names(self) -> list[str]:
        """The feature names, in column order."""
        return list(self.coefficients)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The formula's value for each ``(N, F)`` row of features (columns in order)."""
        weights = np.array(list(self.coefficients.values()), dtype=np.float64)  # (F,)
        return self.intercept + np.asarray(features, dtype=np.float64) @ weights  # (N,)

    def __str__(self) -> str:
        """E.g. ``bonus ≈ 2,000.00 + 500.00·performance_rating − 3.10·age``."""
        text = f"{self.target} ≈ {self.intercept:,.2f}"
        for name, value in self.coefficients.items():
            sign = "−" if value < 0 else "+"
            text += f" {sign} {abs(value):,.2f}·{name}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and checkpoints."""
        return {"target": self.target, "intercept": self.intercept,
                "coefficients": dict(self.coefficients)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LinearFormula:
        """Rebuild from :meth:`to_dict` output."""
        return cls(values["target"], float(values["intercept"]),
                   {name: float(v) for name, v in values["coefficients"].items()})

    @classmethod
    def from_standardized(
        cls,
        weight: Sequence[float],
        bias: float,
        mean: Sequence[float],
        std: Sequence[float],
        names: Sequence[str],
        target: str,
    ) -> LinearFormula:
        """Undo the standardization folded into a linear layer's weights.

        ``y = bias + Σ_j weight_j (x_j - mean_j) / std_j``, so in original units
        ``w_j = weight_j / std_j`` and ``b = bias - Σ_j weight_j mean_j / std_j``.
        """
        weight, mean, std = (np.asarray(v, dtype=np.float64) for v in (weight, mean, std))
        coefficients = weight / std
        intercept = float(bias) - float(coefficients @ mean)
        return cls(target, intercept, dict(zip(names, map(float, coefficients), strict=True)))

    @classmethod
    def least_squares(
        cls, features: np.ndarray, target: np.ndarray, names: Sequence[str], target_name: str
    ) -> LinearFormula:
        """The closed-form fit (ordinary least squares) of ``(N, F)`` rows.

        Solved by numpy's SVD-based ``lstsq`` on the rows with a column of ones for the
        intercept: the minimum-norm solution when columns are collinear.
        """
        rows = np.asarray(features, dtype=np.float64)
        design = np.column_stack([np.ones(len(rows)), rows])  # (N, 1 + F)
        solution = np.linalg.lstsq(design, np.asarray(target, dtype=np.float64).reshape(-1),
                                   rcond=None)[0]
        return cls(target_name, float(solution[0]),
                   dict(zip(names, map(float, solution[1:]), strict=True)))


def comparison_table(formulas: dict[str, LinearFormula | None]) -> list[str]:
    """Markdown lines: one row per coefficient, one column per formula (``None``: "—").

    Args:
        formulas: column heading -> formula, e.g. ``{"SGD net": ..., "least squares": ...}``;
            the first one's feature names give the rows.
    """
    first = next(f for f in formulas.values() if f is not None)
    lines = ["| coefficient | " + " | ".join(formulas) + " |",
             "|---|" + "---:|" * len(formulas)]
    rows = [("intercept (b)", lambda f: f.intercept)]
    rows += [(f"{name} (w{i})", lambda f, name=name: f.coefficients.get(name))
             for i, name in enumerate(first.names, start=1)]
    for label, pick in rows:
        cells = ["—" if f is None or pick(f) is None else f"{pick(f):,.2f}"
                 for f in formulas.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def schema_formula(schema: TableSchema, weight: Sequence[float], bias: float, *,
                   standardized_target: bool = True) -> LinearFormula:
    """A linear model over a schema's inputs, in the table's own units.

    Args:
        schema: the fitted columns (:class:`~torchbasics.tabular.schema.TableSchema`).
        weight, bias: the model's weights, one per schema input, and its bias.
        standardized_target: the model predicts the standardized target (as a network
            trained by torchbasics does); ``False`` for a fit to the target as it is.

    A numeric input is ``(x - mean) / std``, so ``x``'s coefficient is ``w / std`` and the
    intercept takes ``-w * mean / std``; a 0/1 input (a category, "missing") keeps its
    weight as its term: ``region=north`` adds it when the region is north. A standardized
    target scales every term by its std and adds its mean.
    """
    from torchbasics.tabular.schema import NumericFeature

    weights = np.asarray(weight, dtype=np.float64)
    scale, shift = ((schema.target.std, schema.target.mean) if standardized_target
                    else (1.0, 0.0))
    intercept, coefficients, index = float(bias), {}, 0
    for feature in schema.features:
        for position, name in enumerate(feature.names()):
            value = float(weights[index])
            if isinstance(feature, NumericFeature) and position == 0:
                value /= feature.std
                intercept -= value * feature.mean
            coefficients[name] = value
            index += 1
    return LinearFormula(schema.target.name, shift + scale * intercept,
                         {name: scale * value for name, value in coefficients.items()})
