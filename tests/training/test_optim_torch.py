"""What ``training/optim.py`` takes from torch's private code, checked on the installed torch.

optim.py calls the methods that ``torch.optim`` wraps for ``torch.compile``, doing what the
wrappers do outside compilation itself (its docstring says why). Nothing public promises
that those wrappers stay as they are, so each test here checks one thing optim.py relies
on, and a failure names optim.py and what changed: a torch release that breaks it is
found here, not by a run that trains differently. ``pyproject.toml``'s torch range is the
releases these tests have passed on; widen it only after they pass on a newer one.
"""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import Optimizer, _use_grad_for_differentiable

from torchbasics.models import create_model
from torchbasics.training import optim
from torchbasics.training.optim import build_optimizer

OPTIM_PY = "src/torchbasics/training/optim.py"
TORCH_OPTIMIZERS = {"sgd": (torch.optim.SGD, optim.SGD, dict(momentum=0.9, nesterov=True)),
                    "adam": (torch.optim.Adam, optim.Adam, {}),
                    "adamw": (torch.optim.AdamW, optim.AdamW, {})}
# The Optimizer methods optim.EagerOptimizer calls unwrapped, with the parameters it passes.
UNWRAPPED = {"zero_grad": ["self", "set_to_none"], "add_param_group": ["self", "param_group"],
             "state_dict": ["self"], "load_state_dict": ["self", "state_dict"]}


def _broken(what: str) -> None:
    """Fail, naming optim.py, what changed and what to do about it."""
    pytest.fail(f"torch {torch.__version__} no longer does what {OPTIM_PY} relies on: {what}. "
                f"Read torch/optim/optimizer.py and update {OPTIM_PY} (or let it build "
                "torch.optim's own classes); then change the torch range in pyproject.toml.",
                pytrace=False)


def _code_of(decorator: Callable[[Callable[..., Any]], Callable[..., Any]]) -> types.CodeType:
    """The code of the wrapper ``decorator`` makes: every function it wraps shares it."""
    return decorator(lambda: None).__code__


USE_GRAD = _code_of(_use_grad_for_differentiable)
DISABLE_DYNAMO = _code_of(torch._disable_dynamo)
STEP_HOOKS = _code_of(Optimizer.profile_hook_step)  # what Optimizer.__init__ puts on step


def _wrappers(function: Callable[..., Any]) -> tuple[list[types.CodeType], Callable[..., Any]]:
    """The code of each wrapper around ``function`` (outermost first, as ``__wrapped__``
    links them, the way ``inspect.unwrap`` follows them) and the function at the end."""
    codes = []
    while hasattr(function, "__wrapped__"):
        codes.append(function.__code__)
        function = function.__wrapped__
    return codes, function


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_step_is_its_own_function_under_use_grad_alone(name):
    kind = TORCH_OPTIMIZERS[name][0]
    codes, step = _wrappers(kind.step)
    if codes and codes[0] is STEP_HOOKS:  # hooked when torch's class was built before
        codes = codes[1:]
    if codes != [USE_GRAD]:
        _broken(f"{kind.__name__}.step is wrapped by {[c.co_name for c in codes]}, "
                "not by _use_grad_for_differentiable alone")
    if step is not inspect.unwrap(kind.step):
        _broken(f"inspect.unwrap stops short of {kind.__name__}.step's own function")
    if not (step.__module__.startswith("torch.optim.") and step.__qualname__.endswith(".step")
            and list(inspect.signature(step).parameters) == ["self", "closure"]):
        _broken(f"{kind.__name__}.step unwraps to {step.__module__}.{step.__qualname__}"
                f"{inspect.signature(step)}, not an optimizer's step(self, closure)")


def test_use_grad_does_nothing_but_set_grad_mode_from_defaults_outside_compile():
    expected = {"torch", "torch._dynamo", "_dynamo", "graph_break", "set_grad_enabled",
                "is_grad_enabled", "defaults", "cast", "Optimizer"}
    if not set(USE_GRAD.co_names) <= expected:
        _broken(f"_use_grad also uses {sorted(set(USE_GRAD.co_names) - expected)}")
    if "differentiable" not in USE_GRAD.co_consts:
        _broken("_use_grad no longer reads defaults['differentiable']")

    def step(self, closure=None):
        return torch.is_grad_enabled(), closure

    wrapped = _use_grad_for_differentiable(step)
    for differentiable in (False, True):
        fake = types.SimpleNamespace(defaults={"differentiable": differentiable})
        for outside in (False, True):
            with torch.set_grad_enabled(outside):
                seen = wrapped(fake, "closure")
                after = torch.is_grad_enabled()
            if seen != (differentiable, "closure") or after != outside:
                _broken(f"_use_grad with differentiable={differentiable} ran the step with "
                        f"grad mode {seen[0]} (and left {after} instead of {outside})")


@pytest.mark.parametrize("method", list(UNWRAPPED))
def test_the_methods_called_unwrapped_are_optimizers_own_under_disable_dynamo(method):
    codes, function = _wrappers(getattr(Optimizer, method))
    if codes != [DISABLE_DYNAMO]:
        _broken(f"Optimizer.{method} is wrapped by {[c.co_name for c in codes]}, not by "
                "torch._disable_dynamo alone")
    if (function.__qualname__ != f"Optimizer.{method}"
            or list(inspect.signature(function).parameters) != UNWRAPPED[method]):
        _broken(f"Optimizer.{method} unwraps to {function.__qualname__}"
                f"{inspect.signature(function)}")
    for kind, _, _ in TORCH_OPTIMIZERS.values():  # optim.py would skip an override
        if getattr(kind, method) is not getattr(Optimizer, method):
            _broken(f"{kind.__name__} overrides Optimizer.{method}")


def test_disable_dynamo_does_nothing_but_call_the_function_outside_compile():
    expected = {"torch", "torch._dynamo", "_dynamo", "disable", "getattr", "__dynamo_disable"}
    if not set(DISABLE_DYNAMO.co_names) <= expected:
        _broken(f"_disable_dynamo's wrapper also uses "
                f"{sorted(set(DISABLE_DYNAMO.co_names) - expected)}")
    wrapped = torch._disable_dynamo(lambda *args, **kwargs: (args, kwargs, torch.is_grad_enabled()))
    if wrapped(1, key=2) != ((1,), {"key": 2}, True):
        _broken("a function under torch._disable_dynamo is not called as it was given")


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_our_step_runs_the_hooks_once_after_torchs_own_class_was_built(name):
    kind, ours, options = TORCH_OPTIMIZERS[name]
    kind([torch.zeros(2, requires_grad=True)], lr=0.1)  # hooks torch's class's step
    parameter = torch.zeros(2, requires_grad=True)
    optimizer = ours([parameter], lr=0.1, **options)
    if optimizer.defaults.get("differentiable") is not False:
        _broken(f"{kind.__name__}'s defaults['differentiable'] is "
                f"{optimizer.defaults.get('differentiable')!r}, not False")
    codes, function = _wrappers(ours.step)
    if codes != [STEP_HOOKS] or function is not optim.EagerOptimizer.step:
        _broken("Optimizer.__init__ no longer puts its step hooks around the subclass's step")
    calls = []
    optimizer.register_step_pre_hook(lambda *args: calls.append("pre"))
    optimizer.register_step_post_hook(lambda *args: calls.append("post"))
    parameter.grad = torch.ones(2)
    optimizer.step()
    if calls != ["pre", "post"]:
        _broken(f"one step of {ours.__name__} ran the hooks as {calls}")


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "plain"])
@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_our_optimizers_step_exactly_as_torchs_own(name, fused):
    torch.manual_seed(0)
    ours_model = create_model("mlp-relu", (1, 8, 8), 3, hidden=16)
    torch_model = copy.deepcopy(ours_model)
    ours = build_optimizer(ours_model, name, lr=0.01, weight_decay=1e-2)
    for group in ours.param_groups:
        group["fused"] = fused
    kind, _, options = TORCH_OPTIMIZERS[name]
    reference = kind([{"params": g["params"], "weight_decay": g["weight_decay"]}
                      for g in _groups_of(torch_model)], lr=0.01, fused=fused, **options)
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    for step in range(4):
        losses = []
        for model, opt in ((ours_model, ours), (torch_model, reference)):
            opt.zero_grad()

            def closure(model=model):
                return F.cross_entropy(model(images), labels)

            F.cross_entropy(model(images), labels).backward()
            losses.append(opt.step(closure))
        assert torch.equal(losses[0], losses[1])  # the closure's loss comes back
        if step == 1:  # a save and restore in the middle changes nothing
            ours.load_state_dict(copy.deepcopy(ours.state_dict()))
    for mine, theirs in zip(ours_model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(mine, theirs), f"{OPTIM_PY}: {name} steps differently from torch's"
    saved, expected = ours.state_dict()["state"], reference.state_dict()["state"]
    assert saved.keys() == expected.keys()
    for index, state in saved.items():
        assert all(torch.equal(torch.as_tensor(value), torch.as_tensor(expected[index][key]))
                   for key, value in state.items())


def _groups_of(model):
    decay = [p for p in model.parameters() if p.ndim > 1]
    return [{"params": decay, "weight_decay": 1e-2},
            {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
