"""Data-parallel training across GPUs when launched by ``torchrun`` (``WORLD_SIZE > 1``).

``torchrun --nproc-per-node 4 -m micro_bench run benchmarks/hpa_table4.yaml`` starts one process
per GPU; each trains on its own shard of every epoch (a ``DistributedSampler`` seeded by the
epoch seed) with gradients averaged by ``DistributedDataParallel``. ``batch_size`` is the
effective batch of one optimizer step over all processes (the paper's 64 on any number of
GPUs): each process takes ``batch_size / world_size`` samples, split into
``micro_batch_size`` chunks whose gradients accumulate (DDP's ``no_sync`` until the last) when a
process's share does not fit in memory. ``sync_bn: true`` converts BatchNorm to
``SyncBatchNorm`` (batch statistics over all processes). Rank 0 alone writes checkpoints,
figures and progress bars. Validation loss and prediction run the full split on every rank
(identical weights, the same TTA seed: identical numbers; not sharded); the runner writes
results from rank 0 only. At the end of training the ranks compare their parameters (an
all-gather of two float64 sums): different weights are an error, not a silent result. The
process group is destroyed at exit. The model is re-wrapped whenever the set of trainable
parameters changes (end of the frozen phase), since DDP fixes its gradient buckets at
construction. Tested on the CPU with two gloo processes (tests/plugins/torch/test_torchrun.py); NCCL on
several GPUs is not tested here.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

import torch
from torch import nn

__all__ = ["barrier", "is_main", "sampler", "setup", "weights_agree", "world_size", "wrap"]


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
    atexit.register(_teardown)


def _teardown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``DistributedDataParallel(model)`` under torchrun, else ``model`` itself."""
    if world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def sync_batchnorm(model: nn.Module) -> nn.Module:
    """BatchNorm layers replaced by ``SyncBatchNorm`` under torchrun (in place; the same module)."""
    if world_size() == 1:
        return model
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if converted is not model:  # a bare BatchNorm as the whole model: nothing to swap in place
        raise ValueError("sync_bn: the model itself is a BatchNorm layer")
    return model


def weights_agree(model: nn.Module) -> bool:
    """Whether every process holds the same parameters (``True`` for one process)."""
    if world_size() == 1:
        return True
    import torch.distributed as dist

    params = [p.detach().double().flatten() for p in model.parameters()]
    flat = torch.cat(params) if params else torch.zeros(1, dtype=torch.float64)
    mine = torch.stack([flat.sum(), (flat * flat).sum()])
    gathered = [torch.zeros_like(mine) for _ in range(world_size())]
    dist.all_gather(gathered, mine)
    return all(torch.equal(g, gathered[0]) for g in gathered)


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
