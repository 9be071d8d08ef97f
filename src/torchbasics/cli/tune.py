"""``torchbasics tune``: search the settings that train best on your data."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DESCRIPTION = """\
Search the training settings that give the lowest validation error on your data (a
registered data set, a folder of pictures, list files or a CSV table, as `train` takes),
with Optuna: a seeded TPE sampler, and successive-halving pruning on the validation
error each epoch (the training loop's own). Every trial is a normal run directory
(OUT/trials/0007/): every command works on it, and OUT/best links the chosen one. The
choice is made on validation alone; the test split is evaluated once, for the chosen
trial.

What is searched comes from the settings' own declarations: learning rate, weight decay,
batch size, label smoothing and augmentation (pictures), and the model's own settings
(hidden sizes and depth, width, filters, dropout). A setting given as a flag is fixed for
every trial; --search narrows one, adds one, or fixes it.

The study lives in OUT/study.db (SQLite): kill the command, run it again, and it goes on
(finished trials kept, the interrupted one tried again, --trials counting the study's
trials). --storage URL --study NAME shares one study between processes and machines through
a database (PostgreSQL); each may give its own --out.

OUT/results.md and results.json: the leaderboard, the chosen settings as a `torchbasics
train` command, and figures (history.png, importances.png, parallel.png)."""

EXAMPLES = """\
examples:
  torchbasics tune --dataset photos/ --time-budget 20m --out tune/photos
  torchbasics tune --dataset prices.csv --target price --trials 40 --out tune/prices
  torchbasics tune --dataset fashion-mnist --model mlp-relu convnet --time-budget 1h \\
      --search lr=0.01:0.5:log --search batch-size=64,128 --out tune/fashion
  torchbasics tune --dataset wine --trials 100 --out tune/wine \\
      --storage postgresql://me:secret@db-host/studies --study wine   # on each machine"""


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``tune`` to the top-level parser."""
    parser = commands.add_parser(
        "tune", help="search the best settings for your data within your time (Optuna)",
        description=DESCRIPTION, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter, populate=add_tune_flags)
    parser.set_defaults(handler=run_tune)


def add_tune_flags(parser: argparse.ArgumentParser) -> None:
    """``tune``'s own flags, then ``train``'s settings (each fixes that setting)."""
    from torchbasics.cli.flags import add_setting_flags
    from torchbasics.models import list_models
    from torchbasics.settings import parse_duration

    own = parser.add_argument_group("the search")
    own.add_argument("--out", type=Path, required=True,
                     help="folder of the study: trials/, best, results.md, study.db")
    own.add_argument("--model", dest="models", nargs="+", metavar="MODEL",
                     choices=list_models(),
                     help="the model, or several to choose among (default: the data set's "
                     "own)")
    own.add_argument("--trials", type=int, metavar="N",
                     help="trials in the study, counting those of an earlier run of it "
                     "(with --time-budget: at most)")
    own.add_argument("--time-budget", dest="tune_budget", type=parse_duration, metavar="TIME",
                     help="the whole command's time, start to exit: 300, 20m, 1h. Each "
                     "picture trial gets an equal share as its own time budget (about a "
                     "minute, or budget / --trials); a table trial trains its recipe's "
                     "epochs, cut short if the time runs out")
    own.add_argument("--trial-time", type=parse_duration, metavar="TIME",
                     help="each picture trial's own time budget (default: an equal share of "
                     "--time-budget, about a minute each); with --trials alone, the trials "
                     "train their recipe's length unless this is given")
    own.add_argument("--search", action="append", default=[], metavar="NAME=RANGE",
                     help="narrow, add or fix one setting: NAME=LOW:HIGH, NAME=LOW:HIGH:log, "
                     "NAME=A,B,C or NAME=A (e.g. lr=0.01:0.3:log, batch-size=64,128, "
                     "hidden-layers=1:2); repeat for several")
    own.add_argument("--prune", action=argparse.BooleanOptionalAction, default=True,
                     help="stop a trial whose validation error falls behind the others' at "
                     "the same epoch (successive halving)")
    own.add_argument("--storage", metavar="URL",
                     help="a database that holds the study, to share it between processes "
                     "and machines, e.g. postgresql://USER:PASSWORD@HOST/DB (default: "
                     "OUT/study.db)")
    own.add_argument("--study", default="tune", metavar="NAME",
                     help="the study's name in the storage (default: tune)")
    own.add_argument("--verbose", action="store_true", help="show each trial's epoch lines")
    own.add_argument("--quiet", action="store_true", help="print only the result")
    add_setting_flags(parser, exclude=("model", "time_budget"))


def run_tune(args: argparse.Namespace) -> int:
    """Run the search and say where the results are."""
    from torchbasics.cli.flags import config_from_args
    from torchbasics.errors import TorchbasicsError
    from torchbasics.runs.budget import process_age
    from torchbasics.tune.search import TuneRequest, tune

    if args.trials is not None and args.trials < 1:
        raise TorchbasicsError(f"must be at least 1, got {args.trials}", where="--trials")
    if args.tune_budget is not None and args.tune_budget <= 0:
        raise TorchbasicsError("must be above 0", where="--time-budget")
    request = TuneRequest(config_from_args(args), args.out, models=args.models or [],
                          trials=args.trials, time_budget=args.tune_budget,
                          trial_time=args.trial_time,
                          search=args.search, prune=args.prune, storage=args.storage,
                          study=args.study, started=time.perf_counter() - process_age())

    def log(line: str) -> None:
        if not args.quiet:
            print(line, flush=True)

    results = tune(request, log=log, progress=sys.stderr.isatty() and args.verbose,
                   verbose=args.verbose)
    if args.quiet:
        print(results["best"]["command"])
    return 0
