"""The search space of ``torchbasics tune``: made from the settings' own declarations.

Every setting that is worth searching says where, once, in its declaration
(:class:`~torchbasics.settings.SearchRange`: the training settings in
:class:`~torchbasics.runs.config.TrainConfig`, a model's own in
:data:`~torchbasics.models.MODEL_SETTINGS`). For each model to try, the space is those of its
settings that apply to the data and that the user did not fix (a flag fixes a setting);
``--search NAME=LOW:HIGH[:log]`` or ``NAME=A,B,C`` narrows one, or adds one that is not
searched by default, and ``NAME=A`` fixes it. Everything is checked against the setting's
own range before a trial runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from torchbasics.data.registry import DatasetSpec
from torchbasics.errors import TorchbasicsError, closest
from torchbasics.models import MODEL_SETTINGS, get_model_entry
from torchbasics.runs.config import IDENTITY, LENGTHS, SETTINGS, TrainConfig, applies
from torchbasics.settings import SearchRange, Setting, flag_name

LAYERS = "_layers"  # `hidden_layers`: how many values a setting of several values takes
MODEL = "model"  # the parameter that picks the model when several are tried
NOT_SEARCHED = set(IDENTITY) | set(LENGTHS) | {"seed", "device", "precision"}


@dataclass(frozen=True)
class Dimension:
    """One setting searched: its name, its declaration, and the concrete range (a
    ``SearchRange`` with bounds or choices, never ``around``: that is resolved)."""

    name: str
    declared: Setting
    range: SearchRange

    @property
    def layers(self) -> tuple[int, int] | None:
        """For a setting of several values, how many (fewest, most)."""
        return self.range.layers

    def suggest(self, trial: Any) -> Any:
        """The trial's value (an Optuna ``Trial`` asks the sampler)."""
        if self.layers is None:
            return self._one(trial, self.name)
        count = trial.suggest_int(self.name + LAYERS, *self.layers)
        values = [self._one(trial, layer_param(self.name, layer))
                  for layer in range(1, count + 1)]
        return values[0] if count == 1 else values

    def _one(self, trial: Any, name: str) -> Any:
        found = self.range
        if found.choices:
            return trial.suggest_categorical(name, list(found.choices))
        if self.declared.type is int:
            return trial.suggest_int(name, int(found.low), int(found.high), log=found.log)
        return trial.suggest_float(name, found.low, found.high, log=found.log)

    def params_of(self, value: Any) -> dict[str, Any]:
        """The trial parameters that give ``value`` (to start from a recipe): a number
        outside the range is its nearest bound (no weight decay: the least searched);
        ``{}`` where that cannot be (a choice not offered, a depth out of range)."""
        values = [self.nearest(one) for one in (
            value if isinstance(value, (list, tuple)) else [value])]
        if self.layers is None:
            return {self.name: values[0]} if len(values) == 1 and self.holds(values[0]) else {}
        if not (self.layers[0] <= len(values) <= self.layers[1]) or not all(
                map(self.holds, values)):
            return {}
        return {self.name + LAYERS: len(values)} | {
            layer_param(self.name, layer): one for layer, one in enumerate(values, start=1)}

    def nearest(self, value: Any) -> Any:
        """``value``, or for a number outside the range its nearest bound."""
        if self.range.choices or isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        return min(max(value, self.range.low), self.range.high)

    def holds(self, value: Any) -> bool:
        """Whether ``value`` lies in the range."""
        if self.range.choices:
            return value in self.range.choices
        return isinstance(value, (int, float)) and self.range.low <= value <= self.range.high

    def describe(self) -> str:
        """The range in a few words, e.g. ``"1e-05 to 0.1, log scale"``."""
        return self.range.describe()


@dataclass(frozen=True)
class Space:
    """What a study searches: the models, and each model's dimensions."""

    models: tuple[str, ...]
    dimensions: dict[str, tuple[Dimension, ...]]  # model -> its dimensions

    def suggest(self, trial: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The model, training settings and model settings of one trial."""
        model = (trial.suggest_categorical(MODEL, list(self.models)) if len(self.models) > 1
                 else self.models[0])
        settings, own = {}, {}
        for dimension in self.dimensions[model]:
            target = own if dimension.name in MODEL_SETTINGS else settings
            target[dimension.name] = dimension.suggest(trial)
        return model, settings, own

    def recipe_params(self, model: str, recipe: TrainConfig) -> dict[str, Any]:
        """The parameters of a trial that trains ``model`` with its recipe ``recipe``."""
        params = {MODEL: model} if len(self.models) > 1 else {}
        for dimension in self.dimensions[model]:
            value = recipe_value(model, recipe, dimension.name)
            if value is not None:
                params |= dimension.params_of(value)
        return params

    def describe(self) -> dict[str, dict[str, str]]:
        """Model -> setting -> its range in words (``results.md``, and what a study must
        match to be continued)."""
        return {model: {d.name: d.describe() for d in dimensions}
                for model, dimensions in self.dimensions.items()}


def layer_param(name: str, layer: int) -> str:
    """The trial parameter of one layer's value of a setting of several (``hidden_2``)."""
    return f"{name}_{layer}"


def layers_of(name: str) -> str | None:
    """The setting whose count of layers ``name`` is (``hidden_layers`` -> ``hidden``)."""
    return name[:-len(LAYERS)] if name.endswith(LAYERS) else None


def settings_of(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as settings, the inverse of :meth:`Space.suggest`:
    ``hidden_layers`` and ``hidden_1..n`` become one ``hidden`` list (or number)."""
    layers = {layers_of(name): count for name, count in params.items() if layers_of(name)}
    layered = {layer_param(base, layer): base for base, count in layers.items()
               for layer in range(1, count + 1)}
    settings = {}
    for name, value in params.items():
        if layers_of(name) in layers:
            base = layers_of(name)
            sizes = [params[layer_param(base, layer)] for layer in range(1, value + 1)]
            settings[base] = sizes[0] if len(sizes) == 1 else sizes
        elif name not in layered:
            settings[name] = value
    return settings


def recipe_value(model: str, recipe: TrainConfig, name: str) -> Any:
    """A setting's value in ``model``'s recipe; a model setting the recipe leaves out is
    its builder's default."""
    if name in MODEL_SETTINGS:
        return (get_model_entry(model).settings() | recipe.model_settings).get(name)
    return getattr(recipe, name)


def parse_search(texts: Iterable[str]) -> dict[str, SearchRange | Any]:
    """``--search`` values: name -> a :class:`SearchRange`, or the one value it is fixed to.

    Raises:
        TorchbasicsError: an unknown name, a malformed or empty range, a value outside the
            setting's own range; one line naming the ``--search`` given.
    """
    found: dict[str, SearchRange | Any] = {}
    for text in texts:
        name, equals, body = text.partition("=")
        name = name.strip().lstrip("-").replace("-", "_")
        where = f"--search {text}"
        if not equals or not body.strip():
            raise TorchbasicsError("expected NAME=LOW:HIGH[:log], NAME=A,B,C or NAME=A",
                                   where=where)
        declared = _declared(name, where)
        found[name] = _parse_range(name, declared, body.strip(), where)
        if name.endswith(LAYERS) and not isinstance(found[name], SearchRange):
            found[name] = SearchRange(found[name], found[name])  # a count fixed: no flag has it
    return found


def _declared(name: str, where: str) -> Setting:
    """The declaration of a searchable name (``hidden_layers``: the count of ``hidden``)."""
    base = layers_of(name)
    if base is not None and base in MODEL_SETTINGS and MODEL_SETTINGS[base].many:
        return Setting(int, "how many layers", low=1)
    declared = MODEL_SETTINGS.get(name) or SETTINGS.get(name)
    searchable = [n for n in [*SETTINGS, *MODEL_SETTINGS] if n not in NOT_SEARCHED]
    if declared is None or name in NOT_SEARCHED or declared.type is list:
        raise TorchbasicsError(f"'{name}' is not a setting tune can search", where=where,
                               fix=closest(name, searchable) or "see `torchbasics train --help`")
    return declared


def _parse_range(name: str, declared: Setting, body: str, where: str) -> SearchRange | Any:
    """One ``--search`` body: ``LOW:HIGH[:log]``, ``A,B,C`` or ``A``."""
    if ":" in body:
        parts = body.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
            raise TorchbasicsError("a range is LOW:HIGH or LOW:HIGH:log", where=where)
        if declared.type not in (int, float):
            raise TorchbasicsError(f"'{name}' is not a number: give its values, A,B,C",
                                   where=where)
        low, high = (_value(declared, part, where) for part in parts[:2])
        log = len(parts) == 3
        if not low < high:
            raise TorchbasicsError(f"the range {low:g}:{high:g} is empty", where=where,
                                   fix="give the lower bound first")
        if log and low <= 0:
            raise TorchbasicsError("a log range must start above 0", where=where)
        return SearchRange(low, high, log=log)
    values = tuple(_value(declared, part, where) for part in body.split(","))
    return values[0] if len(values) == 1 else SearchRange(choices=values)


def _value(declared: Setting, text: str, where: str) -> Any:
    """One value of a ``--search`` body, read as the setting's type and checked."""
    text = text.strip()
    try:
        if declared.type is bool:
            value: Any = {"true": True, "false": False}[text.lower()]
        else:
            value = declared.type(float(text)) if declared.type is int and "e" in text.lower(
            ) else declared.type(text)
    except (KeyError, ValueError):
        raise TorchbasicsError(f"'{text}' is not {_kind(declared)}", where=where) from None
    declared.check(where, value)
    return value


def _kind(declared: Setting) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false"}.get(
        declared.type, "a value")


def build_space(models: Sequence[str], recipes: dict[str, TrainConfig], spec: DatasetSpec,
                given: TrainConfig, search: dict[str, SearchRange | Any]) -> Space:
    """The dimensions of each model: the declared ones that apply to the data and the model,
    less what the user fixed, narrowed or added by ``--search``.

    Args:
        recipes: each model's resolved recipe (what ``around`` ranges centre on).
        given: the settings the user gave (fixed, not searched).
        search: :func:`parse_search`'s result (fixed values are applied by the caller).

    Raises:
        TorchbasicsError: a ``--search`` for a setting none of the models or data use, or
            for one also given as a flag.
    """
    ranges = {name: value for name, value in search.items() if isinstance(value, SearchRange)}
    _refuse_fixed_and_searched(given, ranges)
    dimensions = {model: tuple(_model_dimensions(model, recipes[model], spec, given, ranges))
                  for model in models}
    used = {d.name for dims in dimensions.values() for d in dims}
    unused = [name for name in ranges if name not in used and layers_of(name) not in used]
    if unused:
        raise TorchbasicsError(
            f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used by "
            f"{', '.join(models)} on '{spec.title}'", where="--search",
            fix="leave it out, or try a model that takes it (--model)")
    return Space(tuple(models), dimensions)


def _refuse_fixed_and_searched(given: TrainConfig, ranges: dict[str, SearchRange]) -> None:
    """A setting given as a flag is fixed: searching it too says two things."""
    for name in ranges:
        base = layers_of(name) or name
        value = given.model_settings.get(base) if base in MODEL_SETTINGS else getattr(
            given, base)
        if value is not None:
            raise TorchbasicsError(f"{flag_name(base)} is given, and searched by --search",
                                   where="--search", fix="give one of them")


def _model_dimensions(model: str, recipe: TrainConfig, spec: DatasetSpec, given: TrainConfig,
                      ranges: dict[str, SearchRange]) -> Iterable[Dimension]:
    """The dimensions of one model (see :func:`build_space`)."""
    for name, declared in SETTINGS.items():
        if name in NOT_SEARCHED or not applies(declared, spec) or getattr(given, name) is not None:
            continue
        if isinstance(recipe.lr, str) and name == "lr":
            continue  # --lr auto: the range test chooses it
        found = ranges.get(name) or declared.search
        if found is not None:
            yield _dimension(name, declared, found, getattr(recipe, name),
                             widen=name not in ranges)
    for name in get_model_entry(model).settings():
        declared = MODEL_SETTINGS[name]
        found = ranges.get(name) or declared.search
        if found is None or name in given.model_settings:
            continue
        several = name in get_model_entry(model).several
        layers = ranges.get(name + LAYERS)
        if several and layers is not None:
            found = dataclasses.replace(found, layers=(int(layers.low), int(layers.high)) if (
                layers.low is not None) else (min(layers.choices), max(layers.choices)))
        if not several:
            found = dataclasses.replace(found, layers=None)
        yield _dimension(name, declared, found, recipe_value(model, recipe, name),
                         widen=name not in ranges)


def _dimension(name: str, declared: Setting, found: SearchRange, recipe_value: Any, *,
               widen: bool) -> Dimension:
    """A concrete dimension: an ``around`` range centred on the recipe's value, each bound
    kept inside the setting's own range. With ``widen`` (a declared range, not one the user
    gave), the recipe's own value is one of the choices or inside the range, so that the
    search can start from the recipe (a table's full batch, say)."""
    number = isinstance(recipe_value, (int, float)) and not isinstance(recipe_value, bool)
    if found.choices:
        choices = tuple(found.choices)
        if widen and number and recipe_value not in choices:
            choices = tuple(sorted((*choices, recipe_value)))
        return Dimension(name, declared, SearchRange(choices=choices, layers=found.layers))
    low, high = found.low, found.high
    if found.around is not None:
        centre = recipe_value if number else declared.default
        low, high = centre / found.around, centre * found.around
    elif widen and number and (recipe_value > 0 or not found.log):
        low, high = min(low, recipe_value), max(high, recipe_value)
    if declared.high is not None:
        high = min(high, declared.high if declared.high_inclusive else math.nextafter(
            declared.high, -math.inf))
    if declared.low is not None and low < declared.low:
        low = declared.low
    return Dimension(name, declared, SearchRange(low, high, found.log, layers=found.layers))
