"""Downloads against a local HTTP server that misbehaves on demand (127.0.0.1 only).

The first segment of a URL path chooses how the server answers, so each mirror of a test
is simply ``server.mirror(mode)``:

- ``good``: the file; ``corrupt``: the file with bytes flipped (same length);
- ``403`` / ``404``: that HTTP error;
- ``drop``: a Content-Length of the whole file, half the body, then a closed connection;
- ``stall``: no answer at all; ``stall-body``: headers, then no body (both until teardown).
"""

from __future__ import annotations

import dataclasses
import gzip
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers import make_idx_dataset
from torchbasics.data.download import download_dataset
from torchbasics.data.idx import read_idx
from torchbasics.data.locate import content_md5, file_md5
from torchbasics.data.registry import DatasetSpec, get_dataset
from torchbasics.data.sources import load_located, locate
from torchbasics.errors import TorchbasicsError

FAST = 5.0  # timeout for tests where nothing should stall: generous, never waited for
SHORT = 0.2  # timeout for the stalling modes: each such test waits this long, once


@dataclasses.dataclass
class Server:
    """A running local server: its files, what it was asked, and mirrors on it."""

    url: str
    files: Path
    requests: list[str]  # request paths, in order
    agents: list[str]  # User-Agent headers received

    def mirror(self, mode: str) -> str:
        return f"{self.url}/{mode}/"

    def asked(self, mode: str) -> list[str]:
        """The file names requested under ``mode``."""
        return [p.split("/")[-1] for p in self.requests if p.startswith(f"/{mode}/")]


def _handler(files: Path, requests: list[str], agents: list[str], release: threading.Event):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            agents.append(self.headers.get("User-Agent", ""))
            _, mode, name = self.path.split("/", 2)
            path = files / name
            if mode in ("403", "404") or not path.is_file():
                self.send_error(int(mode) if mode in ("403", "404") else 404)
                return
            if mode == "stall":
                release.wait(10)
                return
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "stall-body":
                self.wfile.flush()
                release.wait(10)
                return
            if mode == "corrupt":
                body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
            if mode == "drop":
                body = body[: len(body) // 2]
                self.close_connection = True  # the handler returns: the socket is closed
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # keep pytest's output clean
            pass

    return Handler


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """urllib would send 127.0.0.1 requests through a configured proxy; never do that."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path_factory) -> Iterator[Server]:
    """A ThreadingHTTPServer on 127.0.0.1 serving a synthetic MNIST-named data set."""
    files = make_idx_dataset(tmp_path_factory.mktemp("served"), train=40, test=20)
    requests: list[str] = []
    agents: list[str] = []
    release = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files, requests, agents, release))
    httpd.handle_error = lambda *args: None  # stalled handlers write to closed sockets
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = httpd.server_address[:2]
    try:
        yield Server(f"http://{host}:{port}", files, requests, agents)
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def spec(server) -> DatasetSpec:
    """The MNIST registry entry with the served files' checksums and mirrors on the server."""
    mnist = get_dataset("mnist")
    splits = {
        split: dataclasses.replace(
            files,
            images_md5=file_md5(server.files / files.images),
            labels_md5=file_md5(server.files / files.labels),
            images_raw_md5=content_md5(server.files / files.images),
            labels_raw_md5=content_md5(server.files / files.labels),
        )
        for split, files in mnist.splits.items()
    }
    return dataclasses.replace(mnist, splits=splits, mirrors=(server.mirror("good"),))


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _names(folder: Path) -> set[str]:
    """Everything in ``folder``, hidden temporary files included."""
    return {path.name for path in folder.iterdir()}


def test_downloads_every_file_checked_and_readable(server, spec, tmp_path):
    dest = tmp_path / "new" / "folder"  # created, parents too
    assert download_dataset(spec, dest, progress=False, timeout=FAST) == dest
    assert _names(dest) == {name for name, _ in spec.files()}  # no temporary files left
    for name, md5 in spec.files():
        assert file_md5(dest / name) == md5
    assert read_idx(dest / "train-images-idx3-ubyte.gz").shape == (40, 28, 28)
    assert read_idx(dest / "t10k-labels-idx1-ubyte.gz").shape == (20,)
    assert all(agent.startswith("torchbasics/") for agent in server.agents)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("403", "HTTP 403"),
        ("404", "HTTP 404"),
        ("corrupt", "md5 mismatch"),
        ("drop", "connection dropped after"),
    ],
)
def test_a_failing_mirror_falls_through_to_the_next(server, spec, tmp_path, capsys, mode, reason):
    dest = tmp_path / "dest"
    mirrors = [server.mirror(mode), server.mirror("good")]
    download_dataset(spec, dest, mirrors=mirrors, progress=False, timeout=FAST)
    for name, md5 in spec.files():
        assert file_md5(dest / name) == md5
    assert _names(dest) == {name for name, _ in spec.files()}
    assert server.asked(mode) == server.asked("good") == [name for name, _ in spec.files()]
    warnings = capsys.readouterr().err
    assert f"train-images-idx3-ubyte.gz: {server.mirror(mode)} failed ({reason}" in warnings
    assert "trying the next mirror" in warnings


def test_connection_refused_falls_through(server, spec, tmp_path, capsys, closed_port):
    dead = f"http://127.0.0.1:{closed_port}"  # no trailing slash: one is added
    download_dataset(spec, tmp_path, mirrors=[dead, server.mirror("good")], progress=False,
                     timeout=FAST)
    assert len(server.asked("good")) == 4
    assert f"{dead}/ failed (connection refused)" in capsys.readouterr().err


def test_every_mirror_failing_raises_and_leaves_nothing(server, spec, tmp_path, closed_port):
    mirrors = [server.mirror("403"), f"http://127.0.0.1:{closed_port}/", server.mirror("corrupt")]
    with pytest.raises(TorchbasicsError) as caught:
        download_dataset(spec, tmp_path / "dest", mirrors=mirrors, progress=False, timeout=FAST)
    message = caught.value.message
    assert message.startswith("train-images-idx3-ubyte.gz: every mirror failed (")
    assert f"{mirrors[0]}: HTTP 403" in message
    assert f"{mirrors[1]}: connection refused" in message
    assert f"{mirrors[2]}: md5 mismatch" in message
    assert "\n" not in message and caught.value.fix
    assert _names(tmp_path / "dest") == set()  # not even a temporary file


def test_dropped_connection_leaves_nothing_half_written(server, spec, tmp_path):
    with pytest.raises(TorchbasicsError, match=r"connection dropped after \d+ of \d+ bytes"):
        download_dataset(spec, tmp_path, mirrors=[server.mirror("drop")], progress=False,
                         timeout=FAST)
    assert _names(tmp_path) == set()


@pytest.mark.parametrize("mode", ["stall", "stall-body"])
def test_timeout_is_a_mirror_failure(server, spec, tmp_path, mode):
    # "stall-body" times out while streaming into the temporary file: it must still read
    # as the mirror's failure, not as a failure to write the file.
    with pytest.raises(TorchbasicsError, match=r"every mirror failed \(.*: timed out\)"):
        download_dataset(spec, tmp_path, mirrors=[server.mirror(mode)], progress=False,
                         timeout=SHORT)
    assert _names(tmp_path) == set()


def test_present_files_are_not_fetched_again(server, spec, tmp_path):
    download_dataset(spec, tmp_path, progress=False, timeout=FAST)
    assert len(server.requests) == 4
    download_dataset(spec, tmp_path, progress=False, timeout=FAST)
    assert len(server.requests) == 4
    # A damaged file is replaced; the good ones are still left alone.
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    download_dataset(spec, tmp_path, progress=False, timeout=FAST)
    assert server.requests[4:] == ["/good/t10k-labels-idx1-ubyte.gz"]
    assert file_md5(tmp_path / "t10k-labels-idx1-ubyte.gz") == spec.files()[-1][1]


def test_a_regzipped_copy_of_the_official_file_is_kept(server, spec, tmp_path):
    """Debian re-gzips the official files: same content, other bytes. Not fetched again."""
    download_dataset(spec, tmp_path, progress=False, timeout=FAST)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    content = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(content, compresslevel=1, mtime=12345))
    assert file_md5(path) != spec.files()[-1][1]
    download_dataset(spec, tmp_path, progress=False, timeout=FAST)
    assert len(server.requests) == 4


def test_no_mirrors_is_an_error(spec, tmp_path):
    with pytest.raises(TorchbasicsError, match="no download mirrors"):
        download_dataset(dataclasses.replace(spec, mirrors=()), tmp_path, progress=False)


def test_progress_bar_stays_off_when_stderr_is_not_a_terminal(server, spec, tmp_path, capsys):
    download_dataset(spec, tmp_path, progress=True, timeout=FAST)
    assert capsys.readouterr().err == ""


def test_locate_downloads_missing_files_into_data_dir(server, spec, tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHBASICS_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./data from the working directory
    data_dir = tmp_path / "data_dir"
    data_dir.mkdir()
    located = locate(spec, data_dir, download=True, progress=False)
    assert (located.directory, located.origin) == (data_dir, "downloaded")
    assert load_located(located, "test").images.shape[0] == 20
    assert len(server.requests) == 4


def test_cli_download_from_a_given_mirror(server, spec, tmp_path, monkeypatch, capsys):
    from torchbasics.cli import main
    from torchbasics.data import registry

    monkeypatch.setitem(registry.DATASETS, "mnist", spec)  # checksums of the served files
    dest = tmp_path / "dest"
    assert main(["data", "download", "mnist", "--data-dir", str(dest),
                 "--mirror", server.mirror("403"), "--mirror", server.mirror("good")]) == 0
    assert "all 4 files present and verified" in capsys.readouterr().out
    assert _names(dest) == {name for name, _ in spec.files()}


def test_cli_download_of_files_with_wrong_checksums_fails_cleanly(server, tmp_path, capsys):
    from torchbasics.cli import main

    # The real registry entry: the served synthetic files cannot match the official md5s.
    dest = tmp_path / "dest"
    assert main(["data", "download", "mnist", "--data-dir", str(dest),
                 "--mirror", server.mirror("good")]) == 2
    err = capsys.readouterr().err
    assert "every mirror failed" in err and "md5 mismatch" in err and "Traceback" not in err
    assert _names(dest) == set()
