"""The command line as a whole: behaviour shared by every command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_a_closed_pipe_ends_quietly(unbuffered):
    """`torchbasics models | head -1`: no traceback when the reader goes away."""
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    child = subprocess.Popen([sys.executable, "-m", "torchbasics", "models"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    child.stdout.close()  # before it writes anything
    _, stderr = child.communicate(timeout=120)
    assert stderr == b""
    assert child.returncode == 141
