"""The run directory: what a training run leaves behind, each file written atomically.

    config.json       every setting, library versions, device, data counts
    metrics.csv       one row per epoch
    best.pt, last.pt  checkpoints (the epoch kept, see training/progress.py; the latest)
    loss_curves.png   loss and error, train vs validation
    summary.json      final train error, final/lowest validation error, the epoch kept
                      in best.pt and why, test error, time
    report.md         the summary with the plots
    confusion_matrix.png, mistakes.png, evaluation.json
                      evaluate's confusion matrix, most confidently wrong pictures and
                      figures as JSON (a table classifier's training also writes the matrix)
    skipped.csv       your own pictures only: the files left out, and why
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from torchbasics.errors import TorchbasicsError
from torchbasics.files import write_text
from torchbasics.training.loop import EpochRecord
from torchbasics.training.progress import rank

RUN_FILES = (
    "config.json", "metrics.csv", "best.pt", "last.pt", "loss_curves.png", "summary.json",
    "report.md", "confusion_matrix.png", "mistakes.png", "evaluation.json", "skipped.csv",
)
# The range test's curve and data (``--lr auto``, or ``lr-find``): written into a run by
# its --lr auto, and removed with the run's files by --force, but alone no sign of a run
# (``lr-find --out`` may write them into a folder a run goes to next).
LR_CURVE, LR_DATA = "lr_find.png", "lr_find.json"
# The columns of metrics.csv, one row per epoch (errors are fractions 0..1, empty for regression).
METRIC_COLUMNS = [field.name for field in dataclasses.fields(EpochRecord)]
# Columns added since 0.2.0, and the value a file without them means.
ADDED_COLUMNS: dict[str, float] = {"recovered": 0}


def check_run_dir(out: str | os.PathLike, *, force: bool = False, resume: bool = False) -> Path:
    """Refuse ``out`` when it cannot take this run; changes nothing.

    Called before loading any data, so a mistake is reported at once; the folder is made
    ready by :func:`prepare_run_dir` only when everything else has been checked, so a run
    that fails on bad input leaves an earlier run (even with ``force``) as it was.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TorchbasicsError("exists and is not a folder", where=out, fix="choose another --out")
    if resume:
        if (out / "config.json").is_file() and not (out / "last.pt").is_file():
            raise TorchbasicsError("nothing to resume: the run stopped before its first epoch "
                                   "ended (no last.pt)", where=out,
                                   fix="start it again with --force instead of --resume")
        if not (out / "last.pt").is_file():
            raise TorchbasicsError("nothing to resume: no last.pt here", where=out,
                                   fix="start a new run without --resume")
        return out
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not force:
        raise TorchbasicsError(
            f"already holds a run ({', '.join(existing)})", where=out,
            fix="choose another --out, --resume it, or pass --force to overwrite it",
        )
    return out


def prepare_run_dir(out: str | os.PathLike, *, force: bool = False, resume: bool = False) -> Path:
    """Create ``out``, refusing to overwrite an earlier run unless ``force`` (or ``resume``).

    Temporary files left by a run that was killed while writing are removed.
    """
    out = check_run_dir(out, force=force, resume=resume)
    if not resume:  # --force: remove only files a run writes, nothing else
        for name in (*RUN_FILES, LR_CURVE, LR_DATA):
            if (out / name).exists():
                (out / name).unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TorchbasicsError(f"cannot create the folder ({exc.strerror})", where=out,
                               fix="choose a folder you can write to") from exc
    for name in RUN_FILES:  # named as files.atomic_write names them
        for stale in out.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    return out


def write_json(path: str | os.PathLike, values: dict[str, Any]) -> None:
    """Write ``values`` as indented JSON, atomically."""
    write_text(path, json.dumps(values, indent=2) + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON file of the run, with a clear error when missing or damaged."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TorchbasicsError("file not found", where=path,
                               fix="is this a run directory made by `torchbasics train`?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TorchbasicsError(f"damaged JSON ({exc})", where=path) from exc


def write_config(out: Path, config: Any, **facts: Any) -> None:
    """``config.json``: every setting of the (resolved) ``config``, then ``facts`` about the
    run (device, data counts, ...) and the library versions."""
    from torchbasics.checkpoint import library_versions

    write_json(out / "config.json", {**config.to_dict(), **facts,
                                     "versions": library_versions()})


def write_skipped(out: Path, skipped: list[Any]) -> Path:
    """``skipped.csv``: each file of the user's pictures that was left out, and why."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "reason"])
    writer.writerows([item.name, item.reason] for item in skipped)
    write_text(out / "skipped.csv", buffer.getvalue())
    return out / "skipped.csv"


def write_metrics(path: str | os.PathLike, records: list[EpochRecord]) -> None:
    """Rewrite ``metrics.csv`` with every epoch so far (atomically, so never half a row).

    Floats get 6 significant digits, a missing error (regression) an empty cell.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for record in records:
        writer.writerow([_cell(getattr(record, name)) for name in METRIC_COLUMNS])
    write_text(path, buffer.getvalue())


def _cell(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def metrics_columns(records: list[EpochRecord]) -> dict[str, np.ndarray]:
    """The records as columns (float64, NaN where an error is missing), as the plots take
    them: the same as :func:`read_metrics` gives for the file."""
    return {name: np.array([np.nan if getattr(r, name) is None else getattr(r, name)
                            for r in records], dtype=np.float64) for name in METRIC_COLUMNS}


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a run's ``metrics.csv`` as columns, checking it has every column and an epoch.

    Returns:
        Each of :data:`METRIC_COLUMNS`, in order, -> its float64 values, one per epoch
        (NaN where a cell is empty: the errors of a regression run), as
        :func:`metrics_columns` gives them and the plots take them.
    """
    rows = _read_metric_rows(Path(path))
    return {name: np.array([np.nan if row[name] is None else row[name] for row in rows],
                           dtype=np.float64) for name in METRIC_COLUMNS}


def read_metrics_records(path: str | os.PathLike) -> list[EpochRecord]:
    """The epochs recorded in ``metrics.csv`` (empty when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for row in _read_metric_rows(path):  # checked: columns present, values numbers or empty
        epoch = row["epoch"]
        records.append(EpochRecord(**(row | {"epoch": None if epoch is None else int(epoch),
                                             "recovered": int(row["recovered"] or 0)})))
    return records


def _read_metric_rows(path: Path) -> list[dict[str, float | None]]:
    """Each epoch of ``metrics.csv`` as column -> number (None for an empty cell), refusing
    a missing or unreadable file, missing columns, no epochs and cells that are not numbers."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TorchbasicsError("file not found", where=path,
                               fix="is this a run directory made by `torchbasics train`?") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise TorchbasicsError(f"not a readable CSV file ({exc})", where=path) from exc
    lines = [(number, cells) for number, cells in enumerate(csv.reader(io.StringIO(text)), 1)
             if cells]  # blank lines are skipped
    if not lines:
        raise TorchbasicsError("not a readable CSV file (it is empty)", where=path)
    header = lines[0][1]
    missing = [column for column in METRIC_COLUMNS
               if column not in header and column not in ADDED_COLUMNS]
    if missing:
        raise TorchbasicsError(f"missing columns: {', '.join(missing)}", where=path,
                               fix=f"metrics.csv needs the columns {','.join(METRIC_COLUMNS)}")
    if len(lines) == 1:
        raise TorchbasicsError("no epochs recorded", where=path,
                               fix="train for at least one epoch")
    rows = []
    for number, cells in lines[1:]:
        if len(cells) != len(header):
            raise TorchbasicsError(f"line {number} has {len(cells)} cells for the header's "
                                   f"{len(header)}", where=path)
        named = {name: str(ADDED_COLUMNS[name]) for name in ADDED_COLUMNS} | dict(
            zip(header, cells, strict=True))
        rows.append({name: _metric(named[name], name, number, path) for name in METRIC_COLUMNS})
    return rows


def _metric(cell: str, column: str, line: int, path: Path) -> float | None:
    """A cell of ``metrics.csv`` as a number; None when empty."""
    if not cell.strip():
        return None
    try:
        return float(cell)
    except ValueError:
        raise TorchbasicsError(f"column {column} is not numeric ({cell!r} on line {line})",
                               where=path) from None


def summarize(records: list[EpochRecord], **extra: Any) -> dict[str, Any]:
    """The figures a run is judged by: final train/validation error, lowest validation error.

    The epoch ``best.pt`` keeps is the run's to add (``Progress.kept()``): a table run has
    no best.pt.
    """
    last = records[-1]
    summary: dict[str, Any] = {
        "epochs": last.epoch,
        "final_train_loss": last.train_loss,
        "final_val_loss": last.val_loss,
    }
    if last.val_error is not None:
        lowest = min(records, key=rank)  # the first, ties going to the lower loss
        summary |= {
            "final_train_error": last.train_error,
            "final_val_error": last.val_error,
            "lowest_val_error": lowest.val_error,
            "lowest_val_error_epoch": lowest.epoch,
        }
    return summary | extra


def write_figures(out: Path, records: list[EpochRecord]) -> None:
    """``loss_curves.png`` and ``report.md`` for the run so far."""
    from torchbasics.plots import loss_curves, save_figure
    from torchbasics.runs.report import write_report

    metrics = metrics_columns(records)
    if records[-1].val_error is None:  # regression: the MSE falls by orders of magnitude
        figure = loss_curves(metrics, title="Mean squared error, train vs validation",
                             loss_label="MSE", log_loss=True)
    else:
        figure = loss_curves(metrics)
    save_figure(figure, out / "loss_curves.png")
    write_report(out)
