"""Which epoch should ``best.pt`` keep? Rules for choosing it, judged by the test error of the
epoch each one picks.

A validation set of 1,000 pictures (MNIST-10k's) moves in steps of 0.1 points, and the noise
of a binomial proportion near 0.7 % is about 0.26 points: the epoch with the lowest
validation error is partly chosen by chance. Each case trains as ``torchbasics train`` does
(its recipe; ``--precision fp32`` where the case says so), every epoch's model is kept
(``epochs/`` in the run: the benchmark copies each ``last.pt`` there; the package is not
changed), the rules below pick an epoch from ``metrics.csv`` alone, and the picked epochs are
evaluated on the test split in fp32, as ``torchbasics evaluate`` does:

- (a) the lowest validation error, the loss breaking ties (``best.pt`` before issue #32);
- (b) the lowest validation loss;
- (c) the last epoch (every image recipe anneals its learning rate to about 0);
- (d) the last epoch whose validation error is within one standard error of the lowest,
  ``sqrt(p (1 - p) / n)`` with ``p`` the lowest error and ``n`` the validation images.

Prints a table per rule and case (the mean test error over the seeds, and how often the rule
picked the last epoch), then one row per run, naming the CPU. The rows also show the epoch
the package itself kept (``best.pt``), so the table checks the package against the rule
(since #32, rule d: ``training/progress.py``).

    .venv/bin/python benchmarks/best_epoch.py          # every case, about 25 min on 2 idle cores
    .venv/bin/python benchmarks/best_epoch.py --cases mnist-convnet --seeds 0 --json a.json
    .venv/bin/python benchmarks/best_epoch.py --from-json a.json b.json   # both, one table
    .venv/bin/python benchmarks/best_epoch.py --cases mnist-cnn --seeds 0 --epochs 3

Needs MNIST (``TORCHBASICS_DATA``), Fashion-MNIST (Debian's ``dataset-fashion-mnist``) and
scikit-learn (the UCI digits as a folder of pictures; the breast-cancer table).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))  # tests/uci_digits.py renders the UCI digits as pictures

RULES = {
    "a": "lowest val error (loss breaks ties)",
    "b": "lowest val loss",
    "c": "last epoch",
    "d": "last epoch within 1 SE of the lowest val error",
}


@dataclass(frozen=True)
class Case:
    """A run to repeat over seeds: a data set (a name, or ``folder``/``table``), a model,
    precision and settings given besides the recipe's."""

    name: str
    dataset: str
    model: str
    precision: str = "auto"
    settings: dict = field(default_factory=dict)
    note: str = ""


CASES = {case.name: case for case in (
    Case("mnist-cnn", "mnist", "cnn"),
    Case("mnist-cnn-fp32", "mnist", "cnn", "fp32"),
    Case("mnist-convnet", "mnist", "convnet"),
    Case("mnist-convnet-fp32", "mnist", "convnet", "fp32"),
    Case("fashion-cnn", "fashion-mnist", "cnn"),
    Case("digits-folder-cnn", "folder", "cnn",
         note="the UCI 8x8 digits as a folder of 28x28 PNGs (tests/uci_digits.py)"),
    Case("breast-cancer-softmax", "table", "softmax",
         note="scikit-learn's breast-cancer table as a CSV (benchmarks/tables.py)"),
    Case("breast-cancer-mlp", "table", "mlp-relu"),
)}


def choose(records: list[dict], val_count: int) -> dict[str, int]:
    """The epoch each rule picks from the epochs' validation figures (``metrics.csv``)."""
    by_error = min(records, key=lambda r: (r["val_error"], r["val_loss"]))
    lowest = by_error["val_error"]
    noise = math.sqrt(lowest * (1 - lowest) / val_count)
    within = [r for r in records if r["val_error"] <= lowest + noise + 1e-12]
    return {"a": by_error["epoch"], "b": min(records, key=lambda r: r["val_loss"])["epoch"],
            "c": records[-1]["epoch"], "d": within[-1]["epoch"]}


@contextlib.contextmanager
def keep_every_epoch() -> Iterator[None]:
    """Copy each epoch's ``last.pt`` to ``epochs/NNN.pt`` beside it, while inside."""
    import torchbasics.runs.images as images

    original = images.save_checkpoint

    def save(path: os.PathLike, state: dict) -> None:
        original(path, state)
        path = Path(path)
        if path.name == "last.pt" and state.get("partial_epoch") is None:
            (path.parent / "epochs").mkdir(exist_ok=True)
            original(path.parent / "epochs" / f"{state['epoch']:03d}.pt", state)

    images.save_checkpoint = save
    try:
        yield
    finally:
        images.save_checkpoint = original


def picture_test_errors(out: Path, epochs: set[int]) -> dict[int, float]:
    """The test error of each epoch's model of an image run, in fp32 as ``evaluate`` runs
    it (its figures left out)."""
    import torch

    from torchbasics.checkpoint import load_checkpoint
    from torchbasics.inference.predictor import Classifier
    from torchbasics.metrics import error_rate
    from torchbasics.runs.evaluate_pictures import evaluation_data
    from torchbasics.runs.images import eval_batch_size
    from torchbasics.training.loop import predict_probabilities

    errors, data = {}, None
    for epoch in sorted(epochs):
        classifier = Classifier.from_checkpoint(load_checkpoint(out / "epochs" / f"{epoch:03d}.pt"))
        data = data or evaluation_data(classifier, "test", None, None)
        batches = data.batches(batch_size=eval_batch_size(data.image_shape),
                               device=torch.device("cpu"),
                               transform=classifier.preprocessing.model_input.batches())
        probabilities, labels = predict_probabilities(classifier.model, batches,
                                                      device=torch.device("cpu"),
                                                      precision="fp32")
        errors[epoch] = error_rate(labels, probabilities.argmax(dim=1))
    return errors


@contextlib.contextmanager
def keep_table_epochs(kept: dict) -> Iterator[None]:
    """While inside, a table run's encoded rows go to ``kept["parts"]``, its model to
    ``kept["model"]`` and each epoch's weights to ``kept["states"][epoch]``."""
    import torchbasics.runs.tables as tables

    fit, encode_parts = tables.fit, tables.encode_parts
    kept["states"] = {}

    def encode_keeping(*args, **kwargs):
        kept["parts"] = encode_parts(*args, **kwargs)
        return kept["parts"]

    def fit_keeping(model, *args, on_epoch_end: Callable, **kwargs):
        kept["model"] = model

        def end_epoch(record) -> bool:
            stop = on_epoch_end(record)
            kept["states"][record.epoch] = copy.deepcopy(model.state_dict())
            return stop

        return fit(model, *args, on_epoch_end=end_epoch, **kwargs)

    tables.fit, tables.encode_parts = fit_keeping, encode_keeping
    try:
        yield
    finally:
        tables.fit, tables.encode_parts = fit, encode_parts


def table_test_errors(kept: dict, epochs: set[int]) -> dict[int, float]:
    """The test error of each epoch's model of a table run."""
    from torchbasics.runs.table_results import outputs

    model, parts = copy.deepcopy(kept["model"]).cpu().eval(), kept["parts"]
    labels = parts.targets["test"].numpy()
    errors = {}
    for epoch in sorted(epochs):
        model.load_state_dict(kept["states"][epoch])
        predicted = outputs(model, parts.inputs["test"]).argmax(axis=1)
        errors[epoch] = float((predicted != labels).mean())
    return errors


def dataset_of(case: Case, scratch: Path) -> str:
    """What ``--dataset`` names for the case: a registered data set, a folder or a CSV."""
    if case.dataset == "folder":
        folder = scratch / "uci-digits"
        if not folder.exists():
            from tests.uci_digits import digits_folder

            digits_folder(folder)
        return str(folder)
    if case.dataset == "table":
        path = scratch / "breast_cancer.csv"
        if not path.exists():
            from tables import write_table  # benchmarks/tables.py, the same folder

            write_table("breast_cancer", scratch)
        return str(path)
    return case.dataset


def run_case(case: Case, seed: int, scratch: Path, epochs: int | None) -> dict:
    """Train one case with one seed; the epoch each rule picks and its test error."""
    import torchbasics
    from torchbasics.runs import rundir

    out = scratch / f"{case.name}-{seed}"
    extra = {"target": "target"} if case.dataset == "table" else {}
    config = torchbasics.TrainConfig(dataset=dataset_of(case, scratch), model=case.model,
                                     seed=seed, precision=case.precision, epochs=epochs,
                                     **extra, **case.settings)
    kept: dict = {}
    started = time.perf_counter()
    with keep_every_epoch(), keep_table_epochs(kept):
        summary = torchbasics.train(config, out, force=True, log=lambda line: None)
    seconds = time.perf_counter() - started
    records = [dataclass_dict(r) for r in rundir.read_metrics_records(out / "metrics.csv")]
    val_count = summary.get("val_rows") or rundir.read_json(out / "config.json")["val_images"]
    picked = choose(records, val_count)
    kept_by_package = None
    if (out / "best.pt").is_file():
        from torchbasics.checkpoint import load_checkpoint

        kept_by_package = load_checkpoint(out / "best.pt")["epoch"]
    wanted = set(picked.values())
    errors = (table_test_errors(kept, wanted) if case.dataset == "table"
              else picture_test_errors(out, wanted))
    lowest = min(r["val_error"] for r in records)
    return {"case": case.name, "seed": seed, "epochs": len(records), "val_count": val_count,
            "lowest_val_error": lowest, "se": math.sqrt(lowest * (1 - lowest) / val_count),
            "picked": picked, "test_error": {rule: errors[e] for rule, e in picked.items()},
            "val_error": {rule: records[e - 1]["val_error"] for rule, e in picked.items()},
            "best_pt_epoch": kept_by_package, "seconds": round(seconds, 1),
            "records": [{k: r[k] for k in ("epoch", "val_error", "val_loss")} for r in records]}


def dataclass_dict(record) -> dict:
    import dataclasses

    return dataclasses.asdict(record)


def summary_table(rows: list[dict], cases: list[str]) -> list[str]:
    """Per case: each rule's mean test error over the seeds, and how often it picked the
    last epoch."""
    lines = ["| case | seeds | val images | " + " | ".join(
        f"({key}) {label}" for key, label in RULES.items()) + " |",
        "|---|---:|---:|" + "---:|" * len(RULES)]
    for name in cases:
        runs = [r for r in rows if r["case"] == name]
        if not runs:
            continue
        means = {rule: statistics.mean(r["test_error"][rule] for r in runs) for rule in RULES}
        best = min(means.values())
        cells = []
        for rule in RULES:
            last = sum(r["picked"][rule] == r["epochs"] for r in runs)
            text = f"{100 * means[rule]:.2f} %"
            cells.append(f"{'**' + text + '**' if means[rule] == best else text} "
                         f"({last}/{len(runs)} last)")
        lines.append(f"| {name} | {len(runs)} | {runs[0]['val_count']:,} | "
                     + " | ".join(cells) + " |")
    overall = {rule: statistics.mean(statistics.mean(r["test_error"][rule] for r in rows
                                                     if r["case"] == name)
                                     for name in cases if any(r["case"] == name for r in rows))
               for rule in RULES}
    lines.append("| mean of the cases | | | " + " | ".join(
        f"{100 * overall[rule]:.2f} %" for rule in RULES) + " |")
    return lines


def run_table(rows: list[dict]) -> list[str]:
    """One row per run: the epoch each rule picked, its validation and test error."""
    lines = ["| case | seed | epochs | lowest val error ± 1 SE | "
             + " | ".join(f"({rule}) epoch: val / test" for rule in RULES)
             + " | best.pt | time |",
             "|---|---:|---:|---:|" + "---:|" * len(RULES) + "---:|---:|"]
    for r in rows:
        cells = [f"{r['picked'][rule]}: {100 * r['val_error'][rule]:.2f} / "
                 f"{100 * r['test_error'][rule]:.2f} %" for rule in RULES]
        kept = "—" if r["best_pt_epoch"] is None else str(r["best_pt_epoch"])
        lines.append(f"| {r['case']} | {r['seed']} | {r['epochs']} | "
                     f"{100 * r['lowest_val_error']:.2f} ± {100 * r['se']:.2f} % | "
                     + " | ".join(cells) + f" | {kept} | {r['seconds']:.0f} s |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES),
                        help="the cases to run (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="training seeds (default: 0 1 2)")
    parser.add_argument("--slow-seeds", type=int, nargs="+", default=None,
                        help="seeds for the slowest cases, mnist-convnet* and fashion-cnn "
                        "(default: --seeds)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="train every case this many epochs (default: its recipe's)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every run's figures to this JSON file")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="train nothing: print the tables of the runs in these files "
                        "(written by --json), together")
    args = parser.parse_args()

    import torch

    from torchbasics.cpu import cpu_info

    command = " ".join(["python benchmarks/best_epoch.py", *sys.argv[1:]])
    if args.from_json:
        rows = [row for path in args.from_json for row in json.loads(path.read_text())]
        cases = [name for name in CASES if any(r["case"] == name for r in rows)]
        print(f"`{command}`: {len(rows)} runs\n")
        print_tables(rows, cases)
        return 0
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        scratch = Path(name)
        os.environ["TORCHBASICS_CACHE"] = str(scratch / "cache")
        for case in args.cases:
            slow = case.startswith("mnist-convnet") or case == "fashion-cnn"
            for seed in (args.slow_seeds if slow and args.slow_seeds is not None
                         else args.seeds):
                rows.append(run_case(CASES[case], seed, scratch, args.epochs))
                print(run_table([rows[-1]])[-1], file=sys.stderr, flush=True)  # progress
    minutes = (time.perf_counter() - started) / 60
    print(f"`{command}`: {cpu_info().describe()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}, {minutes:.0f} minutes, {time.strftime('%Y-%m-%d')}\n")
    print_tables(rows, args.cases)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


def print_tables(rows: list[dict], cases: list[str]) -> None:
    """The summary table, the runs' table and the cases' notes."""
    print("\n".join(summary_table(rows, cases)))
    print()
    order = {name: i for i, name in enumerate(CASES)}
    print("\n".join(run_table(sorted(rows, key=lambda r: (order[r["case"]], r["seed"])))))
    for case in cases:
        if CASES[case].note:
            print(f"\n{case}: {CASES[case].note}")


if __name__ == "__main__":
    sys.exit(main())
