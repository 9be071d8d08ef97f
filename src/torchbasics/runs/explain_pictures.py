"""Explain an image classifier: what it learned, why it answered, and whether the maps
that say so pass the published sanity checks (``torchbasics explain`` on an image run).

It writes to its output folder (``RUN/explain`` unless given):

- what the model holds, by family (:mod:`torchbasics.explain.inside`): softmax
  regression's templates and a picture's contributions; an MLP's units, their outputs
  for a picture and how many are dead or saturated; a CNN's filters and feature maps;
- ``attributions.png``: the pictures asked about (else one test picture per class, up to
  :data:`SHOWN`) with each attribution method's map of the predicted class;
- the checks (:mod:`torchbasics.explain.checks`) on :data:`CHECKED` test pictures:
  completeness, randomization and deletion per method, ``deletion.png``; a method that
  fails one is flagged in ``explain.json`` and in what is printed, never left out;
- ``embedding.png``: the hidden representation of up to :data:`EMBEDDED` test pictures in
  2-d; ``confused.png``: the most-confused class pairs with examples;
- ``explain.json``: the files, the facts and every check's figures.

A model that averages over mirror images is explained through its network on the picture
as given (one view): the wrapper has no weights, and its two passes would count each
layer twice. A table model gets its formula or weights and permutation importance
(:mod:`.explain_table`); :func:`torchbasics.runs.explain.explain_run` does either.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.explain import checks, inside
from torchbasics.explain.attributions import (
    MOST_STEPS,
    TITLES,
    Attribution,
    attribute,
    black_baseline,
    integrated_gradients_at,
    methods_for,
)
from torchbasics.inference.predictor import Classifier

SHOWN = 6  # test pictures explained when none are named
CHECKED = 100  # test pictures the checks run on (Adebayo et al. ask for at least 100)
EMBEDDED = 2000  # test pictures drawn in 2-d
MOST_TEST = 10_000  # test pictures read at most (a seeded sample of a larger split) ...
TEST_BYTES = 256 << 20  # ... and fewer for large pictures: their model inputs, in float32
CONFUSED_PAIRS, EXAMPLES = 5, 6
BATCH = 500


@dataclass
class HeldOut:
    """A run's test pictures as the model sees them, and its answers."""

    inputs: torch.Tensor  # (N, C, H, W) model inputs
    labels: np.ndarray  # (N,)
    predictions: np.ndarray  # (N,)


@dataclass
class Explained:
    """The pictures explained: model inputs, what they show, the class each map explains."""

    inputs: torch.Tensor  # (N, C, H, W)
    seen: np.ndarray  # (N, C, H, W) on [0, 1]: after deskewing, before normalizing
    targets: torch.Tensor  # (N,) the predicted class
    captions: list[str]


def explain_pictures(classifier: Classifier, pictures: Sequence[str | os.PathLike],
                     out: Path, *, checked: int, steps: int, seed: int,
                     log: Callable[[str], None]) -> dict[str, Any]:
    """Explain ``classifier`` into the folder ``out`` (see the module docstring); the facts
    for ``explain.json``."""
    from torchbasics.plots import save_figure

    if checked < 2:
        raise TorchbasicsError(f"the checks need at least 2 pictures, got {checked}",
                               where="--checked")

    net = inside.network(classifier.model).eval()
    log("reading the test pictures...")
    test = held_out(classifier, seed)
    shown = explained(classifier, pictures, test)
    baseline = black_baseline(classifier.preprocessing.model_input,
                              classifier.preprocessing.input_shape)
    files: dict[str, str] = {}
    facts = family_figures(net, classifier, shown, test, out, files)
    log(f"attributions of {len(shown.captions)} pictures...")
    maps = {method: attribute(method, net, shown.inputs, shown.targets, baseline,
                              steps=steps).maps for method in methods_for(net)}
    from torchbasics.explain.figures import attributions_figure

    save_figure(attributions_figure(shown.seen, maps, shown.captions), out / "attributions.png")
    files["attributions"] = "attributions.png"
    found = run_checks(net, test, baseline, count=checked, steps=steps, seed=seed, log=log)
    from torchbasics.explain.figures import deletion_figure

    save_figure(deletion_figure({m: r["deletion"] for m, r in found.items()}),
                out / "deletion.png")
    files["deletion"] = "deletion.png"
    pairs = confused(classifier, test, out, files)
    draw_embedding(classifier, net, test, out, files, seed, log)
    return {"kind": "image", "dataset": classifier.dataset,
            "model": classifier.config.get("model"), "family": inside.family(net),
            "mirror_averaged": net is not classifier.model, "pictures": shown.captions,
            "files": files, **facts, "confused_pairs": pairs,
            "checks": {"pictures": min(checked, len(test.labels)),
                       "steps": {"first": steps, "most": max(steps, MOST_STEPS)},
                       "seed": seed, "goals": goals(), "methods": found}}


def goals() -> dict[str, float]:
    """Each check's goal, as ``explain.json`` records them."""
    return {"completeness": checks.COMPLETENESS_GOAL,
            "randomization": checks.RANDOMIZATION_GOAL, "deletion": checks.DELETION_GOAL}


def held_out(classifier: Classifier, seed: int) -> HeldOut:
    """The run's test split (a seeded sample when larger than :data:`MOST_TEST` or
    :data:`TEST_BYTES`) as model inputs, with the model's answers."""
    from torchbasics.runs.evaluate_pictures import evaluation_data

    data = evaluation_data(classifier, "test", None, None)
    rows = np.arange(len(data))
    most = max(CHECKED, min(MOST_TEST, TEST_BYTES // (4 * int(np.prod(data.image_shape)))))
    if len(rows) > most:
        rows = np.sort(np.random.default_rng(seed).choice(rows, most, replace=False))
    step = classifier.preprocessing.model_input
    inputs = torch.cat([step(data.take(rows[s:s + BATCH]).float().div_(255))
                        for s in range(0, len(rows), BATCH)])
    labels = data.labels[torch.from_numpy(rows)].numpy()
    with torch.no_grad():
        predictions = torch.cat([classifier.model(inputs[s:s + BATCH]).argmax(dim=1)
                                 for s in range(0, len(inputs), BATCH)]).numpy()
    return HeldOut(inputs, labels, predictions)


def explained(classifier: Classifier, pictures: Sequence[str | os.PathLike],
              test: HeldOut) -> Explained:
    """The pictures named (read as ``predict`` reads them), else one test picture per
    class, up to :data:`SHOWN`; each to be explained for the class predicted."""
    names = classifier.class_names
    if pictures:
        inputs = torch.cat([classifier.preprocess(path).tensor for path in pictures])
    else:
        rows = [int(np.flatnonzero(test.labels == label)[0]) for label in range(len(names))
                if (test.labels == label).any()][:SHOWN]
        inputs = test.inputs[rows]
    with torch.no_grad():
        probabilities = torch.softmax(classifier.model(inputs), dim=1)
    confidence, targets = probabilities.max(dim=1)
    if pictures:
        captions = [f"{Path(path).name}\n→ {names[t]} ({p:.0%})"
                    for path, t, p in zip(pictures, targets.tolist(), confidence.tolist(),
                                          strict=True)]
    else:
        captions = [f"true: {names[test.labels[r]]}\n→ {names[t]} ({p:.0%})"
                    for r, t, p in zip(rows, targets.tolist(), confidence.tolist(), strict=True)]
    return Explained(inputs, seen(classifier, inputs), targets, captions)


def seen(classifier: Classifier, inputs: torch.Tensor) -> np.ndarray:
    """What the model saw, ``(N, C, H, W)`` on [0, 1]: its inputs before normalizing."""
    step = classifier.preprocessing.model_input
    return (inputs * step.std + step.mean).clamp(0, 1).double().numpy()


def family_figures(net: nn.Module, classifier: Classifier, shown: Explained,
                   test: HeldOut, out: Path, files: dict[str, str]) -> dict[str, Any]:
    """The figures of what a model of this family holds (see the module docstring); the
    facts they show."""
    from torchbasics.explain import figures
    from torchbasics.plots import save_figure

    kind = inside.family(net)
    first, caption = shown.inputs[:1], shown.captions[0].replace("\n", " ")
    saved: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    if kind == "linear":
        names = classifier.class_names
        saved["templates"] = figures.templates_figure(
            inside.templates(net, classifier.preprocessing.input_shape), names)
        saved["contributions"] = figures.contributions_figure(
            inside.contributions(net, first)[0], names, caption)
    elif kind == "mlp":
        health = inside.unit_health(net, test.inputs)
        values = inside.unit_activations(net, first)[0]
        order = health.order()
        saved["units"] = figures.units_figure(
            inside.first_units(net, classifier.preprocessing.input_shape), order,
            health.dead, health.saturated)
        saved["activations"] = figures.activations_figure(
            shown.seen[0], values, order, health.activation, caption)
        saved["unit_health"] = figures.health_figure(
            inside.unit_activations(net, test.inputs[:1000]), health)
        facts["units"] = {"activation": health.activation, "count": len(health.dead),
                          "dead": int(health.dead.sum()),
                          "saturated": int(health.saturated.sum()),
                          "flat_share": round(health.flat_share, 4)}
    else:
        saved["filters"] = figures.filters_figure(inside.filters(net))
        saved["feature_maps"] = figures.feature_maps_figure(
            shown.seen[0], [maps[0] for maps in inside.feature_maps(net, first)], caption)
    for name, figure in saved.items():
        save_figure(figure, out / f"{name}.png")
        files[name] = f"{name}.png"
    return facts


def run_checks(net: nn.Module, test: HeldOut, baseline: torch.Tensor, *, count: int,
               steps: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Every method's checks on ``count`` test pictures (a seeded sample), each figure with
    whether it meets its goal."""
    rows = np.sort(np.random.default_rng(seed).permutation(len(test.labels))[:count])
    inputs = test.inputs[rows]
    targets = torch.from_numpy(test.predictions[rows])
    changed = ((inputs - baseline).abs().amax(dim=1) > 1e-6).numpy()  # not the baseline's
    found = {}
    for method in methods_for(net):
        log(f"checking {TITLES[method]} on {len(rows)} test pictures...")

        trained = attribute(method, net, inputs, targets, baseline, steps=steps)

        def maps_of(model: nn.Module, method: str = method,
                    trained: Attribution = trained) -> np.ndarray:
            if trained.steps is not None:  # Integrated Gradients: the trained model's steps
                return integrated_gradients_at(model, inputs, targets, baseline,
                                               trained.steps).maps
            return attribute(method, model, inputs, targets, baseline, steps=steps).maps

        result: dict[str, Any] = {}
        if trained.delta is not None:
            result["completeness"] = checks.completeness(trained.delta, trained.gap)
            result["completeness_passed"] = result["completeness"] <= checks.COMPLETENESS_GOAL
            result["steps"] = {"fewest": int(trained.steps.min()),
                               "most": int(trained.steps.max()),
                               "mean": round(float(trained.steps.mean()), 1)}
        cascade = checks.randomization(maps_of, net, trained.maps, changed, seed)
        result["randomization"] = cascade["changed"]
        result["randomization_all_pixels"] = cascade["all"]
        result["randomization_passed"] = (cascade["changed"]["every layer"]
                                          <= checks.RANDOMIZATION_GOAL)
        result["deletion"] = checks.deletion(net, inputs, targets, trained.maps, baseline, seed)
        result["deletion_passed"] = result["deletion"]["ratio"] <= checks.DELETION_GOAL
        found[method] = result
    return found


def confused(classifier: Classifier, test: HeldOut, out: Path,
             files: dict[str, str]) -> list[dict[str, Any]]:
    """``confused.png``: the most-confused class pairs of the test pictures, with examples;
    the pairs and how often."""
    from torchbasics.explain.figures import confused_figure
    from torchbasics.metrics import confusion, most_confused_pairs
    from torchbasics.plots import save_figure

    names = classifier.class_names
    pairs = most_confused_pairs(confusion(test.labels, test.predictions, len(names)),
                                CONFUSED_PAIRS)
    if not pairs:
        return []
    examples = [seen(classifier, test.inputs[np.flatnonzero(
        (test.labels == true) & (test.predictions == predicted))[:EXAMPLES]])
        for true, predicted, _ in pairs]
    save_figure(confused_figure(pairs, examples, names), out / "confused.png")
    files["confused"] = "confused.png"
    return [{"true": names[t], "predicted": names[p], "count": c} for t, p, c in pairs]


def draw_embedding(classifier: Classifier, net: nn.Module, test: HeldOut, out: Path,
                   files: dict[str, str], seed: int, log: Callable[[str], None]) -> None:
    """``embedding.png``: the hidden representation of up to :data:`EMBEDDED` test
    pictures in 2-d, coloured by class, mistakes marked."""
    from torchbasics.explain.embedding import embed
    from torchbasics.explain.figures import embedding_figure
    from torchbasics.plots import save_figure

    rows = np.sort(np.random.default_rng(seed).permutation(len(test.labels))[:EMBEDDED])
    if len(rows) < 5:
        return
    log(f"drawing {len(rows):,} test pictures' hidden representation in 2-d (t-SNE)...")
    features = inside.hidden_representation(net, test.inputs[rows])
    what = ("The pixels" if inside.family(net) == "linear"
            else "The hidden representation (the output layer's input)")
    figure = embedding_figure(embed(features, seed), test.labels[rows],
                              test.predictions[rows], classifier.class_names, what)
    save_figure(figure, out / "embedding.png")
    files["embedding"] = "embedding.png"


def check_lines(result: dict[str, Any]) -> list[str]:
    """The checks per method as a table (failures flagged), and their goals."""
    lines = ["| method | completeness | randomization (every layer) | deletion ratio |",
             "|---|---:|---:|---:|"]
    for method, found in result["checks"]["methods"].items():
        cells = [_figure(found, "completeness", "{:.2%}"),
                 _figure(found, "randomization", "{:.2f}", lambda r: r["every layer"]),
                 _figure(found, "deletion", "{:.2f}", lambda d: d["ratio"])]
        lines.append(f"| {TITLES[method]} | " + " | ".join(cells) + " |")
    goal = result["checks"]["goals"]
    lines.append(f"goals: completeness ≤ {goal['completeness']:.0%}, randomization ≤ "
                 f"{goal['randomization']}, deletion ≤ {goal['deletion']}; FAILS marks a "
                 f"method that misses one (on {result['checks']['pictures']} test pictures)")
    return lines


def _figure(found: dict[str, Any], check: str, form: str,
            pick: Callable[[Any], float] = lambda value: value) -> str:
    """One check's figure for the table: ``-`` where it does not apply, flagged if failed."""
    if check not in found:
        return "-"
    text = form.format(pick(found[check]))
    return text if found[f"{check}_passed"] else f"{text} FAILS"
