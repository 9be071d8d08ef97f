"""When a study's session starts another trial: ``--trials`` counts trials that ended and
those other processes are training."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

pytest.importorskip("optuna")

from torchbasics.tune.session import Session
from torchbasics.tune.study import INTERRUPTED


def study_of(*states: str, interrupted: int = 0) -> SimpleNamespace:
    """A study whose trials are in ``states`` (and ``interrupted`` failed ones that an
    interruption ended: they are tried again, so they do not count)."""
    trials = [SimpleNamespace(state=SimpleNamespace(name=state), user_attrs={})
              for state in states]
    trials += [SimpleNamespace(state=SimpleNamespace(name="FAIL"),
                               user_attrs={"failure": INTERRUPTED})] * interrupted
    return SimpleNamespace(get_trials=lambda deepcopy=False: trials)


def session(study: SimpleNamespace, trials: int) -> Session:
    plan = SimpleNamespace(request=SimpleNamespace(trials=trials), deadline=math.inf)
    return Session(plan, study, storage=None, trial_seconds=None, log=print)


@pytest.mark.parametrize("states, interrupted, room", [
    (("COMPLETE", "PRUNED"), 0, True),
    (("COMPLETE", "PRUNED", "FAIL"), 0, False),
    (("COMPLETE", "PRUNED", "RUNNING"), 0, False),  # another process trains the third
    (("COMPLETE", "RUNNING"), 1, True),
    (("WAITING", "COMPLETE", "PRUNED"), 0, True),  # queued, not started: not counted
])
def test_trials_other_processes_train_count_toward_trials(states, interrupted, room):
    assert session(study_of(*states, interrupted=interrupted), trials=3).room_for_another() \
        is room
