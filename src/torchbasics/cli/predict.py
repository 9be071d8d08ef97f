"""``torchbasics predict``: predictions from a trained run's checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the top-level parser."""
    parser = commands.add_parser(
        "predict", help="predict with a trained run: the class of pictures, the class or value "
        "of table rows",
        description="Predict with a run's checkpoint; it says which model, preprocessing and "
        "scaling to use. For an image classifier: the class of each IMAGE (PNG, JPEG, BMP, "
        "... of any size and colour); a folder stands for every image in it, and gives a "
        "CSV. Digit models prepare pictures as MNIST was made (dark ink on paper is "
        "inverted, cropped to the ink, fitted into 20x20, centred by its centre of mass); "
        "Fashion-MNIST models fit and pad the object into 28x28; models of your own pictures "
        "bring each picture to their size as training did. For a table model: every row of "
        "ROWS.csv (the columns it was trained on; others are kept), written with a "
        "predicted_<target> column added (and a probability, for classes), or one row from "
        "--set COLUMN=VALUE flags. A missing value or a category never seen in training is "
        "filled in as in training, and counted.",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="run directory (its best.pt, else last.pt) or a checkpoint file")
    parser.add_argument("images", type=Path, nargs="*", metavar="IMAGE|ROWS.csv",
                        help="image files or folders of them (image classifiers), or one CSV "
                        "of rows (table models)")
    group = parser.add_argument_group("pictures (image classifiers)")
    group.add_argument("--top", type=int, default=3, metavar="K",
                       help="list the K most probable classes (default: 3)")
    group.add_argument("--json", action="store_true",
                       help="print a JSON list of predictions instead of text (default: off)")
    group.add_argument("--show", type=Path, metavar="OUT.png",
                       help="save each picture beside the 28x28 image the model saw, "
                       "before and after deskewing for a deskewing model (default: off)")
    group = parser.add_argument_group("one row (table models)")
    group.add_argument("--set", dest="values", action="append", default=[],
                       metavar="COLUMN=VALUE", help="a value of the row, e.g. --set age=41 "
                       "--set region=north (repeatable; a column left out is missing)")
    parser.add_argument("--out", type=Path, metavar="OUT",
                        help="where to write the CSV of predictions (of a folder of pictures, "
                        "or of ROWS.csv; with --json, the JSON) (default: standard output)")
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Open the run, predict as its kind of model does, print or write the answer."""
    from torchbasics.files import write_text
    from torchbasics.runs.kinds import open_run
    from torchbasics.runs.trained import PredictRequest

    trained = open_run(args.run)
    answer = trained.predict(PredictRequest(inputs=tuple(args.images), values=tuple(args.values),
                                            top=args.top, json=args.json, show=args.show,
                                            out=args.out))
    if args.out is None:
        sys.stdout.write(answer.text)
    else:
        write_text(args.out, answer.text)
        print(f"wrote {args.out}: {answer.written}")
    if answer.figure is not None:
        sys.stdout.flush()  # the predictions first, then the line about the figure
        answer.figure()
        print(f"wrote {args.show}", file=sys.stderr if args.out is None else sys.stdout)
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
