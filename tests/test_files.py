"""Atomic writes: all or nothing, no temp files left, the usual file mode."""

from __future__ import annotations

import os
import stat

import pytest

from torchbasics.errors import TorchbasicsError
from torchbasics.files import atomic_write, write_text


def test_written_file_has_the_mode_a_plain_open_gives(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_failure_in_the_body_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "a.txt", "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("crash")
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_unwritable_folder_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(TorchbasicsError, match="cannot write here"):
        write_text(tmp_path / "file" / "a.txt", "x")
