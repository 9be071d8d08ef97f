"""Device and precision choice on every kind of machine, with the hardware mocked.

This machine has no GPU, so CUDA, ROCm, Apple MPS and other accelerators are faked by
monkeypatching the calls :mod:`torchbasics.device` makes (``torch.cuda.is_available``,
``torch.backends.mps.is_available``, ``torch.accelerator.current_accelerator``, ...).
What is tested is the choice; running on the devices needs the devices.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from torchbasics import device as device_module
from torchbasics.cpu import CpuInfo
from torchbasics.device import (
    Precision,
    autocast,
    choose_device,
    choose_precision,
    resolve_device,
)
from torchbasics.errors import TorchbasicsError


@pytest.fixture
def machine(monkeypatch):
    """``machine(cuda=2, ...)`` makes torch see the hardware described."""

    def make(*, cuda: int = 0, cuda_native_bf16: bool = False, cuda_emulated_bf16: bool = True,
             cuda_build: bool = True, rocm: bool = False, mps: bool = False,
             accelerator: str | None = None, accelerator_count: int = 1,
             cpu_bf16: bool = False, autocast_on: tuple[str, ...] = ("cpu", "cuda", "mps")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: f"GPU {index}")
        monkeypatch.setattr(torch.cuda, "device", lambda index: contextlib.nullcontext())
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True:
                            cuda_native_bf16 or (including_emulation and cuda_emulated_bf16))
        monkeypatch.setattr(torch.version, "cuda", "13.0" if cuda_build and not rocm else None)
        monkeypatch.setattr(torch.version, "hip", "7.2" if rocm else None)
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
        monkeypatch.setattr(torch.backends.mps, "is_built", lambda: mps)
        compiled = "cuda" if cuda else "mps" if mps else accelerator
        monkeypatch.setattr(torch.accelerator, "current_accelerator",
                            lambda check_available=False: None if compiled is None
                            else torch.device(compiled))
        monkeypatch.setattr(torch.accelerator, "device_count", lambda: accelerator_count)
        monkeypatch.setattr(torch.amp, "is_autocast_available", lambda kind: kind in autocast_on)
        flags = {"avx2": True, "avx512f": cpu_bf16, "avx512_bf16": cpu_bf16, "amx_bf16": False}
        monkeypatch.setattr(device_module, "cpu_info", lambda: CpuInfo("test CPU", flags, "mock"))

    return make


# --- --device auto ------------------------------------------------------------------------

def test_auto_takes_a_cuda_gpu_first_without_an_index(machine):
    machine(cuda=2, mps=True, accelerator="xpu")
    choice = choose_device("auto")
    assert choice.device == torch.device("cuda")  # torchrun ranks then take cuda:LOCAL_RANK
    assert choice.reason == "found NVIDIA GPU 'GPU 0' (1 of 2)"


def test_auto_names_an_amd_gpu_as_rocm(machine):
    machine(cuda=1, rocm=True)
    assert choose_device("auto").reason == "found AMD GPU (ROCm) 'GPU 0' (1 of 1)"


def test_auto_takes_apples_gpu_without_cuda(machine):
    machine(mps=True)
    assert choose_device("auto") == device_module.DeviceChoice(torch.device("mps"),
                                                               "found Apple's GPU (MPS)")


def test_auto_takes_another_accelerator_that_torch_knows(machine):
    machine(accelerator="xpu")
    choice = choose_device("auto")
    assert choice.device == torch.device("xpu")
    assert choice.reason == "found xpu device (torch.accelerator)"


@pytest.mark.parametrize(("cuda_build", "why"), [
    (False, "this PyTorch is a CPU-only build"),
    (True, "this PyTorch has CUDA, but it sees no GPU"),
])
def test_auto_falls_back_to_the_cpu_saying_why(machine, cuda_build, why):
    machine(cuda_build=cuda_build)
    choice = choose_device("auto")
    assert choice.device == torch.device("cpu")
    assert choice.reason.startswith(f"no GPU or other accelerator: {why}")


def test_auto_works_with_a_torch_that_has_no_accelerator_module(machine, monkeypatch):
    machine()
    monkeypatch.delattr(torch, "accelerator")  # torch < 2.6
    assert resolve_device("auto") == torch.device("cpu")


def test_this_machine_without_mocks():
    """No GPU here: auto is the CPU, and asking for CUDA or MPS is a clear error."""
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(TorchbasicsError, match="--device: no CUDA GPU is available here"):
        resolve_device("cuda")


# --- explicit devices ------------------------------------------------------------------------

def test_cpu_is_always_there(machine):
    machine()
    assert choose_device("cpu").device == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1"])
def test_a_cuda_device_within_the_count(machine, name):
    machine(cuda=2)
    choice = choose_device(name)
    assert choice.device == torch.device(name)
    index = torch.device(name).index or 0
    assert choice.reason == (f"asked for (--device {name}): NVIDIA GPU 'GPU {index}' "
                             f"({index + 1} of 2)")


@pytest.mark.parametrize(("count", "name", "message", "fix"), [
    (2, "cuda:2", "there are 2 CUDA GPUs here, so no cuda:2",
     "Use 'cuda' for the first, or up to 'cuda:1'"),
    (1, "cuda:1", "there is 1 CUDA GPU here, so no cuda:1", "Use 'cuda' for the first"),
])
def test_a_cuda_index_beyond_the_count_is_refused(machine, count, name, message, fix):
    machine(cuda=count)
    with pytest.raises(TorchbasicsError) as caught:
        choose_device(name)
    assert caught.value.message == f"--device: {message}. {fix}"


@pytest.mark.parametrize(("cuda_build", "fix"), [
    (False, "Install PyTorch's CUDA or ROCm build (docs/guides/14-gpus.md)"),
    (True, "Check `nvidia-smi`"),
])
def test_cuda_without_a_gpu_says_how_to_get_one(machine, cuda_build, fix):
    machine(cuda_build=cuda_build)
    with pytest.raises(TorchbasicsError, match=r"no CUDA GPU is available here\. " + fix[:20]):
        choose_device("cuda")


def test_mps_on_a_mac_and_its_single_index(machine):
    machine(mps=True)
    assert choose_device("mps").device == torch.device("mps")
    assert choose_device("mps:0").device == torch.device("mps:0")
    with pytest.raises(TorchbasicsError, match=r"there is 1 Apple GPU \(MPS\) here, so no mps:1"):
        choose_device("mps:1")


def test_mps_elsewhere_is_refused_saying_what_it_needs(machine):
    machine()
    with pytest.raises(TorchbasicsError, match=r"no Apple GPU \(MPS\) is available here\. MPS "
                       r"needs a Mac with Apple silicon and macOS 14"):
        choose_device("mps")


def test_another_accelerator_by_name_and_index(machine):
    machine(accelerator="xpu", accelerator_count=2)
    assert choose_device("xpu:1").device == torch.device("xpu:1")
    with pytest.raises(TorchbasicsError, match="there are 2 xpu devices here, so no xpu:2"):
        choose_device("xpu:2")


@pytest.mark.parametrize(("name", "message"), [
    ("gpu", "unknown device 'gpu'. Use 'cuda' for an NVIDIA or AMD GPU, 'mps' for an Apple"),
    ("GPU", "unknown device 'GPU'. Use 'cuda'"),
    ("cuda1", "unknown device 'cuda1'. Did you mean 'cuda:1'?"),
    ("cdua", "unknown device 'cdua'. Did you mean 'cuda'?"),
    ("tpu", "unknown device 'tpu'"),
    ("", "unknown device ''"),
    ("cuda:-1", "unknown device 'cuda:-1'"),
    ("xpu", "this PyTorch build cannot train on 'xpu' devices. Use auto"),
    ("meta", "this PyTorch build cannot train on 'meta' devices"),
])
def test_unknown_names_are_refused_with_a_hint(machine, name, message):
    machine(cuda=1)
    with pytest.raises(TorchbasicsError) as caught:
        choose_device(name)
    assert caught.value.message.startswith(f"--device: {message}")
    assert "\n" not in caught.value.message


# --- --precision auto ------------------------------------------------------------------------

def _auto(kind: str) -> Precision:
    return choose_precision("auto", torch.device(kind))


def test_cuda_with_native_bf16_takes_bf16_without_scaling(machine):
    machine(cuda=1, cuda_native_bf16=True)
    precision = _auto("cuda")
    assert (precision.name, precision.dtype, precision.scales_gradients) == (
        "bf16", torch.bfloat16, False)
    assert precision.reason.startswith("the GPU computes bf16 natively")


def test_cuda_without_native_bf16_takes_fp16_with_gradient_scaling(machine):
    machine(cuda=1, cuda_native_bf16=False, cuda_emulated_bf16=True)  # e.g. a Turing T4
    precision = _auto("cuda")
    assert (precision.name, precision.dtype, precision.scales_gradients) == (
        "fp16", torch.float16, True)
    assert precision.reason == "the GPU has no native bf16: fp16 with gradient scaling"


def test_mps_takes_fp32(machine):
    machine(mps=True)
    precision = _auto("mps")
    assert (precision.name, precision.dtype, precision.scales_gradients) == ("fp32", None, False)
    assert "--precision fp16 to try" in precision.reason


@pytest.mark.parametrize(("native", "name", "reason"), [
    (True, "bf16", "the CPU computes bf16 natively (AVX-512 BF16 or AMX): measured faster"),
    (False, "fp32", "the CPU has no native bf16 (no AVX-512 BF16 or AMX): emulated bf16 was "
     "measured 13x slower"),
])
def test_cpu_takes_bf16_only_with_native_support(machine, native, name, reason):
    machine(cpu_bf16=native)
    precision = _auto("cpu")
    assert (precision.name, precision.reason) == (name, reason)
    assert not precision.scales_gradients


def test_another_accelerator_takes_fp32(machine):
    machine(accelerator="xpu", autocast_on=("cpu", "xpu"))
    assert _auto("xpu").name == "fp32"


# --- explicit precisions ----------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "name"), [
    ("cuda", "fp16"), ("cuda", "fp32"), ("mps", "fp16"), ("mps", "bf16"), ("cpu", "bf16"),
    ("xpu", "bf16"), ("xpu", "fp16"),
])
def test_explicit_choices_that_autocast_can_run(machine, kind, name):
    machine(cuda=1, mps=True, accelerator="xpu", autocast_on=("cpu", "cuda", "mps", "xpu"))
    precision = choose_precision(name, torch.device(kind))
    assert (precision.name, precision.device_type) == (name, kind)
    assert precision.scales_gradients == (name == "fp16")
    assert precision.reason.startswith(f"asked for (--precision {name})")


def test_bf16_on_a_cpu_without_it_is_allowed_but_called_slow(machine):
    machine(cpu_bf16=False)
    assert choose_precision("bf16", torch.device("cpu")).reason.endswith("emulated and slow")


@pytest.mark.parametrize(("setting", "kind", "name", "message"), [
    ({}, "cpu", "fp16", "fp16 is for GPUs: on the CPU it is slow and needs gradient scaling. "
     "Use bf16 or fp32 on the CPU"),
    ({"cuda": 1, "cuda_emulated_bf16": False}, "cuda", "bf16",
     "this GPU cannot compute in bf16. Use fp16 (with gradient scaling) or fp32"),
    ({"accelerator": "xpu", "autocast_on": ("cpu",)}, "xpu", "bf16",
     "PyTorch has no mixed precision (autocast) on xpu. Use fp32"),
])
def test_impossible_precisions_are_refused_before_training(machine, setting, kind, name,
                                                           message):
    machine(**setting)
    with pytest.raises(TorchbasicsError) as caught:
        choose_precision(name, torch.device(kind))
    assert caught.value.message == f"--precision: {message}"


def test_an_unknown_precision_suggests_the_closest(machine):
    machine()
    with pytest.raises(TorchbasicsError, match=r"unknown precision 'fp61'\. Did you mean 'fp16'"):
        choose_precision("fp61", torch.device("cpu"))


def test_autocast_runs_matmuls_in_the_chosen_dtype():
    cpu = torch.device("cpu")
    x = torch.randn(4, 4)
    with autocast(cpu, "fp32"):
        assert (x @ x).dtype == torch.float32
    with Precision("bf16", "cpu", "test").autocast():
        assert (x @ x).dtype == torch.bfloat16


def _train(precision: Precision, steps: int, state: dict | None = None):
    """``steps`` SGD steps of a small net with the loop's wiring: forward and loss under
    autocast, backward on the scaled loss, scaler.step / scaler.update. Returns the
    model's weights and the scaler's state. ``state``: resume from this (model, scaler)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = precision.grad_scaler()
    data = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    done = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        done = state["steps"]
    for _ in range(done, steps):
        with precision.autocast():
            loss = nn.functional.cross_entropy(model(data), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(), "steps": steps}


def test_a_disabled_scaler_is_the_plain_loop():
    """fp32/bf16 use the same wiring as fp16, with a scaler that passes everything through."""
    fp32 = Precision("fp32", "cpu", "test")
    assert not fp32.grad_scaler().is_enabled()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(data), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    for name, weight in _train(fp32, 3)["model"].items():
        assert torch.equal(weight, model.state_dict()[name]), name


def test_fp16_with_scaling_resumes_exactly_from_the_scalers_state():
    """The scaler's state (scale, growth tracker) is what a checkpoint must add for fp16:
    stopping after 2 steps and resuming gives the 5-step run's weights bit for bit. Run on
    the CPU (autocast supports fp16 there), with the scaler enabled as on a GPU."""
    fp16 = Precision("fp16", "cpu", "test")
    assert fp16.grad_scaler().is_enabled()
    whole = _train(fp16, 5)
    resumed = _train(fp16, 5, state=_train(fp16, 2))
    assert whole["scaler"] == resumed["scaler"] and whole["scaler"]["scale"] == 65536.0
    for name, weight in whole["model"].items():
        assert torch.equal(weight, resumed["model"][name]), name
