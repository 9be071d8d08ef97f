"""The epoch's log line: one format for image and table runs, as each printed it before."""

from __future__ import annotations

from torchbasics.training.loop import EpochRecord
from torchbasics.training.progress import format_epoch

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
