"""Data-parallel training across GPUs when launched by ``torchrun`` (``WORLD_SIZE > 1``).

``torchrun --nproc-per-node 4 -m micro_bench run benchmarks/hpa_table4.yaml`` starts one process
per GPU; each trains on its own shard of every epoch (a ``DistributedSampler`` seeded by the
epoch seed) with gradients averaged by ``DistributedDataParallel``. ``batch_size`` is per
process. Rank 0 alone writes checkpoints, figures and progress bars. Validation loss and
prediction run the full split on every rank (simple and correct; not sharded). The model is
re-wrapped whenever the set of trainable parameters changes (end of the frozen phase), since
DDP fixes its gradient buckets at construction. The runner writes results from rank 0 only.
Tested on the CPU with two gloo processes (tests/test_torchrun.py); NCCL on several GPUs is not
tested here (one GPU lent).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

__all__ = ["barrier", "is_main", "sampler", "setup", "world_size", "wrap"]


def world_size() -> int:
    """Number of processes torchrun started (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: torch.device) -> None:
    """Join the process group once (NCCL on CUDA, gloo on CPU); no-op for one process."""
    import torch.distributed as dist

    if world_size() == 1 or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` under torchrun, else ``model`` itself."""
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def sampler(dataset: Any, seed: int) -> Any:
    """A shuffling ``DistributedSampler`` seeded with the epoch seed, or ``None`` for one process."""
    if world_size() == 1:
        return None
    from torch.utils.data import DistributedSampler

    return DistributedSampler(dataset, shuffle=True, seed=seed % 2**63)


def barrier() -> None:
    """Wait for every process (no-op for one process)."""
    import torch.distributed as dist

    if world_size() > 1 and dist.is_initialized():
        dist.barrier()
