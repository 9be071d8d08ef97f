"""``torchbasics predict``: predictions from a trained run's checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SINGLE_FLAGS = ("rating", "years", "projects")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``predict`` to the top-level parser."""
    parser = commands.add_parser(
        "predict", help="predict with a trained run: pictures, or the bonus regression",
        description="Predict with a run's checkpoint; it says which model, preprocessing and "
        "scaling to use. For an image classifier: the class of each IMAGE (PNG, JPEG, BMP, "
        "... of any size and colour); a folder stands for every image in it, and gives a "
        "CSV. Digit models prepare pictures as MNIST was made (dark ink on paper is "
        "inverted, cropped to the ink, fitted into 20x20, centred by its centre of mass); "
        "Fashion-MNIST models fit and pad the object into 28x28. For a bonus regression "
        "run: one employee from --rating, --years and --projects, or every row of a CSV "
        "(--csv IN), written with a predicted_bonus column added.",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="run directory (its best.pt, else last.pt) or a checkpoint file")
    parser.add_argument("images", type=Path, nargs="*", metavar="IMAGE",
                        help="image files or folders of them (image classifiers)")
    group = parser.add_argument_group("pictures (image classifiers)")
    group.add_argument("--top", type=int, default=3, metavar="K",
                       help="list the K most probable classes (default: 3)")
    group.add_argument("--json", action="store_true",
                       help="print a JSON list of predictions instead of text (default: off)")
    group.add_argument("--show", type=Path, metavar="OUT.png",
                       help="save each picture beside the 28x28 image the model saw, "
                       "before and after deskewing for a deskewing model (default: off)")
    group = parser.add_argument_group("one employee (bonus regression)")
    group.add_argument("--rating", type=float, help="performance rating, a whole number 1-10")
    group.add_argument("--years", type=float, help="years of experience, a number >= 0")
    group.add_argument("--projects", type=float,
                       help="projects completed, a whole number >= 0")
    group = parser.add_argument_group("a CSV of employees (bonus regression)")
    group.add_argument("--csv", type=Path, metavar="IN",
                       help="CSV with the columns the model was trained on (others are kept)")
    parser.add_argument("--out", type=Path, metavar="OUT",
                        help="where to write the CSV of predictions (of a folder of pictures, "
                        "or of --csv; with --json, the JSON) (default: standard output)")
    parser.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Load the model (a classifier or a regression), predict, print or write the result."""
    from torchbasics.inference.loading import load
    from torchbasics.inference.predictor import Classifier

    model = load(args.run)
    if isinstance(model, Classifier):
        return predict_images(args, model)
    return predict_regression(args, model)


def predict_images(args: argparse.Namespace, classifier: Any) -> int:
    """Classify the pictures; print text or JSON, or write a CSV."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.files import write_text

    given = [f"--{flag}" for flag in (*SINGLE_FLAGS, "csv") if getattr(args, flag) is not None]
    if given:
        raise TorchbasicsError(f"{', '.join(given)} is for a bonus regression run, and this "
                               "is an image classifier", where=args.run,
                               fix="give image files or folders: torchbasics predict RUN IMAGE...")
    if not args.images:
        raise TorchbasicsError("no images to predict", fix="give image files or folders after "
                               "the run directory")
    if args.top < 1:
        raise TorchbasicsError(f"must be at least 1, got {args.top}", where="--top")
    files = image_files(args.images)
    top = min(args.top, len(classifier.class_names))
    predictions = classifier.predict_many(files, top=top)
    if args.json:
        text = json.dumps([p.to_dict() for p in predictions], indent=2) + "\n"
    elif args.out is not None or any(image.is_dir() for image in args.images):
        text = predictions_csv(predictions, top)
    else:
        text = "".join(describe(p) + "\n" for p in predictions)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text(args.out, text)
        print(f"wrote {args.out}: {len(predictions):,} predictions")
    if args.show is not None:
        sys.stdout.flush()  # the predictions first, then the line about the figure
        save_show(args.show, files, predictions, deskewed=classifier.preprocessing.deskew)
        print(f"wrote {args.show}", file=sys.stderr if args.out is None else sys.stdout)
    return 0


def image_files(arguments: list[Path]) -> list[Path]:
    """The files named, with each folder replaced by the image files under it (sorted)."""
    from torchbasics.data.listfile import IMAGE_SUFFIXES
    from torchbasics.errors import TorchbasicsError

    files: list[Path] = []
    for argument in arguments:
        if not argument.is_dir():
            files.append(argument)  # a missing or unreadable file is reported when read
            continue
        found = sorted(p for p in argument.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise TorchbasicsError("no image files in this folder", where=argument,
                                   fix=f"it should hold {', '.join(IMAGE_SUFFIXES)} files")
        files += found
    return files


def describe(prediction: Any) -> str:
    """One line: the file, its class and probability, and the runners-up."""
    ranked = ", ".join(f"{name} {100 * p:.2f} %" for _, name, p in prediction.top)
    return (f"{prediction.source}: {prediction.class_name} "
            f"({100 * prediction.probability:.2f} %)  top {len(prediction.top)}: {ranked}")


def predictions_csv(predictions: list[Any], top: int) -> str:
    """CSV: path, label, class, probability, then label/class/probability of ranks 2..top."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["path", "label", "class", "probability"]
    for rank in range(2, top + 1):
        header += [f"top{rank}_label", f"top{rank}_class", f"top{rank}_probability"]
    writer.writerow(header)
    for prediction in predictions:
        row = [prediction.source, prediction.label, prediction.class_name,
               f"{prediction.probability:.6f}"]
        for label, name, probability in prediction.top[1:]:
            row += [label, name, f"{probability:.6f}"]
        writer.writerow(row)
    return buffer.getvalue()


def save_show(out: Path, files: list[Path], predictions: list[Any], *,
              deskewed: bool = False) -> None:
    """Save the pictures beside what the model saw (see :mod:`torchbasics.inference.show`)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    import numpy as np

    from torchbasics.data.image_files import open_image
    from torchbasics.inference.show import MAX_ROWS, prediction_figure
    from torchbasics.plots import save_figure

    pictures = [np.asarray(open_image(f).convert("RGB")) for f in files[:MAX_ROWS]]
    figure = prediction_figure(pictures, predictions, deskewed=deskewed)
    save_figure(figure, out)
    plt.close(figure)


def predict_regression(args: argparse.Namespace, regressor: Any) -> int:
    """The bonus regression: one employee from flags, or every row of a CSV."""
    from torchbasics.errors import TorchbasicsError

    for flag, value in (("IMAGE", args.images), ("--json", args.json), ("--show", args.show)):
        if value:
            raise TorchbasicsError(f"{flag} is for image classifiers, and this is a regression "
                                   "run", where=args.run, fix="give --rating, --years and "
                                   "--projects, or --csv IN")
    single = {flag: getattr(args, flag) for flag in SINGLE_FLAGS}
    given = [f"--{flag}" for flag, value in single.items() if value is not None]
    if args.csv is not None and given:
        raise TorchbasicsError(f"{', '.join(given)} and --csv do not go together",
                               fix="give one employee's values, or a CSV, not both")
    if args.out is not None and args.csv is None:
        raise TorchbasicsError("--out needs --csv", fix="give the CSV to predict with --csv IN")
    if args.csv is not None:
        frame = regressor.predict_csv(args.csv, args.out)
        if args.out is None:
            sys.stdout.write(frame.to_csv(index=False))
        else:
            print(f"wrote {args.out}: {len(frame):,} rows with a {regressor.output_column} "
                  "column")
        return 0
    if not given:
        raise TorchbasicsError("nothing to predict",
                               fix="give --rating, --years and --projects, or --csv IN")
    value = regressor.predict_one(single)
    inputs = ", ".join(f"{column.name} {single[column.flag or column.name]:g}"
                       for column in regressor.columns)
    print(f"predicted {regressor.target.name}: {value:,.2f}  ({inputs})")
    return 0
