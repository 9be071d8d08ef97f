"""Training end to end on a small synthetic data set: files, determinism, refusal, resume."""

from __future__ import annotations

import json

import pytest
import torch

from torchbasics.checkpoint import load_checkpoint, model_from_checkpoint
from torchbasics.cli import main
from torchbasics.errors import TorchbasicsError
from torchbasics.runs.config import TrainConfig
from torchbasics.runs.rundir import read_metrics, read_metrics_records
from torchbasics.runs.train import train


def _config(idx_dir, **overrides) -> TrainConfig:
    # No deskewing: the synthetic classes are told apart by where their band is, which
    # deskewing (it centres the ink) would erase.
    settings = dict(dataset="mnist", model="softmax", epochs=3, batch_size=32, lr=0.05,
                    val_fraction=0.2, data_dir=str(idx_dir), precision="fp32", deskew=False)
    return TrainConfig(**(settings | overrides))


def test_run_directory_holds_every_file(idx_dir, tmp_path):
    summary = train(_config(idx_dir), tmp_path / "run", log=lambda line: None)
    run = tmp_path / "run"
    for name in ("config.json", "metrics.csv", "best.pt", "last.pt", "loss_curves.png",
                 "summary.json", "report.md"):
        assert (run / name).is_file(), name
    metrics = read_metrics(run / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2, 3]
    assert summary["final_val_error"] == pytest.approx(metrics["val_error"][-1])
    assert summary["lowest_val_error"] == pytest.approx(metrics["val_error"].min())
    assert summary["final_train_error"] == pytest.approx(metrics["train_error"][-1])
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "softmax" and config["versions"]["torch"] == torch.__version__
    assert config["train_images"] == 160 and config["val_images"] == 40
    assert "Lowest validation error" in (run / "report.md").read_text()


def test_training_learns_the_synthetic_classes(idx_dir, tmp_path):
    summary = train(_config(idx_dir, epochs=8), tmp_path / "run", log=lambda line: None)
    assert summary["lowest_val_error"] < 0.2  # chance is 0.9


def test_same_seed_same_numbers(idx_dir, tmp_path):
    first = train(_config(idx_dir, model="cnn"), tmp_path / "a", log=lambda line: None)
    second = train(_config(idx_dir, model="cnn"), tmp_path / "b", log=lambda line: None)
    for key in ("final_train_loss", "final_val_loss", "final_val_error"):
        assert first[key] == second[key]


def test_checkpoint_describes_itself(idx_dir, tmp_path):
    train(_config(idx_dir), tmp_path / "run", log=lambda line: None)
    checkpoint = load_checkpoint(tmp_path / "run" / "best.pt")
    assert checkpoint["model"] == "softmax" and checkpoint["input_shape"] == [1, 28, 28]
    assert checkpoint["class_names"] == [str(d) for d in range(10)]
    assert checkpoint["input"]["mean"] == [0.1307]
    model = model_from_checkpoint(checkpoint)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_existing_run_is_not_overwritten_without_force(idx_dir, tmp_path):
    train(_config(idx_dir, epochs=1), tmp_path / "run", log=lambda line: None)
    with pytest.raises(TorchbasicsError, match="already holds a run"):
        train(_config(idx_dir, epochs=1), tmp_path / "run", log=lambda line: None)
    train(_config(idx_dir, epochs=1), tmp_path / "run", force=True, log=lambda line: None)


def test_resume_after_an_interruption_gives_the_same_weights(idx_dir, tmp_path):
    config = _config(idx_dir, model="mlp-relu", epochs=4, augment=1.0)
    full = train(config, tmp_path / "full", log=lambda line: None)

    def interrupt_after_epoch_2(line: str) -> None:
        if line.startswith("epoch 2/4"):  # logged after epoch 2's checkpoints are saved
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "part", log=interrupt_after_epoch_2)
    assert load_checkpoint(tmp_path / "part" / "last.pt")["epoch"] == 2
    resumed = train(TrainConfig(), tmp_path / "part", resume=True, log=lambda line: None)
    assert resumed["final_val_loss"] == full["final_val_loss"]
    weights = load_checkpoint(tmp_path / "full" / "last.pt")["model_state"]
    again = load_checkpoint(tmp_path / "part" / "last.pt")["model_state"]
    assert all(torch.equal(weights[name], again[name]) for name in weights)
    assert len(read_metrics_records(tmp_path / "part" / "metrics.csv")) == 4


def test_cli_train_and_errors(idx_dir, tmp_path, capsys):
    argv = ["train", "--model", "softmax", "--dataset", "mnist", "--data-dir", str(idx_dir),
            "--epochs", "1", "--val-fraction", "0.2", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "lowest validation error" in out and "best.pt: epoch 1 (validation error" in out
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv[:-2], "--model", "cnnn", "--out", str(tmp_path / "x")]) == 2
    assert "Did you mean 'cnn'" in capsys.readouterr().err


def test_epoch_line_without_error_column():
    from torchbasics.training.loop import EpochRecord
    from torchbasics.training.progress import format_epoch

    line = format_epoch(EpochRecord(1, 0.5, None, 0.6, None, 0.1, 1.0, 100.0), 3)
    assert "train loss 0.5000  val loss 0.6000" in line and "error" not in line


def test_tensorboard_logs_every_epoch(idx_dir, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(_config(idx_dir, epochs=2, tensorboard=True), tmp_path / "run", log=lambda line: None)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [event.step for event in events.Scalars("error/val")] == [1, 2]
    assert "loss/train" in events.Tags()["scalars"]


def test_tensorboard_missing_is_a_clear_error(idx_dir, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(TorchbasicsError, match=r"pip install 'torchbasics\[tensorboard\]'"):
        train(_config(idx_dir, epochs=1, tensorboard=True), tmp_path / "run",
              log=lambda line: None)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_flags_for_the_other_kind_of_data_are_refused(idx_dir, tmp_path, capsys):
    image_run = ["train", "--dataset", "mnist", "--data-dir", str(idx_dir), "--epochs", "1",
                 "--out", str(tmp_path / "a"), "--target", "y"]
    assert main(image_run) == 2
    assert "--target is for your own tables, not for" in capsys.readouterr().err
    tabular_run = ["train", "--dataset", "bonus", "--model", "linear", "--out",
                   str(tmp_path / "b"), "--augment", "0.5", "--hidden", "8"]
    assert main(tabular_run) == 2
    assert ("--augment is for image data sets, not for 'Employee bonus (synthetic, tabular)'"
            in capsys.readouterr().err)
    assert main([*tabular_run[:-4], "--hidden", "8"]) == 2  # a model setting linear lacks
    assert "--hidden: model 'linear' does not take this setting" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_recipe_defaults_fill_only_what_was_not_given():
    from torchbasics.runs.config import resolve

    fashion = resolve(TrainConfig(dataset="fashion-mnist", model="convnet", lr=0.05))
    assert fashion.lr == 0.05 and fashion.batch_size == 256 and fashion.augment == 0.2
    mnist = resolve(TrainConfig(dataset="mnist", model="convnet"))
    assert mnist.batch_size == 128 and mnist.epochs == 15


def test_lowest_epoch_breaks_error_ties_by_loss():
    from torchbasics.runs.rundir import summarize
    from torchbasics.training.loop import EpochRecord

    records = [EpochRecord(epoch, 0.1, 0.01, loss, error, 0.1, 1.0, 1.0)
               for epoch, error, loss in ((1, 0.02, 0.3), (2, 0.01, 0.2), (3, 0.01, 0.1),
                                          (4, 0.03, 0.05))]
    assert summarize(records)["lowest_val_error_epoch"] == 3


def test_best_checkpoint_is_the_epoch_the_summary_and_report_name(idx_dir, tmp_path):
    from torchbasics.training.progress import noise

    summary = train(_config(idx_dir, epochs=4), tmp_path / "run", log=lambda line: None)
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] == summary["best_epoch"] and best["best_epoch"] == best["epoch"]
    metrics = read_metrics(tmp_path / "run" / "metrics.csv")
    band = metrics["val_error"].min() + noise(metrics["val_error"].min(), 40)
    assert summary["best_epoch"] == max(e for e, error in zip(
        metrics["epoch"], metrics["val_error"], strict=True) if error <= band)
    assert summary["best_val_error"] == pytest.approx(
        metrics["val_error"][summary["best_epoch"] - 1])
    report = (tmp_path / "run" / "report.md").read_text()
    assert f"| Kept in best.pt | epoch {summary['best_epoch']} (validation error " in report
    assert summary["best_reason"] in report


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--epochs", "0", "--epochs: must be at least 1, got 0"),
    ("--batch-size", "0", "--batch-size: must be at least 1, got 0"),
    ("--lr", "-1", "--lr: must be above 0, got -1.0"),
    ("--lr", "0", "--lr: must be above 0, got 0.0"),
    ("--momentum", "1", "--momentum: must be at least 0 and below 1, got 1.0"),
    ("--weight-decay", "-0.1", "--weight-decay: must be at least 0"),
    ("--label-smoothing", "1.5", "--label-smoothing: must be at least 0 and below 1"),
    ("--augment", "-1", "--augment: must be at least 0 and at most 5, got -1.0"),
    ("--augment", "10", "--augment: must be at least 0 and at most 5, got 10.0"),
    ("--warmup", "0", "--warmup: must be above 0 and below 1, got 0.0"),
    ("--val-fraction", "1", "--val-fraction: must be above 0 and below 1, got 1.0"),
    ("--lr", "nan", "--lr: must be a finite number, got nan"),
    ("--weight-decay", "inf", "--weight-decay: must be a finite number, got inf"),
    ("--seed", "-1", "--seed: must be at least 0, got -1"),
    ("--hidden", "0", "--hidden: must be at least 1, got 0"),
    ("--dropout", "1", "--dropout: must be at least 0 and below 1, got 1.0"),
    ("--model", "cnnn", "unknown model 'cnnn'. Did you mean 'cnn'?"),
    ("--dataset", "mnits", "unknown data set 'mnits'. Did you mean 'mnist'?"),
    ("--device", "tpu", "unknown device 'tpu'"),
    ("--early-stopping", "-2", "--early-stopping: must be at least 0, got -2"),
])
def test_out_of_range_settings_are_one_line_and_write_nothing(idx_dir, tmp_path, capsys, flag,
                                                              value, message):
    argv = ["train", "--model", "mlp-relu", "--data-dir", str(idx_dir), "--out",
            str(tmp_path / "run"), flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_bonus_run_refuses_zero_epochs(tmp_path, capsys):
    argv = ["train", "--dataset", "bonus", "--model", "linear", "--out", str(tmp_path / "run"),
            "--epochs", "0"]
    assert main(argv) == 2
    assert "--epochs: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_models_table_shows_each_data_sets_recipe(capsys):
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "deskew" in rows["cnn"] and "15 epochs" in rows["convnet"]
    assert "deskew" not in rows["linear"]  # a tabular model: image defaults do not apply
    assert main(["models", "--dataset", "fashion-mnist"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "deskew" not in rows["cnn"] and "batch 256" in rows["convnet"]
    assert "mirror-averaged" in rows["convnet"] and "mirror-averaged" not in rows["cnn"]
