"""Optimizers and schedules: the fused update is the plain one; warm-up ends where it says."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from torchbasics.models import create_model
from torchbasics.training.optim import build_optimizer
from torchbasics.training.schedule import StepPlan, build_scheduler


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_fused_update_matches_the_plain_one(optimizer):
    torch.manual_seed(0)
    fused_model = create_model("mlp-relu", (1, 8, 8), 3, hidden=16)
    plain_model = copy.deepcopy(fused_model)
    fused = build_optimizer(fused_model, optimizer, lr=0.01, weight_decay=1e-2)
    plain = build_optimizer(plain_model, optimizer, lr=0.01, weight_decay=1e-2)
    assert all(group["fused"] for group in fused.param_groups)
    for group in plain.param_groups:  # the same groups, updated tensor by tensor
        group["fused"] = False
    images, labels = torch.randn(16, 1, 8, 8), torch.randint(0, 3, (16,))
    for _ in range(5):
        for model, opt in ((fused_model, fused), (plain_model, plain)):
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
    for ours, reference in zip(fused_model.parameters(), plain_model.parameters(), strict=True):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    untrained = create_model("mlp-relu", (1, 8, 8), 3, hidden=16)
    assert not torch.allclose(fused_model[1].weight, untrained[1].weight)


@pytest.mark.parametrize("warmup", [0.1, 0.25, 0.5])
def test_one_cycle_peaks_after_the_warmup_share_of_steps(warmup):
    optimizer = build_optimizer(create_model("cnn", (1, 8, 8), 3), "sgd", lr=0.2)
    scheduler = build_scheduler(optimizer, "onecycle", plan=StepPlan(100), warmup=warmup)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = max(range(100), key=rates.__getitem__)
    assert abs(peak - warmup * 100) <= 1
    assert rates[peak] == pytest.approx(0.2)


def test_hooks_still_run_on_our_step():
    optimizer = build_optimizer(create_model("softmax", (1, 4, 4), 2), "sgd", lr=0.1)
    calls = []
    optimizer.register_step_pre_hook(lambda *args: calls.append("pre"))
    optimizer.register_step_post_hook(lambda *args: calls.append("post"))
    optimizer.step()
    assert calls == ["pre", "post"]


def test_building_stepping_and_saving_an_optimizer_does_not_import_the_compiler():
    import subprocess
    import sys

    script = (
        "import sys, torch\n"
        "from torchbasics.models import create_model\n"
        "from torchbasics.training.optim import build_optimizer\n"
        "for name in ('sgd', 'adam', 'adamw'):\n"
        "    model = create_model('mlp-relu', (1, 4, 4), 2)\n"
        "    optimizer = build_optimizer(model, name, lr=0.1)\n"
        "    model(torch.randn(3, 1, 4, 4)).sum().backward()\n"
        "    optimizer.step(); optimizer.zero_grad()\n"
        "    optimizer.load_state_dict(optimizer.state_dict())\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_momentum_zero_is_plain_sgd():
    """`--momentum 0` is allowed by its range: plain SGD, not PyTorch's refusal of Nesterov
    without momentum."""
    model = torch.nn.Linear(3, 1)
    optimizer = build_optimizer(model, "sgd", lr=0.1, momentum=0.0)
    assert optimizer.param_groups[0]["momentum"] == 0.0
    assert not optimizer.param_groups[0]["nesterov"]
    before = model.weight.detach().clone()
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    torch.testing.assert_close(model.weight, before - 0.1 * model.weight.grad)

