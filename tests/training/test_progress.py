"""The epoch's log line: one format for image and table runs, as each printed it before; the
epoch best.pt keeps, early stopping, and both after a resume."""

from __future__ import annotations

import math

import pytest

from torchbasics.training.loop import EpochRecord
from torchbasics.training.progress import Progress, format_epoch

CLASSES = EpochRecord(3, 0.25, 0.0625, 0.3125, 0.125, 0.001, 12.5, 4800.0)
REGRESSION = EpochRecord(12, 1234.5, None, 2345.25, None, 0.0003, 0.01, 99999.0)


def test_an_image_runs_line_has_the_errors_time_and_speed():
    assert format_epoch(CLASSES, 20) == ("epoch  3/20  train loss 0.2500 error  6.25%  "
                                         "val loss 0.3125 error 12.50%  lr 1.00e-03   12.5s  "
                                         "4,800 img/s")


def test_a_table_classifiers_line_has_the_errors_and_no_time():
    assert format_epoch(CLASSES, 200, timed=False) == (
        "epoch   3/200  train loss 0.2500 error  6.25%  val loss 0.3125 error 12.50%  "
        "lr 1.00e-03")


def test_a_regressions_line_gives_the_mse_and_its_root():
    assert format_epoch(REGRESSION, 200, regression=True, timed=False) == (
        "epoch  12/200  train MSE 1,234.5 (RMSE 35.14)  val MSE 2,345.2 (RMSE 48.43)  "
        "lr 3.00e-04")


def _epochs(*errors: float, losses: tuple[float, ...] | None = None) -> list[EpochRecord]:
    """Epochs 1, 2, ... with these validation errors (and losses, default falling)."""
    losses = losses or tuple(1.0 - 0.01 * i for i in range(len(errors)))
    return [EpochRecord(i + 1, 0.1, 0.01, loss, error, 0.1, 1.0, 1.0)
            for i, (error, loss) in enumerate(zip(errors, losses, strict=True))]


def test_best_is_the_last_epoch_within_one_standard_error_of_the_lowest():
    # 1,000 validation pictures, lowest 0.6 %: one standard error is
    # sqrt(0.006 * 0.994 / 1000) = 0.244 points, so up to 0.844 % is kept.
    progress = Progress(val_count=1000)
    kept = [progress.add(record) for record in _epochs(0.010, 0.006, 0.008, 0.009, 0.007)]
    assert kept == [True, True, True, False, True]
    assert progress.kept_epoch == 5 and progress.tolerance == pytest.approx(0.00244, abs=1e-5)
    summary = progress.kept()
    assert summary["best_epoch"] == 5 and summary["best_val_error"] == 0.007
    assert summary["best_reason"] == ("the last epoch within one standard error (0.24 points) "
                                      "of the lowest validation error (0.60 %, epoch 2)")


def test_an_epoch_clearly_worse_than_the_lowest_is_never_kept():
    progress = Progress(val_count=1000)
    for record in _epochs(0.010, 0.006, 0.009, 0.012):  # 0.9 % > 0.6 % + 0.244 points
        progress.add(record)
    assert progress.kept_epoch == 2
    assert progress.kept()["best_reason"] == (
        "the lowest validation error; no later epoch came within one standard error "
        "(0.24 points) of it")
    progress.add(_epochs(0.010, 0.006, 0.009, 0.012, 0.005)[-1])
    assert progress.kept()["best_reason"] == "the lowest validation error, in the last epoch"


def test_what_is_kept_epoch_by_epoch_is_what_the_rule_picks_from_them_all():
    # A new lowest can shrink the band: the epoch kept before it is then not re-kept, and
    # the new lowest (the latest epoch in the band) is kept instead.
    errors = (0.02, 0.012, 0.014, 0.011, 0.006, 0.0075, 0.010, 0.008, 0.009)
    progress = Progress(val_count=1000)
    for record in _epochs(*errors):
        progress.add(record)
    band = 0.006 + math.sqrt(0.006 * 0.994 / 1000)
    assert progress.kept_epoch == max(i + 1 for i, e in enumerate(errors) if e <= band) == 8


def test_early_stopping_counts_the_epochs_outside_the_noise():
    progress = Progress(patience=2, val_count=1000)
    stops = [(progress.add(r), progress.should_stop)[1]
             for r in _epochs(0.010, 0.006, 0.008, 0.009, 0.011)]
    assert stops == [False, False, False, False, True]  # 0.8 % is within: the count restarts


def test_a_regression_keeps_its_lowest_validation_loss():
    progress = Progress(val_count=50)
    records = [EpochRecord(i + 1, 1.0, None, loss, None, 0.1, 1.0, 1.0)
               for i, loss in enumerate((3.0, 2.0, 2.5, 2.0))]
    assert [progress.add(r) for r in records] == [True, True, False, True]
    assert progress.kept() == {"best_epoch": 4, "best_val_loss": 2.0,
                               "best_reason": "the lowest validation loss"}


def test_restored_progress_goes_on_exactly():
    records = _epochs(0.010, 0.006, 0.009, 0.008, 0.012, 0.007)
    whole = Progress(patience=3, val_count=1000)
    decisions = [whole.add(r) for r in records]
    first = Progress(patience=3, val_count=1000)
    for record in records[:3]:
        first.add(record)
    resumed = Progress.restore(first.state(), records[:3], 3, 1000)
    assert decisions[3:] == [resumed.add(r) for r in records[3:]]
    assert resumed == whole


def test_a_checkpoint_of_before_best_epoch_keeps_the_lowest_until_a_later_one():
    # Written by a release whose best.pt held the lowest validation error (ties to the loss):
    # no best_epoch in it. That epoch is what best.pt holds, so it is the one kept.
    records = _epochs(0.010, 0.006, 0.008, losses=(0.5, 0.4, 0.3))
    old = {"best_val_error": 0.006, "best_val_loss": 0.4, "stale_epochs": 1}
    resumed = Progress.restore(old, records, 0, 1000)
    assert resumed.kept_epoch == 2
    assert resumed.add(_epochs(0.010, 0.006, 0.008, 0.007)[3]) and resumed.kept_epoch == 4
