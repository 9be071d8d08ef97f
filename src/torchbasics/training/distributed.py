"""Several processes training one model: DistributedDataParallel under ``torchrun``.

``torchrun --nproc-per-node N -m torchbasics train ...`` starts N copies of the command,
each with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in its environment. Each copy
(a *rank*) joins a process group (``gloo`` for CPU tensors, ``nccl`` for CUDA ones), trains
on its share of every batch, and DDP averages the gradients, so all ranks hold the same
weights after every step. Rank 0 alone writes files and logs.

Without ``torchrun`` (or with one process) nothing here does anything: every helper
returns its input unchanged, so a single-process run is exactly what it was before.
"""

from __future__ import annotations

import contextlib
import datetime
import faulthandler
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from torchbasics.errors import TorchbasicsError
from torchbasics.training.interrupts import StopFlag

T = TypeVar("T")

# A rank that dies or hangs leaves the others waiting in a collective at most this long
# (a rank that exits closes its sockets, which the others notice at once).
TIMEOUT = datetime.timedelta(minutes=10)
# How often (in steps) the ranks agree on whether to stop, by device type: reading the
# agreed flag back is a host sync, which costs little on CPU but stalls a GPU's queue.
STOP_CHECK_EVERY = {"cpu": 1, "cuda": 10}
# A stop signal repeated within this many seconds is the same request: torchrun passes
# the signal it receives on to its workers, so a signal sent to every process of a job (a
# scheduler's SIGTERM; Ctrl-C where the workers share the terminal's process group)
# reaches each worker twice. See stop_signal_settings.
REPEAT_GRACE_SECONDS = 5.0


def launched() -> bool:
    """True in a process that ``torchrun`` started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world_size() -> int:
    """How many processes train together (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank, 0..world_size-1 (also before and after the process group)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0")) if launched() else 0


def is_main() -> bool:
    """True on rank 0, the process that writes files and logs (and in a 1-process run)."""
    return rank() == 0


@contextlib.contextmanager
def process_group() -> Iterator[None]:
    """Join torchrun's process group for the block, and leave it afterwards.

    Does nothing outside torchrun, with one process, or when the caller has already
    set up a process group (then it is the caller's to destroy).
    """
    if not launched() or dist.is_initialized():
        yield
        return
    # A rank that dies in native code (an abort inside a collective) prints where it was, in
    # Python, instead of only torchrun's "Signal 6 received".
    faulthandler.enable()
    if torch.cuda.is_available():
        # One GPU per process on each machine; CPU tensors (object broadcasts, RNG
        # states, a --device cpu run) still go through gloo.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend, timeout=TIMEOUT)
    try:
        yield
        # Leave together: a rank that tears the group down while another is still in its
        # last collective can abort that one (seen as SIGABRT in tests/runs/
        # test_distributed.py). Not on an error: the other ranks may never get here.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """``cuda`` -> this process's own GPU (``cuda:LOCAL_RANK``); anything else as it is."""
    if world_size() > 1 and device.type == "cuda" and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def per_rank_batch(global_batch: int) -> int:
    """The batch each process trains on: the global batch split evenly over the ranks."""
    world = world_size()
    if global_batch % world:
        raise TorchbasicsError(
            f"the global batch of {global_batch} does not split evenly over {world} processes",
            where="--batch-size", fix=f"use a multiple of {world}",
        )
    return global_batch // world


def from_main(compute: Callable[[], T]) -> T:
    """``compute()`` run on rank 0 only, its result (or its error) handed to every rank.

    For what only rank 0 may do, such as checking the run directory (on several machines
    only rank 0's disk has it): a refusal there then stops every rank with the same
    message, instead of leaving them waiting for rank 0.
    """
    if world_size() == 1:
        return compute()
    box: list[Any] = [None]
    error: TorchbasicsError | None = None
    if is_main():
        try:
            box[0] = ("ok", compute())
        except TorchbasicsError as exc:
            error, box[0] = exc, ("error", exc.message)
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if error is not None:
        raise error
    if status == "error":
        raise TorchbasicsError(value)
    return value


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when several ranks train, else ``model`` itself.

    DDP copies rank 0's weights and buffers to every rank here, and averages the gradients
    over the ranks in every ``backward()``. Save ``model``, not the wrapper: its
    ``state_dict`` keys carry no ``module.`` prefix.
    """
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                   else None)


def for_evaluation(model: nn.Module) -> nn.Module:
    """The module to validate: every rank's copy made identical to rank 0's, which is saved.

    DDP keeps the weights identical, but each rank updates its batch-norm statistics on
    its own share of the last batch; rank 0's buffers are copied to all. The module is
    returned unwrapped, because a DDP forward may itself communicate, and the ranks'
    validation shares need not have the same number of batches.
    """
    if not isinstance(model, nn.parallel.DistributedDataParallel):
        return model
    module = model.module
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)
    return module


def epoch_totals(loss_sum: torch.Tensor, mistakes: torch.Tensor,
                 samples: int) -> tuple[float, int, int]:
    """An epoch's loss sum, mistake count and sample count over all ranks, on the host.

    One collective and one device-to-host copy per epoch. With one process the values are
    read back as they are.
    """
    if world_size() == 1:
        return loss_sum.item(), int(mistakes.item()), samples
    # float64 holds the float32 sum and the counts exactly (counts up to 2**53).
    packed = torch.stack([loss_sum.double(), mistakes.double(),
                          torch.tensor(float(samples), dtype=torch.float64,
                                       device=loss_sum.device)])
    dist.all_reduce(packed)
    total_loss, total_mistakes, total_samples = packed.tolist()
    return total_loss, round(total_mistakes), round(total_samples)


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's ``tensor`` stacked along a new first dimension ``(world_size, ...)``,
    on every rank; with one process, ``tensor`` itself."""
    if world_size() == 1:
        return tensor
    pieces = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(pieces, tensor.contiguous())
    return torch.stack(pieces)


def own(stacked: torch.Tensor) -> torch.Tensor:
    """This rank's row of what :func:`gather` stacked; with one process, ``stacked``."""
    # A copy, not a view: Generator.set_state misreads (even crashes on) a row view of a
    # larger tensor, measured with torch 2.13.
    return stacked if world_size() == 1 else stacked[rank()].clone()


def barrier() -> None:
    """Wait until every rank gets here."""
    if world_size() > 1:
        dist.barrier()


def stop_signal_settings() -> dict[str, Any]:
    """How this process's :func:`~torchbasics.training.interrupts.stop_on_signals` should
    take signals: in DDP a repeat within ``REPEAT_GRACE_SECONDS`` is the same request, and
    only rank 0 says what is happening."""
    repeat_grace = REPEAT_GRACE_SECONDS if world_size() > 1 else 0.0
    return {"repeat_grace": repeat_grace, "announce": is_main()}


def any_rank(device: torch.device) -> Callable[[bool], bool]:
    """``answer(mine)``: whether ``mine`` is True on any rank (a collective every rank
    calls at the same step); with one process, ``mine``."""
    if world_size() == 1:
        return lambda mine: mine

    def answer(mine: bool) -> bool:
        flag = torch.tensor(1 if mine else 0, device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    return answer


def stop_together(flag: StopFlag, device: torch.device) -> Callable[[], bool]:
    """A ``should_stop`` that says yes on every rank at the same step, or on none.

    A stop signal may reach the ranks at different steps (or only some of them); the
    ranks sum their flags every ``STOP_CHECK_EVERY`` calls, made at the same steps, so
    they all stop at the same step and rank 0 can save one consistent ``last.pt``.
    """
    if world_size() == 1:
        return flag
    every = STOP_CHECK_EVERY.get(device.type, 1)
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        if calls % every:
            return False
        wanted = torch.tensor(1 if flag() else 0, device=device)
        dist.all_reduce(wanted)
        return bool(wanted.item())

    return should_stop
