"""Where a study lives, so that nothing is lost: a database Optuna keeps it in.

By default, a SQLite file in the tune folder (``study.db``), used by one ``tune`` process at
a time (a lock file says so): a process killed outright (``kill -9``) leaves its trial
"running" in the file, and the next ``tune`` in that folder marks it failed and queues its
settings again. ``--storage URL`` names a database that several processes, on one machine
or many, share (PostgreSQL through SQLAlchemy, as Optuna supports): there each process
writes a heartbeat while it trains, and a trial whose heartbeat stops is marked failed and
queued again by whichever process looks next.

A study remembers what it searches (the data, the models, the space, the fixed settings);
continuing it with other ones is refused, since its trials would not be comparable.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torchbasics.errors import TorchbasicsError
from torchbasics.extras import require

DEFAULT_FILE = "study.db"
LOCK_FILE = ".tune.lock"
HEARTBEAT_SECONDS = 10  # a running trial's process writes a heartbeat this often ...
GRACE_SECONDS = 60  # ... and is taken for dead after this long without one
RETRIES = 2  # an interrupted trial's settings are tried again at most this many times
CREATE_ATTEMPTS = 4  # opening a new database, which another process may be setting up
SIGNATURE = "torchbasics"  # the study's user attribute that holds what it searches
INTERRUPTED = "interrupted"  # a trial's "failure" when Ctrl-C or a killed process ended it


def default_storage(folder: Path) -> str:
    """The SQLite URL of the study file in ``folder``."""
    return f"sqlite:///{(folder / DEFAULT_FILE).resolve()}"


def shown_url(url: str) -> str:
    """``url`` with its password hidden, for messages and ``results.json``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def open_storage(url: str) -> Any:
    """An Optuna ``RDBStorage`` for ``url``, with heartbeats and retries of dead trials.

    Raises:
        TorchbasicsError: a URL that is not one, a driver that is missing, a database that
            cannot be reached; one line.
    """
    require("optuna", "tune", where="tune")
    if url.startswith("postgresql"):  # SQLAlchemy's default PostgreSQL driver
        require("psycopg", "tune", where="--storage")
    import warnings

    import optuna
    from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # tune says what happens itself
    try:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                with warnings.catch_warnings():  # heartbeats: "experimental" in Optuna's words
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(
                        url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                        heartbeat_stale_trial_callback=retry_callback(),
                        engine_kwargs={"pool_pre_ping": True})
            except SQLAlchemyError as exc:
                # Processes started together on a new database race to create Optuna's
                # tables; the loser's CREATE fails on what the winner made. Again, they exist.
                if isinstance(exc, OperationalError) or attempt == CREATE_ATTEMPTS:
                    raise
                time.sleep(0.5 * attempt)
    except (ArgumentError, ValueError) as exc:
        raise TorchbasicsError(f"not a database URL: '{shown_url(url)}' ({exc})",
                               where="--storage", fix="write e.g. postgresql://USER:PASSWORD@"
                               "HOST:5432/DATABASE or sqlite:///FILE") from None
    except ImportError as exc:
        raise TorchbasicsError(f"no driver for the database {shown_url(url)} is installed "
                               f"({exc.__cause__ or exc})", where="--storage",
                               fix="install the one SQLAlchemy names for it") from None
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        what = "cannot reach" if isinstance(exc, OperationalError) else "cannot use"
        raise TorchbasicsError(f"{what} the study's database {shown_url(url)}: {reason}",
                               where="--storage",
                               fix="check that the server runs and the URL is right") from None


def retry_callback() -> Any:
    """Optuna's callback that queues a dead trial's settings again (at most
    :data:`RETRIES` times)."""
    import warnings

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES)


def open_study(storage: Any, name: str, signature: dict[str, Any], *, sampler: Any,
               pruner: Any) -> tuple[Any, bool]:
    """The study ``name`` in ``storage``, created with ``signature`` or continued if it
    has the same one; and whether this call made it.

    Raises:
        TorchbasicsError: the study exists and searches something else.
    """
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, sampler=sampler,
                                pruner=pruner, direction="minimize", load_if_exists=True)
    recorded = study.user_attrs.get(SIGNATURE)
    if recorded is None:
        study.set_user_attr(SIGNATURE, signature)
        return study, True
    if recorded != signature:
        different = sorted(key for key in {*recorded, *signature}
                           if recorded.get(key) != signature.get(key))
        raise TorchbasicsError(
            f"the study '{name}' was made with other settings ({', '.join(different)} differ)",
            where="--study", fix="give the same data, models and --search as it was made "
            "with, or another --study name (or --out folder)")
    return study, False


def retry_interrupted(study: Any, storage: Any, *, running_too: bool) -> list[int]:
    """Queue again the settings of the trials an interruption ended; their numbers.

    A trial failed by Ctrl-C is retried once; with ``running_too``, so is every trial still
    "running", marked failed first: only for a study no other process uses (the default
    file, locked), where such a trial is one whose process died.
    """
    import optuna

    retry = retry_callback()
    study_id = storage.get_study_id_from_name(study.study_name)
    trials = study.get_trials(deepcopy=False)
    retried = {trial.system_attrs.get("failed_trial") for trial in trials}
    numbers = []
    for trial in trials:
        running = trial.state == optuna.trial.TrialState.RUNNING
        stopped = (trial.state == optuna.trial.TrialState.FAIL
                   and trial.user_attrs.get("failure") == INTERRUPTED)
        if trial.number in retried or not (stopped or (running and running_too)):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        if running:
            storage.set_trial_user_attr(trial_id, "failure", INTERRUPTED)
            storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        retry(study, storage.get_trial(trial_id))
        numbers.append(trial.number)
    return numbers


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold the tune folder for this process (the default storage is one process's).

    Raises:
        TorchbasicsError: another ``tune`` holds it.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the user runs one at a time
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TorchbasicsError("another `torchbasics tune` is working in this folder",
                                   where=folder, fix="wait for it, or share one study between "
                                   "processes through a database (--storage)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
