"""``torchbasics predict``: predictions from a trained run's checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


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
    """Load the model (an image classifier or a table model), predict, print or write the
    result."""
    from torchbasics.inference.loading import load
    from torchbasics.inference.predictor import Classifier

    model = load(args.run)
    if isinstance(model, Classifier):
        return predict_images(args, model)
    return predict_table(args, model)


def predict_images(args: argparse.Namespace, classifier: Any) -> int:
    """Classify the pictures; print text or JSON, or write a CSV."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.files import write_text

    if args.values:
        raise TorchbasicsError("--set is for a table model, and this is an image classifier",
                               where=args.run,
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


def predict_table(args: argparse.Namespace, model: Any) -> int:
    """A table model: every row of a CSV, or one row from --set."""
    from torchbasics.errors import TorchbasicsError

    if args.show is not None:
        raise TorchbasicsError("--show is for image classifiers, and this is a table model",
                               where=args.run, fix="give ROWS.csv, or --set COLUMN=VALUE")
    if args.images and args.values:
        raise TorchbasicsError("a CSV and --set do not go together",
                               fix="give the rows in a CSV, or one row with --set, not both")
    if len(args.images) > 1:
        raise TorchbasicsError(f"{len(args.images)} files given; a table model predicts the "
                               "rows of one CSV", fix="give one CSV file")
    if args.images:
        from torchbasics.data.listfile import IMAGE_SUFFIXES

        if args.images[0].suffix.lower() in IMAGE_SUFFIXES or args.images[0].is_dir():
            raise TorchbasicsError("a picture, and this is a table model", where=args.images[0],
                                   fix="give a CSV of rows, or one row with --set COLUMN=VALUE")
        return predict_rows(args, model, args.images[0])
    if args.out is not None:
        raise TorchbasicsError("--out is for the rows of a CSV", fix="give ROWS.csv too")
    if not args.values:
        raise TorchbasicsError("nothing to predict", fix="give ROWS.csv, or one row with "
                               "--set COLUMN=VALUE (repeated); the columns are "
                               + ", ".join(f.name for f in model.schema.features))
    return predict_one_row(args, model)


def predict_rows(args: argparse.Namespace, model: Any, source: Path) -> int:
    """Every row of ``source``, written as CSV (or JSON) with the predictions added."""
    result = model.predict_csv(source)
    if args.json:
        text = json.dumps([dict(zip(result.names, row, strict=True)) for row in result.rows],
                          indent=2) + "\n"
    else:
        text = result.to_csv()
    if args.out is None:
        sys.stdout.write(text)
    else:
        from torchbasics.files import write_text

        write_text(args.out, text)
        print(f"wrote {args.out}: {len(result.rows):,} rows with a {model.output_column} "
              "column")
    if result.notes:
        print(f"note: {result.notes}; filled in as in training", file=sys.stderr)
    return 0


def predict_one_row(args: argparse.Namespace, model: Any) -> int:
    """One row from ``--set COLUMN=VALUE`` flags; columns left out count as missing."""
    from torchbasics.errors import TorchbasicsError

    values = {}
    for item in args.values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TorchbasicsError(f"'{item}' is not COLUMN=VALUE", where="--set",
                                   fix="e.g. --set age=41 --set region=north")
        values[key.strip()] = value.strip()
    answer = model.predict_row(values)
    if args.json:
        print(json.dumps({"target": model.target, **answer}, indent=2))
        return 0
    given = ", ".join(f"{key} {value}" for key, value in values.items())
    shown = (f"{answer['value']:,.2f}" if "value" in answer
             else f"{answer['class']} ({100 * answer['probability']:.2f} %)")
    print(f"predicted {model.target}: {shown}  ({given})")
    if answer["filled_in"]:
        print(f"note: {answer['filled_in']}; filled in as in training", file=sys.stderr)
    return 0
