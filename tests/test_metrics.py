"""Evaluation metrics against hand-computed examples and direct torch/NumPy computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from torchbasics.errors import TorchbasicsError
from torchbasics.metrics import (
    confusion,
    error_rate,
    format_report,
    most_confident_mistakes,
    most_confused_pairs,
    per_class_report,
)

# Five samples, three classes: samples 1 (b -> c) and 3 (c -> b) are wrong.
LABELS = [0, 1, 2, 2, 1]
PREDICTIONS = [0, 2, 2, 1, 1]


def test_error_rate_by_hand():
    assert error_rate(LABELS, PREDICTIONS) == pytest.approx(2 / 5)
    assert error_rate(torch.tensor(LABELS), torch.tensor(LABELS)) == 0.0
    assert error_rate(np.array([3]), np.array([1])) == 1.0


def test_error_rate_matches_argmax_oracle():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 10, generator=generator)
    labels = torch.randint(0, 10, (500,), generator=generator)
    expected = (logits.argmax(1) != labels).float().mean().item()
    assert error_rate(labels, logits.argmax(1)) == pytest.approx(expected)


def test_confusion_by_hand():
    matrix = confusion(LABELS, PREDICTIONS, 3)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, [[1, 0, 0],
                                           [0, 1, 1],
                                           [0, 1, 1]])


def test_confusion_counts_every_sample_once():
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 7, 1000), rng.integers(0, 7, 1000)
    matrix = confusion(labels, predictions, 7)
    expected = np.zeros((7, 7), np.int64)
    np.add.at(expected, (labels, predictions), 1)
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == 1000
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=7))


def test_absent_class_gets_a_row_and_column_of_zeros():
    matrix = confusion(LABELS, PREDICTIONS, 4)
    assert matrix.shape == (4, 4)
    assert matrix[3].sum() == 0 and matrix[:, 3].sum() == 0
    assert matrix.sum() == len(LABELS)


@pytest.mark.parametrize(("labels", "predictions", "num_classes"), [
    ([0, 1, 5], [0, 1, 1], 3),   # label out of range: sklearn would silently drop it
    ([0, 1, 2], [0, -1, 1], 3),  # negative prediction
    ([0, 1], [0, 1, 1], 3),      # lengths differ
    ([], [], 3),                 # nothing to count
])
def test_confusion_rejects_bad_input(labels, predictions, num_classes):
    with pytest.raises(TorchbasicsError):
        confusion(labels, predictions, num_classes)


def test_per_class_report_by_hand():
    report = per_class_report(LABELS, PREDICTIONS, ["a", "b", "c"])
    # a: predicted once, rightly; b and c: predicted twice, right once; true twice, found once.
    assert report["a"]["precision"] == 1.0 and report["a"]["recall"] == 1.0
    for name in ("b", "c"):
        assert report[name]["precision"] == pytest.approx(0.5)
        assert report[name]["recall"] == pytest.approx(0.5)
        assert report[name]["support"] == 2
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["macro avg"]["recall"] == pytest.approx((1 + 0.5 + 0.5) / 3)


def test_class_never_predicted_nor_seen_is_zero_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = per_class_report([0, 0, 1], [0, 0, 0], ["a", "b", "absent"])
    assert report["b"]["precision"] == 0.0 and report["b"]["recall"] == 0.0
    assert report["absent"]["support"] == 0


def test_format_report_lists_every_class():
    names = ["T-shirt/top", "Trouser", "Ankle boot"]
    text = format_report(LABELS, PREDICTIONS, names)
    assert all(name in text for name in names)
    assert "accuracy" in text and "0.600" in text


def test_most_confident_mistakes_in_order():
    probabilities = torch.tensor([
        [0.90, 0.05, 0.05],  # 0: right
        [0.10, 0.60, 0.30],  # 1: wrong (0.60)
        [0.05, 0.05, 0.90],  # 2: wrong (0.90)
        [0.20, 0.70, 0.10],  # 3: right
        [0.80, 0.10, 0.10],  # 4: wrong (0.80)
        [0.40, 0.35, 0.25],  # 5: wrong (0.40)
    ])
    labels = torch.tensor([0, 0, 1, 1, 2, 1])
    assert most_confident_mistakes(probabilities, labels, 10).tolist() == [2, 4, 1, 5]
    assert most_confident_mistakes(probabilities, labels, 2).tolist() == [2, 4]
    assert most_confident_mistakes(probabilities, labels, 0).tolist() == []


def test_most_confident_mistakes_matches_brute_force():
    generator = torch.Generator().manual_seed(1)
    probabilities = torch.randn(300, 5, generator=generator).softmax(1)
    labels = torch.randint(0, 5, (300,), generator=generator)
    confidence, predicted = probabilities.max(1)
    wrong = [i for i in range(300) if predicted[i] != labels[i]]
    expected = sorted(wrong, key=lambda i: -confidence[i].item())[:20]
    assert most_confident_mistakes(probabilities, labels, 20).tolist() == expected


def test_most_confident_mistakes_none_wrong_and_ties():
    probabilities = torch.tensor([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]])
    assert most_confident_mistakes(probabilities, torch.tensor([0, 0, 0]), 5).tolist() == []
    # Equal confidence: sample order (stable), so figures are reproducible.
    assert most_confident_mistakes(probabilities, torch.tensor([1, 1, 1]), 5).tolist() == [2, 0, 1]


def test_most_confident_mistakes_rejects_mismatched_shapes():
    with pytest.raises(TorchbasicsError, match="do not match"):
        most_confident_mistakes(torch.rand(4, 3), torch.tensor([0, 1, 2]), 2)


def test_most_confused_pairs_counts_off_the_diagonal_only():
    matrix = np.array([[50, 3, 0], [7, 40, 1], [0, 3, 60]])
    assert most_confused_pairs(matrix, 3) == [(1, 0, 7), (0, 1, 3), (2, 1, 3)]
    assert most_confused_pairs(np.eye(3, dtype=int) * 9, 5) == []
