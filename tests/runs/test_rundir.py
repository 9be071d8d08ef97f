"""metrics.csv: written and read back, and bad files refused with a clear message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from torchbasics.errors import TorchbasicsError
from torchbasics.runs.rundir import METRIC_COLUMNS, read_metrics


def _metrics(epochs: int = 3) -> pd.DataFrame:
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame({"epoch": epoch, "train_loss": 1 / epoch, "train_error": 0.1 / epoch,
                         "val_loss": 1.2 / epoch, "val_error": 0.12 / epoch, "lr": 0.1,
                         "seconds": 2.5, "images_per_second": 24000.0})


def test_read_metrics_round_trip(tmp_path):
    path = tmp_path / "metrics.csv"
    _metrics().to_csv(path, index=False)
    frame = read_metrics(path)
    assert list(frame.columns) == list(METRIC_COLUMNS)
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert frame["val_error"].iloc[1] == pytest.approx(0.06)


def test_read_metrics_accepts_empty_errors_of_a_regression_run(tmp_path):
    path = tmp_path / "metrics.csv"
    _metrics().assign(train_error=None, val_error=None).to_csv(path, index=False)
    assert read_metrics(path)["val_error"].isna().all()


def test_read_metrics_names_file_and_missing_columns(tmp_path):
    path = tmp_path / "metrics.csv"
    _metrics().drop(columns=["val_error", "lr"]).to_csv(path, index=False)
    with pytest.raises(TorchbasicsError) as caught:
        read_metrics(path)
    message = str(caught.value)
    assert str(path) in message and "val_error" in message and "lr" in message
    assert "train_loss" not in message.split(".")[0]  # only the missing ones are named


@pytest.mark.parametrize(("content", "match"), [
    (None, "not found"),
    ("", "not a readable CSV"),
    (",".join(METRIC_COLUMNS) + "\n", "no epochs"),
    (",".join(METRIC_COLUMNS) + "\n1,x,0.1,0.5,0.1,0.1,1,1\n", "train_loss is not numeric"),
])
def test_read_metrics_rejects_bad_files(tmp_path, content, match):
    path = tmp_path / "metrics.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TorchbasicsError, match=match):
        read_metrics(path)
