"""Two ``tune`` processes share one study through a real PostgreSQL server.

The test starts its own server (Debian's ``postgresql``: ``initdb`` and ``pg_ctl`` in a
temporary folder, bound to 127.0.0.1 on a free port, as the ``postgres`` user when the tests
run as root, since the server refuses root) and stops it afterwards. Without PostgreSQL it
skips, saying why; CI installs it and sets ``TORCHBASICS_REQUIRE_POSTGRES=1`` so that it
fails instead.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

SERVER_BINARIES = ("initdb", "pg_ctl")


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on the PATH, or Debian's own place."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def as_server_user(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` user when we are root (the server refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server of this test's own; its URL (trust authentication, loopback)."""
    binaries = postgres_bin()
    if binaries is None:
        reason = "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        if os.environ.get("TORCHBASICS_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Not under pytest's own folders: those are the test user's alone (mode 700), and the
    # server runs as another user when the tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="torchbasics-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", "tester",
                                   "--auth=trust"]), check=True, capture_output=True)
    options = f"-h 127.0.0.1 -p {port} -k {folder}"
    subprocess.run(as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
                                   "-l", str(folder / "log"), "-w", "start"]), check=True,
                   capture_output=True)
    try:
        yield f"postgresql://tester@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                                       "-w", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory) -> Path:
    from sklearn.datasets import load_wine

    path = tmp_path_factory.mktemp("tables") / "wine.csv"
    load_wine(as_frame=True).frame.to_csv(path, index=False)
    return path


def test_two_processes_share_one_study_through_postgresql(postgres_url, wine_csv, tmp_path):
    outs = [tmp_path / "machine-a", tmp_path / "machine-b"]
    processes = [subprocess.Popen(
        [sys.executable, "-m", "torchbasics", "tune", "--dataset", str(wine_csv), "--target",
         "target", "--trials", "6", "--no-prune", "--storage", postgres_url, "--study", "wine",
         "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for out in outs]
    finished = [process.communicate(timeout=300) for process in processes]
    for process, (_, errors) in zip(processes, finished, strict=True):
        assert process.returncode == 0, errors
    study = optuna.load_study(study_name="wine", storage=postgres_url)
    trials = study.get_trials()
    numbers = [trial.number for trial in trials]
    assert sorted(numbers) == list(range(len(trials))) and len(trials) >= 6
    # Every trial was run by exactly one process, in its own folder; both took part.
    ran = [{int(p.name) for p in (out / "trials").iterdir()} for out in outs]
    assert ran[0].isdisjoint(ran[1]) and ran[0] | ran[1] == set(numbers)
    assert all(ran), ran
    # The recipe is queued once, by the process that made the study.
    assert sum(trial.system_attrs.get("fixed_params") is not None for trial in trials) == 1
    # The last to finish saw every trial, and chose the best of them all.
    results = [json.loads((out / "results.json").read_text()) for out in outs]
    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    last = max(results, key=lambda r: len(r["trials"]))
    assert last["best"]["value"] == best.value and len(last["trials"]) == len(trials)
    assert "postgresql://tester@127.0.0.1" in last["storage"]


def test_an_existing_study_with_other_settings_is_refused(postgres_url, wine_csv, tmp_path):
    command = [sys.executable, "-m", "torchbasics", "tune", "--dataset", str(wine_csv),
               "--target", "target", "--trials", "1", "--storage", postgres_url, "--study",
               "other", "--out"]
    subprocess.run([*command, str(tmp_path / "a")], check=True, capture_output=True)
    done = subprocess.run([*command, str(tmp_path / "b"), "--search", "lr=0.01:0.1:log"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "the study 'other' was made with other settings" in done.stderr


def test_processes_that_open_a_new_database_together_all_get_it(postgres_url):
    """They race to create Optuna's tables; the losers' CREATE fails on what the winner
    made, and opening again finds them (what failed once in CI, with two tune processes)."""
    import concurrent.futures

    import psycopg

    with psycopg.connect(postgres_url.replace("postgresql://", "postgresql://", 1),
                         autocommit=True) as connection:
        connection.execute("CREATE DATABASE race")
    url = postgres_url.rsplit("/", 1)[0] + "/race"
    from torchbasics.tune.study import open_storage

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        storages = list(pool.map(lambda _: open_storage(url), range(6)))
    assert all(storage.get_all_studies() == [] for storage in storages)
