"""metrics.csv: written and read back, and bad files refused with a clear message."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from torchbasics.errors import TorchbasicsError
from torchbasics.runs.rundir import (
    LR_CURVE,
    LR_DATA,
    METRIC_COLUMNS,
    metrics_columns,
    prepare_run_dir,
    read_metrics,
    read_metrics_records,
    write_metrics,
)
from torchbasics.training.loop import EpochRecord


def _records(epochs: int = 3, *, errors: bool = True) -> list[EpochRecord]:
    return [EpochRecord(epoch=e, train_loss=1 / e, train_error=0.1 / e if errors else None,
                        val_loss=1.2 / e, val_error=0.12 / e if errors else None, lr=0.1,
                        seconds=2.5, images_per_second=24000.0) for e in range(1, epochs + 1)]


def _write(path, columns: dict[str, list]) -> None:
    """A CSV of ``columns`` (name -> cells), as any tool might write one."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))


def test_read_metrics_round_trip(tmp_path):
    path = tmp_path / "metrics.csv"
    write_metrics(path, _records())
    metrics = read_metrics(path)
    assert list(metrics) == list(METRIC_COLUMNS)
    assert all(column.dtype == np.float64 for column in metrics.values())
    assert metrics["epoch"].tolist() == [1, 2, 3]
    assert metrics["val_error"][1] == pytest.approx(0.06)
    expected = metrics_columns(_records())  # what the plots get during the run
    for name in METRIC_COLUMNS:
        np.testing.assert_allclose(metrics[name], expected[name], rtol=1e-5)


def test_read_metrics_records_gives_back_what_was_written(tmp_path):
    path = tmp_path / "metrics.csv"
    for records in (_records(), _records(errors=False)):
        write_metrics(path, records)
        back = read_metrics_records(path)
        assert [type(r.epoch) for r in back] == [int] * 3
        assert [r.epoch for r in back] == [1, 2, 3]
        for read, written in zip(back, records, strict=True):
            assert read.val_error == (None if written.val_error is None
                                      else pytest.approx(written.val_error, rel=1e-5))
        assert back[2].train_loss == pytest.approx(1 / 3, rel=1e-5)
    assert read_metrics_records(tmp_path / "absent.csv") == []


def test_read_metrics_accepts_empty_errors_of_a_regression_run(tmp_path):
    path = tmp_path / "metrics.csv"
    write_metrics(path, _records(errors=False))
    metrics = read_metrics(path)
    assert np.isnan(metrics["val_error"]).all() and np.isnan(metrics["train_error"]).all()
    assert not np.isnan(metrics["val_loss"]).any()


def test_read_metrics_takes_other_tools_files(tmp_path):
    # Another column, another order, blank lines, a byte-order mark: as a spreadsheet saves it.
    columns = {name: [str(v) for v in values]
               for name, values in metrics_columns(_records()).items()}
    columns = {"note": ["a", "b", "c"], **dict(reversed(columns.items()))}
    path = tmp_path / "metrics.csv"
    _write(path, columns)
    path.write_text("\ufeff" + path.read_text() + "\n\n")
    metrics = read_metrics(path)
    assert list(metrics) == list(METRIC_COLUMNS)
    assert metrics["epoch"].tolist() == [1, 2, 3]


def test_metrics_written_before_the_recovered_column_still_load(tmp_path):
    columns = {name: [str(v) for v in values]
               for name, values in metrics_columns(_records()).items() if name != "recovered"}
    path = tmp_path / "metrics.csv"
    _write(path, columns)
    assert read_metrics(path)["recovered"].tolist() == [0, 0, 0]
    assert [record.recovered for record in read_metrics_records(path)] == [0, 0, 0]


def test_read_metrics_names_file_and_missing_columns(tmp_path):
    path = tmp_path / "metrics.csv"
    columns = metrics_columns(_records())
    _write(path, {name: values for name, values in columns.items()
                  if name not in ("val_error", "lr")})
    with pytest.raises(TorchbasicsError) as caught:
        read_metrics(path)
    message = str(caught.value)
    assert str(path) in message and "val_error" in message and "lr" in message
    assert "train_loss" not in message.split(".")[0]  # only the missing ones are named


@pytest.mark.parametrize(("content", "match"), [
    (None, "not found"),
    ("", "not a readable CSV"),
    (b"\xff\xfe\x00", "not a readable CSV"),
    (",".join(METRIC_COLUMNS) + "\n", "no epochs"),
    (",".join(METRIC_COLUMNS) + "\n1,x,0.1,0.5,0.1,0.1,1,1,0\n", "train_loss is not numeric"),
    (",".join(METRIC_COLUMNS) + "\n1,0.5,0.1,0.5,0.1,0.1,1\n", "line 2 has 7 cells"),
])
def test_read_metrics_rejects_bad_files(tmp_path, content, match):
    path = tmp_path / "metrics.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(TorchbasicsError, match=match):
        read_metrics(path)


def test_a_range_test_curve_is_no_run_but_force_removes_it_with_the_run(tmp_path):
    """``lr-find --out DIR`` then ``train --out DIR`` is allowed; a --force rerun without
    --lr auto leaves no curve of another run behind."""
    for name in (LR_CURVE, LR_DATA):
        (tmp_path / name).write_text("curve")
    prepare_run_dir(tmp_path)  # not refused: no run is there
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TorchbasicsError, match="already holds a run"):
        prepare_run_dir(tmp_path)
    prepare_run_dir(tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
