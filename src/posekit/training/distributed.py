"""Multi-process training helpers (``torchrun``): process group, per-rank batches, reductions.

``posekit train`` becomes data-parallel when started by ``torchrun --nproc_per_node N`` (one or
several machines): every process reads the same epoch order (:class:`~posekit.training.trainer.EpochSampler`)
and takes its own slice of each global batch, gradients are averaged by
``torch.nn.parallel.DistributedDataParallel`` (NCCL on GPUs, gloo on CPUs), and only rank 0 validates,
logs and writes checkpoints; the validation result is broadcast so that every rank takes the same
scheduler and early-stopping decisions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a multi-process run.

    ``enabled`` (a process group and DistributedDataParallel) when there are several processes, or
    when ``torchrun`` started this one even alone (``launched``), so that a one-process ``torchrun``
    run exercises the same path as a larger one; a plain ``posekit train`` is a single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or self.launched

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (``WORLD_SIZE``,
    ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``); NCCL for CUDA, gloo otherwise.

    A process that ``torchrun`` started (``TORCHELASTIC_RUN_ID`` set) joins even when it is the
    only one (``torchrun --nproc_per_node 1``). Returns a single-process :class:`DistInfo` when
    ``WORLD_SIZE`` is unset or 1 outside ``torchrun``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    launched = "TORCHELASTIC_RUN_ID" in os.environ and "MASTER_ADDR" in os.environ
    if world <= 1 and not launched:
        return DistInfo()
    info = DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")), launched)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return info


def rank_slice(indices: list[int], global_batch: int, info: DistInfo) -> list[int]:
    """This rank's share of an epoch's sample order: from every global batch of ``global_batch``
    consecutive indices, the ``info.rank``-th contiguous slice of ``global_batch / world_size`` (of a
    shorter last batch, the rank's equal share; a remainder is dropped).

    Raises:
        ValueError: ``global_batch`` is not divisible by the world size.
    """
    if global_batch % info.world_size:
        raise ValueError(f"train.batch_size {global_batch} is not divisible by the {info.world_size} processes")
    out = []
    for start in range(0, len(indices), global_batch):
        batch = indices[start:start + global_batch]
        per_rank = len(batch) // info.world_size  # a short last batch is split evenly too
        out += batch[info.rank * per_rank:(info.rank + 1) * per_rank]
    return out


def mean_over_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """Average of a Python number over all processes (the value itself when single-process)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def broadcast_from_main(obj, info: DistInfo):
    """Rank 0's ``obj`` on every process (picklable objects; the object itself when single-process)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
