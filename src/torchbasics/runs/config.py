"""Typed training settings: every setting declared once, with its default, range and help.

A field left ``None`` means "not given". :func:`resolve` fills it, in this order of
precedence: the value given (flag or Python), the data set's recipe for this model, the
model's recipe, the data set's settings for every model, the setting's own default.
:func:`check` then refuses anything out of range, from the command line and from Python
alike, before anything is read or written. The command line builds its flags from the same
declarations (:mod:`torchbasics.cli.flags`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from torchbasics.data.registry import DATASETS, DatasetSpec, get_dataset
from torchbasics.device import PRECISIONS
from torchbasics.errors import TorchbasicsError
from torchbasics.models import check_model_settings, get_model_entry, list_models
from torchbasics.settings import (
    SCOPE_WORDS,
    SearchRange,
    Setting,
    comma_list,
    flag_name,
    parse_duration,
    setting,
    settings_of,
)
from torchbasics.tabular.schema import FEW_CLASSES, TASKS
from torchbasics.training.optim import OPTIMIZERS, build_optimizer
from torchbasics.training.schedule import SCHEDULES, StepPlan, build_scheduler

AUTO_LR = "auto"  # --lr auto: the range test's suggestion
FRACTION = dict(low=0, high=1, low_inclusive=False, high_inclusive=False)
DATA, RUN = "data", "run"  # --help groups besides "optimization"


@dataclass
class TrainConfig:
    """Everything a training run depends on; ``None`` means "not given" (see :func:`resolve`).

    Stored whole, resolved, in the run directory's ``config.json`` and in every checkpoint.
    """

    dataset: str | None = setting(
        str, f"the data set: a registered one ({', '.join(DATASETS)}), or your own: a folder "
        "of pictures (one folder per class, or train/ and test/ folders of class folders) or "
        "a CSV file (with --target)", default="mnist", metavar="NAME|PATH", group=DATA)
    model: str | None = setting(str, "the model to train (default: the data set's own, cnn "
                                "for images and linear for tables)", choices=list_models,
                                group="model")
    # The model's own settings (hidden, width, ...): see torchbasics.models.MODEL_SETTINGS.
    model_settings: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = setting(int, "passes over the training set", default=10, low=1)
    steps: int | None = setting(int, "optimizer steps in all, instead of --epochs (the last "
                                "epoch may end part-way); a time budget records the count it "
                                "chose here", low=1, applies_to="image")
    time_budget: float | None = setting(
        float, "train for what fits in this much time, the whole command included: the run "
        "measures its speed, plans its steps and lays the learning-rate schedule over them, "
        "and re-plans if the machine slows down; 300, 300s, 5m or 1h", low=1,
        high=7 * 24 * 3600, metavar="TIME", parse=parse_duration, applies_to="image")
    batch_size: int | None = setting(
        int, "images per step; under torchrun the global batch, split over the processes",
        default=128, low=1, search=SearchRange(choices=(32, 64, 128, 256)))
    optimizer: str | None = setting(str, "the optimizer (SGD with Nesterov momentum, Adam, "
                                    "AdamW)", default="adamw", choices=OPTIMIZERS)
    lr: float | str | None = setting(
        float, "peak learning rate; auto runs `torchbasics lr-find` first and trains with its "
        "suggestion (recorded in config.json, the curve in lr_find.png)", default=1e-3, low=0,
        low_inclusive=False, words=(AUTO_LR,), metavar="LR|auto",
        search=SearchRange(around=10, log=True))
    momentum: float | None = setting(float, "SGD momentum", default=0.9, low=0, high=1,
                                     high_inclusive=False)
    weight_decay: float | None = setting(float, "weight decay (never on biases and norms)",
                                         default=1e-2, low=0,
                                         search=SearchRange(1e-6, 1e-1, log=True))
    schedule: str | None = setting(str, "learning-rate schedule over the steps",
                                   default="onecycle", choices=SCHEDULES)
    warmup: float | None = setting(float, "one-cycle schedule: the share of the steps spent "
                                   "raising the learning rate to --lr before annealing it",
                                   default=0.25, metavar="FRACTION", **FRACTION)
    label_smoothing: float | None = setting(
        float, "share of each label's probability spread over the other classes", default=0.0,
        low=0, high=1, high_inclusive=False, applies_to="image",
        search=SearchRange(0.0, 0.2))
    augment: float | None = setting(
        float, "strength of random rotations, shifts and zoom of training images (and "
        "left-right flips where the data set allows): 0 off, 1 standard (10 degrees, 10 % "
        "shift and zoom)", default=0.0, low=0, high=5, metavar="STRENGTH", applies_to="image",
        search=SearchRange(0.0, 1.5))
    deskew: bool | None = setting(
        bool, "straighten slanted images (shear upright, centre of mass to the middle) in "
        "training and, recorded in the checkpoint, wherever the model is used afterwards",
        default=False, applies_to="image")
    mirror_average: bool | None = setting(
        bool, "predict from the mean logits of each image and its left-right mirror image, "
        "in validation and, recorded in the checkpoint, wherever the model is used "
        "afterwards; twice the work per prediction. Only for data sets whose classes "
        "survive mirroring", default=False, applies_to="image")
    early_stopping: int | None = setting(int, "stop after this many epochs in a row whose "
                                         "validation error is above the lowest by more than "
                                         "one standard error (a regression: without a lower "
                                         "validation loss); 0 never stops early", default=0,
                                         low=0, metavar="EPOCHS")
    val_fraction: float | None = setting(float, "share of the training set held out for "
                                         "validation, stratified", default=0.1,
                                         metavar="FRACTION", group=DATA, **FRACTION)
    data_dir: str | None = setting(str, "folder searched first for the data set", group=DATA,
                                   metavar="DIR", applies_to="image")
    train_list: str | None = setting(str, "list file of training IDs or image paths (with "
                                     "--val-list)", group=DATA, metavar="FILE",
                                     applies_to="image")
    val_list: str | None = setting(str, "list file of validation IDs or image paths (with "
                                   "--train-list)", group=DATA, metavar="FILE",
                                   applies_to="image")
    image_size: int | None = setting(
        int, "the side, in pixels, your pictures are brought to (default: their own when "
        "they are all one square size up to 64, else 32: CIFAR's size, enough to tell "
        "objects apart, small enough to train in minutes on a laptop CPU)", low=4, high=1024,
        metavar="N", group=DATA, applies_to="pictures")
    channels: str | None = setting(
        str, "1 (gray) or 3 (colour); auto is 1 when every picture is stored gray",
        default="auto", choices=("auto", "1", "3"), group=DATA, applies_to="pictures")
    resize: str | None = setting(
        str, "how a picture is brought to --image-size: pad keeps its shape and fills the "
        "rest with black, crop cuts the middle square, squash stretches it",
        default="pad", choices=("pad", "crop", "squash"), group=DATA, applies_to="pictures")
    strict: bool | None = setting(
        bool, "stop at the first file that is not a usable picture instead of skipping it "
        "(and listing it in skipped.csv)", default=False, group=DATA, applies_to="pictures")
    target: str | None = setting(str, "the column to predict", metavar="COLUMN", group=DATA,
                                 applies_to="table")
    features: list[str] | None = setting(
        list, "the columns to predict from, comma-separated (default: every other usable "
        "column)", metavar="A,B,...", parse=comma_list, group=DATA, applies_to="table")
    task: str | None = setting(
        str, "what to predict: a number (regression) or a class; default: classification "
        f"when the target holds text or at most {FEW_CLASSES} distinct whole numbers, else "
        "regression", choices=TASKS, group=DATA, applies_to="table")
    numeric: list[str] | None = setting(list, "columns to read as numbers whatever they look "
                                        "like", metavar="A,B,...", parse=comma_list,
                                        group=DATA, applies_to="table")
    categorical: list[str] | None = setting(list, "columns to read as categories (one-hot), "
                                            "numbers included", metavar="A,B,...",
                                            parse=comma_list, group=DATA, applies_to="table")
    ignore: list[str] | None = setting(list, "columns to leave out", metavar="A,B,...",
                                       parse=comma_list, group=DATA, applies_to="table")
    test_fraction: float | None = setting(float, "share of the rows held out for testing, "
                                          "seeded; --val-fraction of the rest validates",
                                          default=0.2, metavar="FRACTION", group=DATA,
                                          applies_to="tabular", **FRACTION)
    seed: int | None = setting(int, "seed for everything random", default=0, low=0,
                               group=RUN)
    device: str | None = setting(
        str, "where to run: auto (an NVIDIA or AMD GPU, else Apple's MPS, else another "
        "accelerator this PyTorch knows, else the CPU), cpu, cuda, cuda:N or mps; `torchbasics "
        "doctor` shows what auto picks and why", default="auto", group=RUN)
    precision: str | None = setting(
        str, "arithmetic: auto is bf16 where the GPU or CPU computes it natively (CUDA from "
        "Ampere on, AVX-512 BF16 or AMX CPUs), fp16 with gradient scaling on older NVIDIA "
        "GPUs, else fp32", default="auto", choices=PRECISIONS, group=RUN)
    recover: bool | None = setting(
        bool, "when the training loss blows up (or becomes NaN), go back to the last good "
        "epoch and train on with the peak learning rate divided by 5, at most twice; "
        "--no-recover stops the run at once instead", default=True, group=RUN)
    tensorboard: bool | None = setting(bool, "also log to RUN_DIR/tensorboard (needs the "
                                       "tensorboard package)", default=False, group=RUN,
                                       applies_to="image")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dataclasses.asdict(self)

    @staticmethod
    def default_dataset() -> str:
        """The data set used when none is given."""
        return SETTINGS["dataset"].default

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from :meth:`to_dict` output (as stored in a checkpoint)."""
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TorchbasicsError(f"unknown settings {sorted(unknown)}",
                                   fix="use a configuration written by this version")
        # A setting added since the configuration was written takes its default.
        added = {name: declared.default for name, declared in SETTINGS.items()
                 if name not in values and declared.default is not None}
        return cls(**(added | values))


SETTINGS: dict[str, Setting] = settings_of(TrainConfig)
IDENTITY = ("dataset", "model")  # what a recipe is chosen by, not what it sets
LENGTHS = ("epochs", "steps", "time_budget")  # how long a run trains: one of them


def lengths_given(config: TrainConfig) -> list[str]:
    """The settings of :data:`LENGTHS` the user gave (before a recipe fills one in)."""
    return [name for name in LENGTHS if getattr(config, name) is not None]


def applies(setting_: Setting, spec: DatasetSpec) -> bool:
    """Whether a setting means something for this data set (its kind; its own data)."""
    return spec.in_scope(setting_.applies_to)


def task_of(config: TrainConfig, spec: DatasetSpec) -> str:
    """What the run's model does: the data set's task, or for the user's table the one its
    target column asks for (set on the config once the table is read)."""
    task = spec.task or config.task
    if not task:
        raise ValueError(f"the task of '{spec.name}' is known only once the table is read")
    return task


def recipe_for(model: str, dataset: str) -> dict[str, Any]:
    """The settings ``model`` trains with on ``dataset`` unless told otherwise.

    Later sources win: the settings' defaults, the data set's settings for every model,
    the model's recipe, the data set's recipe for this model. Settings that do not apply
    to the data set's kind are left out. A recipe may also set the model's own settings
    (``model_settings``, e.g. a narrower convnet where that trains better in its time).
    """
    spec = get_dataset(dataset)
    defaults = {name: s.default for name, s in SETTINGS.items()
                if s.default is not None and name not in IDENTITY}
    merged = (defaults | spec.settings | get_model_entry(model).recipe
              | spec.recipes.get(model, {}))
    return {name: value for name, value in merged.items()
            if name == "model_settings" or applies(SETTINGS[name], spec)}


def listed_if_own(config: TrainConfig) -> TrainConfig:
    """With list files of pictures and no data set named, the data set they are of: the
    default one when their labels are its classes, else the user's own (``listed``).

    Raises:
        TorchbasicsError: one list file of the two.
    """
    if bool(config.train_list) != bool(config.val_list):
        raise TorchbasicsError("--train-list and --val-list go together",
                               fix="give both, or neither for a stratified split")
    if not config.train_list or config.dataset is not None:
        return config
    from torchbasics.data.listfile import names_classes_of
    from torchbasics.data.own import LISTED

    default = get_dataset(TrainConfig.default_dataset())
    if names_classes_of(config.train_list, default.class_names):
        return config
    return dataclasses.replace(config, dataset=LISTED)


def resolve(config: TrainConfig) -> TrainConfig:
    """A copy with every setting that was not given filled in (see :func:`recipe_for`), checked.

    Raises:
        TorchbasicsError: a setting that is unknown, out of its range, or does not apply to
            the data set, naming its flag.
    """
    config = listed_if_own(config)
    spec = get_dataset(config.dataset or TrainConfig.default_dataset())
    model = config.model or spec.model_for(task_of(config, spec))
    recipe = recipe_for(model, spec.name)
    given = lengths_given(config)
    if len(given) > 1:
        raise TorchbasicsError(f"{' and '.join(flag_name(n) for n in given)} both say how "
                               "long to train", fix="give one of them")
    # The length given, else the recipe's time budget, else its epochs: only one of them.
    length = given[0] if given else "time_budget" if "time_budget" in recipe else "epochs"
    recipe = {name: value for name, value in recipe.items()
              if name not in LENGTHS or name == length}
    filled = {name: recipe.get(name) for name in SETTINGS
              if name not in IDENTITY and getattr(config, name) is None}
    model_settings = recipe.get("model_settings", {}) | config.model_settings  # given wins
    resolved = dataclasses.replace(config, **filled, dataset=spec.name, model=model,
                                   model_settings=model_settings)
    check(resolved)
    return resolved


def check(config: TrainConfig) -> None:
    """Refuse a setting that is out of range or does not fit the data set or model.

    Raises:
        TorchbasicsError: naming the flag, what is wrong and how to fix it.
    """
    spec = check_values(config)
    check_model_fits(get_model_entry(config.model), spec, task_of(config, spec))
    check_model_settings(config.model, config.model_settings)
    _check_image_settings(config, spec)


def check_values(config: TrainConfig) -> DatasetSpec:
    """Refuse a setting given for other data, or out of its range (what can be checked
    before the data is read); the data set's spec.

    Raises:
        TorchbasicsError: naming the flag, what is wrong and how to fix it.
    """
    spec = get_dataset(config.dataset or TrainConfig.default_dataset())
    misplaced = [name for name, declared in SETTINGS.items()
                 if getattr(config, name) is not None and not applies(declared, spec)]
    if misplaced:
        flags = ", ".join(flag_name(name) for name in misplaced)
        scopes = {SCOPE_WORDS[SETTINGS[name].applies_to] for name in misplaced}
        raise TorchbasicsError(f"{flags} {'is' if len(misplaced) == 1 else 'are'} for "
                               f"{' and '.join(sorted(scopes))}, not for '{spec.title}'",
                               fix="leave them out" if len(misplaced) > 1 else "leave it out")
    for name, declared in SETTINGS.items():
        declared.check(flag_name(name), getattr(config, name))
    return spec


def check_model_fits(entry: Any, spec: DatasetSpec, task: str) -> None:
    """Refuse a model that does not take this data (pictures or rows) or this task."""
    inputs = "image" if spec.kind == "image" else "table"
    fitting = list_models(task, inputs)
    if task not in entry.tasks or inputs not in entry.inputs:
        what = "pictures" if inputs == "image" else "table rows"
        raise TorchbasicsError(
            f"'{entry.name}' does not do {task} on {what}, which '{spec.title}' needs",
            where="--model", fix=f"use one of {', '.join(fitting)}")


def _check_image_settings(config: TrainConfig, spec: DatasetSpec) -> None:
    """The rules between image settings: mirror averaging, list files, the device."""
    if config.mirror_average and not spec.mirror_invariant:
        raise TorchbasicsError(
            f"{spec.name}: a mirrored image may not keep its class, so predictions must not "
            "average over mirror images", where="--mirror-average",
            fix="leave it off for this data set")
    from torchbasics.device import resolve_device

    resolve_device(config.device)  # an unknown or absent device is refused here


def step_plan(config: TrainConfig, steps_per_epoch: int) -> StepPlan:
    """The steps a run with a fixed length takes: ``steps``, else ``epochs`` whole epochs."""
    return StepPlan(config.steps or config.epochs * steps_per_epoch)


def optimizer_and_schedule(
    model: torch.nn.Module, config: TrainConfig, plan: StepPlan,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The optimizer and learning-rate schedule ``config`` names, the schedule laid over
    the plan's steps."""
    optimizer = build_optimizer(model, config.optimizer, lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    return optimizer, build_scheduler(optimizer, config.schedule, plan=plan,
                                      warmup=config.warmup)
