"""``torchbasics explain``: what a trained model learned and why it answered, checked."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``explain`` to the top-level parser."""
    parser = commands.add_parser(
        "explain", help="what a trained model learned and why it answered, with sanity checks",
        description="Figures of what a run's model learned, for its family: softmax "
        "regression's weight templates and each pixel's contribution (w × x); an MLP's "
        "hidden units as pictures, their outputs and how many are dead or saturated; a "
        "CNN's filters and feature maps. For every image classifier: attribution maps "
        "(Integrated Gradients, saliency, occlusion, Grad-CAM for a CNN) of the PICTUREs "
        "given (else one test picture per class), the test pictures' hidden representation "
        "in 2-d (t-SNE) and the most-confused classes. Each attribution method is checked "
        "on test pictures as the literature proposes: completeness (Integrated Gradients' "
        "maps add up to the score's change), model-parameter randomization (the maps must "
        "change when the weights are re-initialized) and deletion (removing the pixels a "
        "map names first must lower the class's probability faster than a random order); a "
        "method that fails one is marked FAILS. A table run gets its formula or weights "
        "and permutation importance. Writes PNGs and explain.json into --out. Needs the "
        "explain extra (pip install 'torchbasics[explain]').",
        populate=add_explain_flags,
    )
    parser.set_defaults(handler=run_explain)


def add_explain_flags(parser: argparse.ArgumentParser) -> None:
    """``explain``'s flags."""
    from torchbasics.explain.attributions import IG_STEPS
    from torchbasics.runs.explain_pictures import CHECKED

    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="made by `torchbasics train`, or a checkpoint file in one")
    parser.add_argument("pictures", nargs="*", type=Path, metavar="PICTURE",
                        help="pictures to explain, read as `predict` reads them (default: "
                        "one test picture per class)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where the figures go (default: RUN_DIR/explain)")
    parser.add_argument("--checkpoint", choices=["best", "last"],
                        help="best (the epoch the run kept; its report.md says which and why) or "
                        "last epoch (default: best.pt "
                        "if the run has one, else last.pt)")
    parser.add_argument("--checked", type=int, default=CHECKED, metavar="N",
                        help=f"test pictures the sanity checks run on (default: {CHECKED}; "
                        "fewer is quicker and less sure)")
    parser.add_argument("--steps", type=int, default=IG_STEPS, metavar="N",
                        help=f"Integrated Gradients' integration points (default: {IG_STEPS})")
    parser.add_argument("--seed", type=int, default=0,
                        help="which test pictures are sampled, and t-SNE's start (default: 0)")
    parser.add_argument("--json", action="store_true", help="print explain.json instead of text")


def run_explain(args: argparse.Namespace) -> int:
    """Explain the run and print the checks' table and where the figures are."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.runs.explain import explain_run, stderr_log, summary_lines

    if args.steps < 2:
        raise TorchbasicsError(f"--steps must be at least 2, got {args.steps}", where="--steps")
    result = explain_run(args.run_dir, args.pictures, out=args.out,
                         checkpoint_name=args.checkpoint, checked=args.checked,
                         steps=args.steps, seed=args.seed, log=stderr_log)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for line in summary_lines(result):
        print(line)
    folder = args.run_dir if args.run_dir.is_dir() else args.run_dir.parent
    out = args.out or folder / "explain"
    print(f"figures: {', '.join(str(out / name) for name in result['files'].values())}")
    return 0
