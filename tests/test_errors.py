"""``TorchbasicsError``: the one-line message the CLI prints."""

from __future__ import annotations

from torchbasics.errors import TorchbasicsError


def test_the_message_is_where_what_and_fix():
    error = TorchbasicsError("bad magic number 0x0", where="a.idx", fix="re-download it")
    assert str(error) == "a.idx: bad magic number 0x0. Re-download it"


def test_a_newline_or_tab_quoted_in_it_is_shown_escaped_on_one_line():
    # Hypothesis found this: a quoted CSV cell ',\n,,' named in a message split it in two.
    error = TorchbasicsError("one class only (',\n,,')", where="dir\tname/é.csv")
    assert str(error) == "dir\\tname/é.csv: one class only (',\\n,,')"
