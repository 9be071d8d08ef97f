"""``scripts/gpu_check.sh``: it parses, says how to use it, refuses what it does not know,
and ``.ci/run`` runs it before the tests. Its checks themselves run there, on the CI
machine's own device (a minute or two), not here."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60)


def test_the_script_parses():
    result = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_help_says_what_it_checks_and_how_it_reports():
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bash scripts/gpu_check.sh [--keep DIR]")
    for words in ("--device auto", "NCCL", "never downloaded", '"ok NAME ..."',
                  '"skip NAME: why"', '"FAIL NAME: what"', "exits 1"):
        assert words in result.stdout, words


def test_an_unknown_option_is_refused_before_anything_runs():
    result = _run("--gpu")
    assert result.returncode == 2
    assert result.stderr.strip() == "gpu_check: unknown option '--gpu' (see --help)"
    assert result.stdout == ""
    assert _run("--keep").returncode == 2


def test_ci_runs_it_before_the_tests():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    check = lines.index("bash scripts/gpu_check.sh")
    tests = lines.index('eval "$test_command"')
    assert check < tests
