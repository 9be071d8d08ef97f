"""The command line end to end: train on the bonus data, predict one employee and a CSV."""

from __future__ import annotations

import pandas as pd
import pytest

from torchbasics.checkpoint import CLASSIFIER, describe, save_checkpoint
from torchbasics.cli import main
from torchbasics.data.transforms import ModelInput
from torchbasics.models import create_model
from torchbasics.tabular.bonus import bonus_csv, generate_bonus


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """`torchbasics train --dataset bonus --model linear` once, for every test here."""
    out = tmp_path_factory.mktemp("cli") / "bonus"
    assert main(["train", "--dataset", "bonus", "--model", "linear", "--out", str(out),
                 "--quiet"]) == 0
    return out


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("torchbasics: error: ") and err.count("\n") == 1, err
    return err


def test_train_prints_the_formulas(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "bonus", "--model", "linear", "--epochs", "60",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch 60/60" in printed and "test MSE" in printed
    assert "learned:       bonus ≈ " in printed and "true rule:     bonus ≈ 2,000.00" in printed
    assert f"torchbasics predict {out}" in printed


def test_train_with_an_image_model_is_refused(tmp_path, capsys):
    assert main(["train", "--dataset", "bonus", "--model", "cnn", "--out",
                 str(tmp_path / "run")]) == 2
    assert "'cnn' does not do regression on table rows" in _error(capsys)
    assert not (tmp_path / "run").exists()


def test_predict_one_employee(run_dir, capsys):
    assert main(["predict", str(run_dir), "--set", "rating=8", "--set", "years=5",
                 "--set", "projects=12"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("predicted bonus: ")
    value = float(printed.split()[2].replace(",", ""))
    assert value == pytest.approx(2000 + 500 * 8 + 200 * 5 + 50 * 12, rel=0.03)  # true rule


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "rating=11"], "performance_rating: 11 is out of range"),
        (["--set", "rating=0", "--set", "years=5"], "performance_rating: 0 is out of range"),
        (["--set", "years=-1"], "years_experience: -1 is out of range"),
        (["--set", "projects=2.5"], "2.5 is not a whole number"),
        (["--set", "years=five"], "years_experience: 'five' is not a number"),
        (["--set", "age=30"], "--set: the model has no column 'age'"),
        (["--set", "rating"], "--set: 'rating' is not COLUMN=VALUE"),
        ([], "nothing to predict"),
    ],
)
def test_bad_single_inputs_are_refused(run_dir, capsys, flags, message):
    assert main(["predict", str(run_dir), *flags]) == 2
    assert message in _error(capsys)


def test_a_missing_value_is_filled_in_and_said(run_dir, capsys):
    assert main(["predict", str(run_dir), "--set", "rating=8", "--set", "years=5"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("predicted bonus: ")
    assert err.strip() == ("note: 1 value missing (projects_completed 1); filled in as in "
                           "training")


def test_predict_a_csv_adds_a_column(run_dir, tmp_path, capsys):
    employees = pd.DataFrame(generate_bonus(5, seed=1)).drop(columns="bonus")
    employees.insert(0, "name", [f"employee {i}" for i in range(5)])
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    employees.to_csv(source, index=False)
    assert main(["predict", str(run_dir), str(source), "--out", str(out)]) == 0
    assert "5 rows" in capsys.readouterr().out
    result = pd.read_csv(out)
    assert list(result.columns) == [*employees.columns, "predicted_bonus"]
    pd.testing.assert_frame_equal(result[employees.columns], employees)
    assert main(["predict", str(run_dir), "--set", f"rating={employees.iloc[2, 1]}", "--set",
                 f"years={employees.iloc[2, 2]}", "--set",
                 f"projects={employees.iloc[2, 3]}"]) == 0
    single = float(capsys.readouterr().out.split()[2].replace(",", ""))
    assert result["predicted_bonus"][2] == pytest.approx(single, abs=0.01)
    assert main(["predict", str(run_dir), str(source)]) == 0  # to standard output
    assert capsys.readouterr().out.splitlines()[0].endswith(",predicted_bonus")


def test_predict_a_csv_with_a_bad_row_is_refused(run_dir, tmp_path, capsys):
    source = tmp_path / "in.csv"
    source.write_text("performance_rating,years_experience,projects_completed\n"
                      "8,5,12\n12,5,12\n")
    assert main(["predict", str(run_dir), str(source), "--out", str(tmp_path / "out.csv")]) == 2
    assert "row 2 (line 3), column 'performance_rating': 12 is out of range" in _error(capsys)
    assert not (tmp_path / "out.csv").exists()
    assert main(["predict", str(run_dir), str(source), "--set", "rating=3"]) == 2
    assert "do not go together" in _error(capsys)


def test_table_flags_on_an_image_checkpoint_are_refused(tmp_path, capsys):
    description = describe(CLASSIFIER, "softmax", {}, input_shape=(1, 28, 28), dataset="mnist",
                           config={}, class_names=["a", "b"], mirror_average=False,
                           input=ModelInput((0.1,), (0.3,)).settings())
    weights = create_model("softmax", (1, 28, 28), 2).state_dict()
    save_checkpoint(tmp_path / "best.pt", {**description, "model_state": weights})
    assert main(["predict", str(tmp_path), "--set", "rating=8"]) == 2
    assert "--set is for a table model" in _error(capsys)


def test_the_bonus_table_renamed_trains_as_your_own(tmp_path, capsys):
    table = generate_bonus(300, seed=3).values()
    renamed = dict(zip(["score", "tenure", "projects", "payout"], table, strict=True))
    (tmp_path / "staff.csv").write_text(bonus_csv(renamed))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "staff.csv"), "--target", "payout",
                 "--model", "linear", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "learned:       payout ≈ " in printed and "true rule" not in printed
    assert main(["predict", str(out), "--set", "score=8", "--set", "tenure=5", "--set",
                 "projects=12"]) == 0
    assert capsys.readouterr().out.startswith("predicted payout: ")


def test_evaluate_a_table_run_on_its_test_rows_and_on_another_csv(run_dir, tmp_path, capsys):
    import json

    assert main(["evaluate", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert result["count"] == 200
    assert result["mse"] == pytest.approx(summary["metrics"]["test"]["mse"], rel=1e-6)
    (tmp_path / "other.csv").write_text(bonus_csv(generate_bonus(50, seed=9)))
    assert main(["evaluate", str(run_dir), "--csv", str(tmp_path / "other.csv"), "--json"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["count"] == 50 and set(other) >= {"mse", "rmse", "mae", "r2"}
    assert json.loads((run_dir / "evaluation.json").read_text())["count"] == 50
