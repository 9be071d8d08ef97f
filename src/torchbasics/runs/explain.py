"""``torchbasics explain`` for any run: what its model learned and why it answered (the
work is the run's kind's: :mod:`.explain_pictures` for pictures, :mod:`.explain_table` for
tables)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torchbasics.explain.attributions import IG_STEPS
from torchbasics.runs import rundir
from torchbasics.runs.explain_pictures import CHECKED
from torchbasics.runs.kinds import KINDS, open_run
from torchbasics.runs.trained import ExplainRequest


def explain_run(run: str | os.PathLike, pictures: Sequence[str | os.PathLike] = (), *,
                out: str | os.PathLike | None = None, checkpoint_name: str | None = None,
                checked: int = CHECKED, steps: int = IG_STEPS, seed: int = 0,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """Explain a run's model into ``out`` (``RUN/explain`` unless given) and write
    ``explain.json``, which is returned.

    Args:
        run: a run directory, or a checkpoint file in one.
        pictures: pictures to explain, read as ``predict`` reads them (image models; by
            default one test picture per class).
        checkpoint_name: ``"best.pt"`` or ``"last.pt"``; ``None``: ``best.pt`` if the run
            has one, else ``last.pt``.
        checked: test pictures the sanity checks of the attribution maps run on.
        steps: Integrated Gradients' first number of integration points.
        seed: which test pictures are sampled, and t-SNE's start.
        log: where progress goes.
    """
    trained = open_run(run, checkpoint_name)
    folder = Path(out) if out is not None else trained.run_dir / "explain"
    folder.mkdir(parents=True, exist_ok=True)
    result = trained.explain(folder, ExplainRequest(pictures=tuple(pictures), checked=checked,
                                                    steps=steps, seed=seed, log=log))
    result = {"run": str(run), "checkpoint": trained.checkpoint_name} | result
    rundir.write_json(folder / "explain.json", result)
    return result


def summary_lines(result: dict[str, Any]) -> list[str]:
    """What ``explain`` prints of ``explain.json``: for pictures, the checks per method
    (failures flagged); for a table, its formula and each column's importance."""
    return KINDS[result["kind"]].explanation_lines(result)


def stderr_log(line: str) -> None:
    """Progress to stderr (stdout is for results)."""
    print(line, file=sys.stderr, flush=True)
