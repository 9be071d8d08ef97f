"""Hostile tables: each is one line naming what is wrong (exit code 2), no traceback, and
nothing written. The cells a table may legitimately miss are tested in test_own_table.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from torchbasics.cli import main

GOOD = "area,region,price\n" + "".join(f"{50 + 7 * i},{'nsew'[i % 4]},{100 + 3 * i}\n"
                                       for i in range(40))


def train(text: str | bytes, *flags: str, target: str | None = "price", name: str = "t.csv"):
    """``train --dataset FILE --target T`` on a table holding ``text``."""
    def setup(tmp: Path) -> list[str]:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        chosen = ["--target", target] if target else []
        return ["train", "--dataset", str(path), *chosen, "--out", str(tmp / "run"), *flags]
    return setup


def huge(tmp: Path) -> list[str]:
    """A terabyte CSV (a sparse file: it takes no disk space)."""
    path = tmp / "huge.csv"
    with open(path, "wb") as handle:
        handle.write(b"a,b\n1,2\n")
        handle.truncate(1 << 40)
    return ["train", "--dataset", str(path), "--target", "b", "--out", str(tmp / "run")]


ROWS = "".join(f"{i},{i % 3}\n" for i in range(30))
CASES = [
    pytest.param(train(""), "the file is empty", id="empty-file"),
    pytest.param(train("  \n\n"), "the file is empty", id="only-blank-lines"),
    pytest.param(train("area,region,price\n"), "the CSV has a header but no rows",
                 id="header-only"),
    pytest.param(train(GOOD, target="cost"), "no column 'cost' (columns found: 'area', "
                 "'region', 'price')", id="no-such-target"),
    pytest.param(train(GOOD, target=None), "--target: which column should the model predict?",
                 id="no-target-given"),
    pytest.param(train("a,y\n" + "".join(f"{i},\n" for i in range(10)), target="y"),
                 "every cell of the target 'y' is empty", id="target-all-missing"),
    pytest.param(train("a,y\n" + "".join(f"{i},2.5\n" for i in range(20)), target="y"),
                 "the target 'y' is 2.5 in every row", id="constant-number-target"),
    pytest.param(train("a,y\n" + "".join(f"{i},yes\n" for i in range(20)), target="y"),
                 "the target 'y' has one class only ('yes')", id="one-class-only"),
    pytest.param(train("a,a,price\n1,2,3\n"), "the header names column 'a' more than once",
                 id="duplicate-column-names"),
    pytest.param(train("a,,price\n1,2,3\n"), "column 2 of the header has no name",
                 id="unnamed-column"),
    pytest.param(train(GOOD + "1,2\n"), "line 42 has 2 cells, the header has 3",
                 id="ragged-row"),
    pytest.param(huge, "tables are read whole into memory", id="far-larger-than-memory"),
    pytest.param(train(bytes(range(256)) * 40), "binary data, not CSV text",
                 id="binary-garbage"),
    pytest.param(train("area,region,price\n10,Zürich,3\n".encode("latin-1")),
                 "not UTF-8 text (byte 0xfc on line 2)", id="latin-1-text"),
    pytest.param(train(GOOD.replace("\n57,", "\ninf,", 1)), "row 2 (line 3), column 'area': "
                 "inf is not a finite number", id="inf-in-a-feature"),
    pytest.param(train(GOOD.replace(",103\n", ",-inf\n", 1)), "'-inf' is not a finite number, "
                 "and a regression target must be one", id="inf-in-the-target"),
    pytest.param(train(GOOD.replace("\n64,", "\nsixty-four,", 1)), "row 3 (line 4), column "
                 "'area': 'sixty-four' is not a number, and the rest of the column is",
                 id="numeric-column-with-a-stray-word"),
    pytest.param(train("a\n1\n2\n3\n", target="a"), "the table has one column only ('a')",
                 id="one-column-only"),
    pytest.param(train("a;b\n1;2\n", target="a,b"), "no column 'a,b'",
                 id="delimiter-misread-as-a-name"),
    pytest.param(train(GOOD, "--features", "area,height"), "no column 'height'",
                 id="unknown-feature"),
    pytest.param(train(GOOD, "--features", "area,price"), "--features: 'price' is the target",
                 id="target-as-a-feature"),
    pytest.param(train(GOOD, "--numeric", "region"), "row 1 (line 2), column 'region': 'n' is "
                 "not a number", id="forced-numeric-text"),
    pytest.param(train(GOOD, "--numeric", "area", "--categorical", "area"),
                 "'area' given two kinds", id="column-given-two-kinds"),
    pytest.param(train("id,price\n" + "".join(f"{i},{i * 1.5}\n" for i in range(20))),
                 "no column is left to learn from", id="nothing-to-learn-from"),
    pytest.param(train("a,c\n" + ROWS + "5,z\n", target="c"), "class 'z' has 1 sample(s)",
                 id="a-class-too-small-to-split"),
    pytest.param(train(GOOD, "--task", "regression", target="region"),
                 "'n' is not a finite number, and a regression target must be one",
                 id="text-target-as-regression"),
    pytest.param(train(GOOD, "--augment", "0.5"), "--augment is for image data sets",
                 id="image-setting-on-a-table"),
    pytest.param(train(GOOD, "--model", "cnn"), "'cnn' does not do regression on table rows",
                 id="image-model-on-a-table"),
    pytest.param(train(GOOD, "--model", "softmax"), "'softmax' does not do regression",
                 id="classifier-for-a-number"),
    pytest.param(train("a,b\n1,2\n", name="t.xlsx"), "neither a folder of pictures nor a "
                 "table", id="a-spreadsheet-not-a-csv"),
    pytest.param(lambda tmp: ["train", "--dataset", str(tmp / "nowhere.csv"), "--target", "y",
                              "--out", str(tmp / "run")], "no such folder or file",
                 id="missing-file"),
]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> the hash of its bytes (a sparse file by its size)."""
    return {str(path): (hashlib.sha256(path.read_bytes()).hexdigest()
                        if path.stat().st_size < 1 << 30 else str(path.stat().st_size))
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize(("setup", "expected"), CASES)
def test_a_hostile_table_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, setup,
                                                               expected):
    argv = setup(tmp_path)
    before = snapshot(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("torchbasics: error: "), err
    assert expected in lines[0]
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "run").exists()


def test_there_are_at_least_20_distinct_hostile_tables():
    ids = [case.id for case in CASES]
    assert len(set(ids)) == len(ids) >= 20
