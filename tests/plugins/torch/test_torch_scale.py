"""Scaling pieces of the torch trainer: gradient accumulation, the effective batch under
torchrun, SyncBatchNorm conversion."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from micro_bench_torch import distributed
from micro_bench_torch.inputs import DevicePipeline
from micro_bench_torch.loops import train_epoch
from micro_bench_torch.runtime import resolve_runtime
from micro_bench_torch.trainer import TorchTrainer


def _fit(accumulate: int) -> tuple[list[torch.Tensor], float]:
    torch.manual_seed(0)
    x, y = torch.randint(0, 256, (48, 3, 4, 4), dtype=torch.uint8), (torch.rand(48, 5) < 0.3).float()
    net = nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.ReLU(), nn.Linear(16, 5))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    rt = resolve_runtime("cpu", False, False, None)
    pipeline = DevicePipeline(rt.device, [128.0] * 3, [64.0] * 3)
    stats = train_epoch(net, DataLoader(TensorDataset(x, y), batch_size=16), nn.BCEWithLogitsLoss(), opt, None, rt,
                        pipeline=pipeline, generator=torch.Generator(), epoch=1, progress=False,
                        accumulate=accumulate)
    return [p.detach().clone() for p in net.parameters()], stats.loss


@pytest.mark.parametrize("chunks", [2, 3, 5])
def test_accumulated_chunks_give_the_whole_batch_step(chunks):
    """Balanced chunks (8+8, 6+5+5, 4+3+3+3+3 of 16): the same weights and mean loss as one batch."""
    whole, loss = _fit(1)
    split, split_loss = _fit(chunks)
    for a, b in zip(whole, split, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert split_loss == pytest.approx(loss, rel=1e-6)


def test_batch_size_is_the_effective_batch_over_processes(monkeypatch):
    trainer = TorchTrainer(batch_size=64, micro_batch_size=12, device="cpu")
    assert (trainer.process_batch(), trainer.accumulate()) == (64, 6)
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert (trainer.process_batch(), trainer.accumulate()) == (16, 2)
    assert trainer.steps_per_epoch(1000) == 16  # 250 samples per process in batches of 16
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ValueError, match="batch_size 64 .* is not divisible by the 3 torchrun processes"):
        trainer.process_batch()


def test_sync_bn_converts_every_batchnorm_under_torchrun(monkeypatch):
    net = nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.Sequential(nn.BatchNorm1d(8)))
    assert distributed.sync_batchnorm(net) is net and isinstance(net[1], nn.BatchNorm2d)  # one process
    monkeypatch.setenv("WORLD_SIZE", "2")
    distributed.sync_batchnorm(net)
    assert isinstance(net[1], nn.SyncBatchNorm) and isinstance(net[2][0], nn.SyncBatchNorm)


def test_sync_bn_needs_cuda():
    with pytest.raises(ValueError, match="sync_bn needs CUDA devices"):
        TorchTrainer(sync_bn=True, device="cpu")
    with pytest.raises(ValueError, match="micro_batch_size must be an integer >= 1"):
        TorchTrainer(micro_batch_size=0, device="cpu")
