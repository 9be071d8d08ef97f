"""``torchbasics serve`` from the command line: start, answer, stop on Ctrl-C; its errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import png_bytes

pytestmark = pytest.mark.slow


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def test_serve_starts_answers_and_stops_on_ctrl_c(runs, mnist_digits):
    before = [snapshot(run) for run in runs]
    start = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "torchbasics", "serve", *map(str, runs), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        banner = process.stdout.readline() + process.stdout.readline()
        url = re.search(r"open (http://\S+)", banner).group(1)
        with httpx.Client(base_url=url, timeout=30) as client:
            while client.get("/healthz").status_code != 200:
                time.sleep(0.05)
            started = time.monotonic() - start
            answer = client.post("/api/models/mnist-cnn/predict",
                                 content=png_bytes(mnist_digits[9]),
                                 headers={"content-type": "image/png"})
            assert answer.json()["predictions"][0]["class"] == "9"
        assert started < 30, started  # a few seconds on an idle machine (imports, 3 models)
        assert ("mnist-cnn (image), fashion-mnist-softmax (image), bonus (tabular), "
                "houses (tabular)") in banner
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped") and "Traceback" not in err
    assert [snapshot(run) for run in runs] == before  # nothing written into the runs


def run_cli(*args: str, capsys) -> tuple[int, str]:
    from torchbasics.cli import main

    code = main(["serve", *args])
    return code, capsys.readouterr().err


def test_a_missing_extra_is_one_line(monkeypatch, capsys, runs):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now fails
    code, err = run_cli(str(runs[0]), capsys=capsys)
    assert code == 2
    assert err.strip() == (
        "torchbasics: error: torchbasics serve: the prediction web service (torchbasics "
        "serve) needs the 'serve' extra, and uvicorn is not installed. Install it with "
        "`pip install 'torchbasics[serve]'`")


def test_a_busy_port_is_one_line(capsys, runs):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run_cli(str(runs[2]), "--port", str(port), capsys=capsys)
    assert code == 2 and "cannot listen here" in err and "Pick another --port" in err


@pytest.mark.parametrize(("args", "words"), [
    (["--max-upload", "0", "--port", "0"], "--max-upload: must be more than 0"),
    (["--port", "70000"], "--port: must be 0-65535"),
    (["--host", "no such host.invalid", "--port", "0"], "cannot use this address"),
])
def test_bad_flags_are_one_line(capsys, runs, args, words):
    code, err = run_cli(str(runs[2]), *args, capsys=capsys)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_missing_run_is_one_line(capsys, tmp_path):
    code, err = run_cli(str(tmp_path / "nothing"), capsys=capsys)
    assert code == 2 and "no such run directory" in err


def test_listening_beyond_loopback_warns(monkeypatch, capsys, runs):
    import torchbasics.serve.server as server

    seen = {}

    def fake_run(app, sock, on_start=None):  # bind for real, but serve nothing
        seen["address"] = sock.getsockname()
        sock.close()

    monkeypatch.setattr(server, "run", fake_run)
    code, err = run_cli(str(runs[2]), "--host", "0.0.0.0", "--port", "0", capsys=capsys)
    assert code == 0 and seen["address"][0] == "0.0.0.0"
    assert "warning: listening on 0.0.0.0" in err and "--host 127.0.0.1" in err
    assert server.is_loopback("127.0.0.1") and server.is_loopback("::1")
    assert server.is_loopback("localhost") and not server.is_loopback("192.168.1.5")
