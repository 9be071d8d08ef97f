"""Command-line flags made from the settings' declarations, and the config they give.

Each :class:`~torchbasics.runs.config.TrainConfig` setting and each model setting
(:data:`~torchbasics.models.MODEL_SETTINGS`) becomes one flag whose help states its default
and range; every flag defaults to "not given" (``None``), so that recipes can fill in what
the user left out. Nothing here restates a default, a range or a choice.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from torchbasics.data.registry import DATASETS
from torchbasics.models import MODEL_SETTINGS, get_model_entry, list_models, setting_defaults
from torchbasics.runs.config import SETTINGS, TrainConfig
from torchbasics.settings import SCOPE_WORDS, SCOPES, Setting, flag_name

GROUP_TITLES = {
    "data": "data", "model": "model and model settings (only for the models that take them)",
    "optimization": "optimization", "run": "run",
}


def add_setting_flags(parser: argparse.ArgumentParser, *, exclude: Iterable[str] = (),
                      scopes: Iterable[str] = SCOPES, model_settings: bool = True) -> None:
    """Add a flag for every setting (but ``exclude``) that applies to data of ``scopes``
    (see :data:`~torchbasics.settings.SCOPES`)."""
    exclude, scopes = set(exclude), set(scopes)
    groups: dict[str, argparse._ArgumentGroup] = {}

    def group(name: str) -> argparse._ArgumentGroup:
        if name not in groups:
            groups[name] = parser.add_argument_group(GROUP_TITLES[name])
        return groups[name]

    for name, declared in SETTINGS.items():
        applies = declared.applies_to is None or declared.applies_to in scopes
        if declared.flag and applies and name not in exclude:
            group(declared.group).add_argument(flag_name(name), dest=name, default=None,
                                               help=help_text(name, declared),
                                               **argparse_options(declared))
    if model_settings:
        for name, declared in MODEL_SETTINGS.items():
            group("model").add_argument(flag_name(name), dest=name, default=None,
                                        help=model_setting_help(name, declared),
                                        **argparse_options(declared))


def argparse_options(declared: Setting) -> dict[str, object]:
    """``type``/``action``, ``choices`` and ``metavar`` for argparse."""
    if declared.type is bool:
        return {"action": argparse.BooleanOptionalAction}
    options: dict[str, object] = {"type": declared.reader()}
    if declared.many:
        options["nargs"] = "+"
    if declared.choices is not None and not callable(declared.choices):
        options["choices"] = list(declared.choices)
    if declared.metavar:
        options["metavar"] = declared.metavar
    return options


def help_text(name: str, declared: Setting) -> str:
    """The setting's help, then its default (or recipe), range and scope, for ``--help``."""
    notes = []
    if name in _recipe_settings():
        notes.append("default: the model's recipe, see `torchbasics models`")
    elif declared.default is not None:
        notes.append(f"default: {_shown(declared.default)}")
    if callable(declared.choices):
        notes.append(f"one of: {', '.join(declared.allowed_choices() or [])}")
    if declared.range_text():
        notes.append(declared.range_text())
    if declared.applies_to:
        notes.append(f"{SCOPE_WORDS[declared.applies_to]} only")
    text = declared.help + (f" ({'; '.join(notes)})" if notes else "")
    return text.replace("%", "%%")  # argparse formats help strings with %


def model_setting_help(name: str, declared: Setting) -> str:
    """A model setting's help with each model's default (from its builder)."""
    defaults = ", ".join(f"{model} {value}" for model, value in setting_defaults(name).items())
    return f"{declared.help} (default: {defaults}; {declared.range_text()})".replace("%", "%%")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` the parsed flags describe (``None`` where not given)."""
    values = {name: getattr(args, name) for name in SETTINGS if hasattr(args, name)}
    values["model_settings"] = {name: one_or_many(getattr(args, name)) for name in MODEL_SETTINGS
                                if getattr(args, name, None) is not None}
    return TrainConfig(**values)


def one_or_many(value: Any) -> Any:
    """A flag's values as the setting holds them: one value alone, several as a list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _recipe_settings() -> set[str]:
    """The settings some model's recipe or some data set sets."""
    names = set()
    for model in list_models():
        names |= set(get_model_entry(model).recipe)
    for spec in DATASETS.values():
        names |= set(spec.settings)
        for recipe in spec.recipes.values():
            names |= set(recipe)
    return names


def _shown(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
