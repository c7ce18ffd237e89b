"""Data-parallel training on several processes: ranks, shares of a batch, summed metrics.

``torchrun --nproc_per_node=N`` starts N copies of a program with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous address in their environment. :func:`init_from_environment`
joins that process group (NCCL on GPUs, gloo on CPUs) and returns where this rank stands;
outside torchrun it returns a single-process context and starts nothing, so the same code
runs both ways.

How a batch is shared (see :func:`share`): every rank computes the same global order of the
training set from the same seed, exactly as one process would, and takes its own contiguous
part of every global batch. torch's ``DistributedSampler`` shards by striding over a
permutation of its own; sharing the single-process order instead means N ranks train on
exactly the batches one process would, so a DDP run and a one-process run can be compared
batch for batch (:func:`advlib.train.train` documents what still differs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` and its GPU (``local_rank``)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1 or (dist.is_available() and dist.is_initialized())

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints and prints."""
        return self.rank == 0


SINGLE = Context()


def current() -> Context:
    """The context of an initialised process group, or the single-process one."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return SINGLE


def init_from_environment(device: str = "auto") -> tuple[Context, torch.device]:
    """Join torchrun's process group if this process was started by it; return the context
    and this rank's device (``cuda:LOCAL_RANK`` when GPUs are used, else the CPU).

    Raises a clear error for an incomplete torchrun environment instead of hanging.
    """
    from advlib.utils import resolve_device

    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return SINGLE, resolve_device(device)
    missing = [name for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE is set but {missing} are not: start distributed runs with torchrun")
    local_rank = int(os.environ["LOCAL_RANK"])
    chosen = resolve_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return current(), chosen


def share(size: int, context: Context) -> slice:
    """This rank's contiguous part of a batch of ``size`` (parts differ by at most one; a
    rank's part is empty when the batch has fewer samples than ranks)."""
    base, extra = divmod(size, context.world_size)
    start = context.rank * base + min(context.rank, extra)
    return slice(start, start + base + (context.rank < extra))


def sum_over_ranks(values: Sequence[float], device: torch.device | str = "cpu") -> list[float]:
    """Element-wise sums over all ranks (the values themselves in a single process)."""
    if not current().distributed:
        return [float(value) for value in values]
    tensor = torch.tensor([float(value) for value in values], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def barrier() -> None:
    if current().distributed:
        dist.barrier()
