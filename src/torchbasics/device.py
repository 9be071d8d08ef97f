"""Choosing the device and the arithmetic precision for training and inference.

``--device auto`` takes, in this order: an NVIDIA or AMD GPU (PyTorch calls both ``cuda``),
Apple's GPU (``mps``), any other accelerator this PyTorch was built for
(``torch.accelerator``: Intel ``xpu``, ...), else the CPU. ``--precision auto`` then takes
what is fast *and* correct there (:func:`choose_precision`; the table of
docs/guides/14-gpus.md says why).
Every choice carries a one-line reason, which ``torchbasics doctor`` prints.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from torchbasics.cpu import cpu_info
from torchbasics.errors import TorchbasicsError, closest

DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")  # plus cuda:N, and the accelerator torch knows
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
GPU_HINT = "use 'cuda' for an NVIDIA or AMD GPU, 'mps' for an Apple GPU, or 'auto'"
GPU_SETUP = "install PyTorch's CUDA or ROCm build (docs/guides/14-gpus.md)"
LABELS = {"cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}


@dataclass(frozen=True)
class DeviceChoice:
    """The device to run on, and why (one line, for ``doctor`` and the run's config)."""

    device: torch.device
    reason: str


def choose_device(name: str = "auto") -> DeviceChoice:
    """``--device NAME`` checked and resolved: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``...

    Raises:
        TorchbasicsError: an unknown name, a device that is not here, or an index beyond
            the number of devices.
    """
    if name == "auto":
        return _auto_device()
    device = _parse_device(name)
    if device.type == "cpu":
        return DeviceChoice(device, "asked for (--device cpu)")
    count = _device_count(device.type)
    if count == 0:
        raise TorchbasicsError(f"no {LABELS.get(device.type, device.type)} is available here",
                               where="--device", fix=_unavailable_fix(device.type))
    if device.index is not None and device.index >= count:
        raise TorchbasicsError(
            f"there {'is' if count == 1 else 'are'} {_count(device.type, count)} here, so no "
            f"{device}", where="--device", fix=f"use '{device.type}' for the first"
            + (f", or up to '{device.type}:{count - 1}'" if count > 1 else ""))
    return DeviceChoice(device, f"asked for (--device {name}): {_describe(device)}")


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``--device NAME`` stands for (see :func:`choose_device`)."""
    return choose_device(name).device


def _auto_device() -> DeviceChoice:
    if torch.cuda.is_available():
        # No index: under torchrun each process then takes its own GPU (cuda:LOCAL_RANK).
        device = torch.device("cuda")
        return DeviceChoice(device, f"found {_describe(device)}")
    if _mps_available():
        return DeviceChoice(torch.device("mps"), "found Apple's GPU (MPS)")
    other = _other_accelerator()
    if other is not None:
        device = torch.device(other)
        return DeviceChoice(device, f"found {_describe(device)} (torch.accelerator)")
    return DeviceChoice(torch.device("cpu"), f"no GPU or other accelerator: {_no_gpu_why()}")


def _parse_device(name: str) -> torch.device:
    """``torch.device(name)``, refusing names that are not devices one trains on here."""
    if name.lower() == "gpu":
        raise TorchbasicsError(f"unknown device '{name}'", where="--device", fix=GPU_HINT)
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):  # not a device type or index that torch knows
        raise TorchbasicsError(f"unknown device '{name}'", where="--device",
                               fix=closest(name, [*DEVICE_NAMES, "cuda:1"])) from None
    if device.type not in ("cpu", "cuda", "mps", _other_accelerator(check_available=False)):
        raise TorchbasicsError(f"this PyTorch build cannot train on '{device.type}' devices",
                               where="--device",
                               fix="use auto (the best device here), cpu, cuda, cuda:N or mps")
    return device


def _device_count(kind: str) -> int:
    """How many ``kind`` devices are usable here (0 when none is)."""
    if kind == "cuda":
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "mps":
        return 1 if _mps_available() else 0  # one Apple GPU per machine
    if kind == _other_accelerator():
        return torch.accelerator.device_count()
    return 0


def _count(kind: str, count: int) -> str:
    """``"1 CUDA GPU"``, ``"2 CUDA GPUs"``, ``"2 xpu devices"``."""
    label = LABELS.get(kind, f"{kind} device")
    if count != 1:
        label = label.replace("GPU", "GPUs", 1) if "GPU" in label else label + "s"
    return f"{count} {label}"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def _other_accelerator(check_available: bool = True) -> str | None:
    """The type of the accelerator ``torch.accelerator`` reports when it is neither CUDA nor
    MPS (checked first, by their own calls), e.g. ``"xpu"``; None without one."""
    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6
    if accelerator is None:
        return None
    current = accelerator.current_accelerator(check_available=check_available)
    if current is None or current.type in ("cuda", "mps", "cpu"):
        return None
    return current.type


def _describe(device: torch.device) -> str:
    """``"NVIDIA GPU 'Tesla T4' (1 of 2)"``, ``"Apple's GPU (MPS)"``, ``"xpu device"``..."""
    if device.type == "cuda":
        index = device.index or 0
        vendor = "AMD GPU (ROCm)" if torch.version.hip else "NVIDIA GPU"
        return (f"{vendor} '{torch.cuda.get_device_name(index)}' ({index + 1} of "
                f"{torch.cuda.device_count()})")
    if device.type == "mps":
        return "Apple's GPU (MPS)"
    return f"{device.type} device"


def _no_gpu_why() -> str:
    """Why ``auto`` fell back to the CPU, as a user can act on it."""
    if torch.version.cuda is None and torch.version.hip is None:
        return "this PyTorch is a CPU-only build" + (
            "" if not _mps_built() else " with MPS, which is not available here")
    return "this PyTorch has CUDA, but it sees no GPU (driver, CUDA_VISIBLE_DEVICES?)"


def _mps_built() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_built()


def _unavailable_fix(kind: str) -> str:
    """How to get a ``kind`` device working, or do without."""
    if kind == "cuda" and torch.version.cuda is None and torch.version.hip is None:
        return f"{GPU_SETUP}, or use --device auto"
    if kind == "cuda":
        return "check `nvidia-smi` (or `rocm-smi`) and CUDA_VISIBLE_DEVICES, or use --device auto"
    if kind == "mps":
        return "MPS needs a Mac with Apple silicon and macOS 14 or later; use --device auto"
    return "use --device auto"


@dataclass(frozen=True)
class Precision:
    """How the forward pass computes on one device, and what the backward pass then needs.

    Attributes:
        name: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (recorded in config.json and checkpoints).
        device_type: ``"cpu"``, ``"cuda"``, ``"mps"``... (what ``torch.autocast`` takes).
        reason: why it was chosen, one line.
    """

    name: str
    device_type: str
    reason: str

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, or None for plain fp32 (no autocast)."""
        return DTYPES.get(self.name)

    @property
    def scales_gradients(self) -> bool:
        """True for fp16: small gradients underflow to zero unless the loss is scaled up."""
        return self.name == "fp16"

    def autocast(self) -> AbstractContextManager:
        """The context for the forward pass and the loss (not the backward pass)."""
        return autocast(torch.device(self.device_type), self.name)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A ``GradScaler`` for this device, enabled only when :attr:`scales_gradients`.

        A disabled one passes everything through (``scale(loss)`` is ``loss``, ``step``
        is ``optimizer.step()``), so one loop serves every precision.
        """
        return torch.amp.GradScaler(self.device_type, enabled=self.scales_gradients)


def choose_precision(name: str, device: torch.device) -> Precision:
    """``--precision NAME`` on ``device``: ``auto`` resolved, an impossible choice refused."""
    if name not in PRECISIONS:
        raise TorchbasicsError(f"unknown precision '{name}'", where="--precision",
                               fix=closest(name, list(PRECISIONS)))
    if name == "auto":
        return _auto_precision(device)
    if name != "fp32":
        _check_mixed_precision(name, device)
    note = ("; this CPU has no native bf16, so it is emulated and slow" if
            name == "bf16" and device.type == "cpu" and not cpu_info().native_bf16 else "")
    return Precision(name, device.type, f"asked for (--precision {name}){note}")


def _auto_precision(device: torch.device) -> Precision:
    kind = device.type
    if kind == "cuda":
        if _cuda_native_bf16(device):
            return Precision("bf16", kind, "the GPU computes bf16 natively: fp32's range, "
                             "no gradient scaling")
        return Precision("fp16", kind, "the GPU has no native bf16: fp16 with gradient "
                         "scaling")
    if kind == "mps":
        return Precision("fp32", kind, "Apple GPU: PyTorch documents no MPS autocast op list; "
                         "--precision fp16 to try mixed precision")
    if kind == "cpu":
        if cpu_info().native_bf16:
            return Precision("bf16", kind, "the CPU computes bf16 natively (AVX-512 BF16 or "
                             "AMX): measured faster")
        return Precision("fp32", kind, "the CPU has no native bf16 (no AVX-512 BF16 or AMX): "
                         "emulated bf16 was measured 13x slower")
    return Precision("fp32", kind, f"mixed precision is not measured on {kind}; "
                     "--precision bf16 or fp16 to try it")


def _cuda_native_bf16(device: torch.device) -> bool:
    """Whether the GPU ``device`` computes bf16 in hardware (Ampere or newer; ROCm GPUs)."""
    with torch.cuda.device(device.index or 0):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def _check_mixed_precision(name: str, device: torch.device) -> None:
    """Refuse bf16/fp16 where autocast cannot run them (before training starts, not in it)."""
    if device.type == "cpu" and name == "fp16":
        raise TorchbasicsError("fp16 is for GPUs: on the CPU it is slow and needs gradient "
                               "scaling", where="--precision", fix="use bf16 or fp32 on the CPU")
    if device.type == "cuda" and name == "bf16":
        with torch.cuda.device(device.index or 0):
            supported = torch.cuda.is_bf16_supported()  # emulated counts, as for autocast
        if not supported:
            raise TorchbasicsError("this GPU cannot compute in bf16", where="--precision",
                                   fix="use fp16 (with gradient scaling) or fp32")
    if not torch.amp.is_autocast_available(device.type):
        raise TorchbasicsError(f"PyTorch has no mixed precision (autocast) on {device.type}",
                               where="--precision", fix="use fp32")


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """Mixed precision for the forward pass: matmuls/convs in bf16 or fp16, losses in fp32.

    ``precision`` is a name of :data:`PRECISIONS` other than ``auto``; ``fp32`` is a no-op.
    """
    dtype = DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def cpu_has_fast_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX-512 BF16 or AMX)."""
    return cpu_info().native_bf16
