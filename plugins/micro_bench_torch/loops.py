"""The inner loops: one training epoch, a mean loss over a split, batched prediction with TTA.

Loaders yield ``(x (B, C, H, W) uint8, y (B, K) float32)`` host batches; a
:class:`~micro_bench_torch.inputs.DevicePipeline` turns ``x`` into the model's input on the device.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

# tqdm.std, not tqdm.auto: tqdm.auto's asyncio class calls iter() on the loader in its constructor
# and the loop then iterates it again: with workers, one epoch's worth of prefetch and worker
# start-up wasted and the shuffle generator advanced (the data order then depended on num_workers).
from tqdm.std import tqdm

from micro_bench_torch.errors import TrainingDiverged
from micro_bench_torch.inputs import DevicePipeline
from micro_bench_torch.runtime import Runtime

__all__ = ["EpochStats", "mean_loss", "predict_proba", "train_epoch"]


@dataclass
class EpochStats:
    """What one training epoch produced: mean loss, per-iteration rates (the head group's, the
    rate each step used), wall time and throughput."""

    loss: float
    lrs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def train_epoch(
    net: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rt: Runtime,
    *,
    pipeline: DevicePipeline,
    generator: torch.Generator,
    epoch: int,
    desc: str = "",
    progress: bool = True,
    mode: Callable[[nn.Module], None] | None = None,
    accumulate: int = 1,
    clip: float | None = None,
) -> EpochStats:
    """One pass over ``loader`` of ``(x (B, C, H, W) uint8, y (B, K) float32)``; ``x`` goes
    through ``pipeline.train`` (the run's transform, drawing from ``generator``).

    ``accumulate > 1`` splits each batch into that many chunks whose gradients (each chunk's
    mean loss weighted by its share of the batch) add up to the whole batch's before the one
    optimizer step; under DDP the gradients are averaged across processes on the last chunk only.

    ``scheduler`` (or ``None``) is stepped after every optimizer step. A NaN/inf loss raises
    :class:`TrainingDiverged` (checked one step late, see ``settle``). ``epoch`` is 1-based, for messages.
    ``mode`` puts the network in training mode (default ``net.train()``; the trainer passes
    :func:`~micro_bench_torch.groups.train_mode` to keep frozen BatchNorm in eval mode).
    ``clip`` (``None`` or 0: off): before every optimizer step, the total L2 norm of the gradients
    of the trainable parameters is clipped to ``clip`` (``torch.nn.utils.clip_grad_norm_``), as
    fastai 0.7's ``Stepper.step`` did with ``learner.clip``.
    """
    (mode or nn.Module.train)(net)
    total, count = 0.0, 0
    lrs: list[float] = []
    pending: tuple[int, torch.Tensor, int] | None = None  # (step, loss, batch size) not yet read

    def settle() -> None:
        # Reading the loss syncs with the device; doing it one step late lets the next batch
        # load while the accelerator still computes. A bad step is then already applied in
        # memory, but the checkpoint on disk (the last finished epoch) stays good.
        nonlocal total, count, pending
        if pending is None:
            return
        step, loss, size = pending
        value = float(loss)
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"training diverged: loss is {value} at epoch {epoch}, step {step}/{len(loader)} "
                f"(head lr {lrs[step - 1]:.3g}); the last good checkpoint is kept; try a lower trainer.lr"
            )
        total, count, pending = total + value * size, count + size, None

    start = time.perf_counter()
    # disable=None: bars on a terminal only, so logs and CI output stay one line per epoch.
    bar = tqdm(loader, desc=desc, disable=None if progress else True, leave=False, dynamic_ncols=True)
    for step, (x, y) in enumerate(bar, start=1):
        x, y = pipeline.train(x, generator), y.to(rt.device, non_blocking=True)
        settle()
        optimizer.zero_grad(set_to_none=True)
        if accumulate <= 1:
            with rt.autocast():
                logits = net(x)
            loss = loss_fn(logits.float(), y)
            loss.backward()
        else:
            loss = _accumulated(net, x, y, loss_fn, rt, accumulate)
        lrs.append(float(optimizer.param_groups[-1]["lr"]))
        if clip:
            nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        pending = (step, loss.detach(), len(x))
        if progress and count and (step % 10 == 0 or step == len(loader)):
            rate = count / max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{total / count:.4f}", lr=f"{lrs[-1]:.2e}", samples_s=f"{rate:.0f}")
    settle()
    bar.close()
    return EpochStats(total / max(count, 1), lrs, time.perf_counter() - start, count)


def _accumulated(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], rt: Runtime, chunks: int) -> torch.Tensor:
    """Backward over ``chunks`` balanced slices of one batch (at most ``len(x) // 2``, so that no
    slice has one sample: BatchNorm cannot train on one); returns the batch's mean loss (detached)."""
    k = max(1, min(chunks, len(x) // 2))
    parts = list(zip(x.tensor_split(k), y.tensor_split(k), strict=True))
    total = torch.zeros((), device=x.device)
    for j, (xc, yc) in enumerate(parts):
        last = j == len(parts) - 1
        sync = contextlib.nullcontext() if last or not hasattr(net, "no_sync") else cast(Any, net).no_sync()
        with sync:
            with rt.autocast():
                logits = net(xc)
            part = loss_fn(logits.float(), yc) * (len(xc) / len(x))
            part.backward()
        total = total + part.detach()
    return total


@torch.inference_mode()
def mean_loss(
    net: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rt: Runtime,
    pipeline: DevicePipeline,
    scores: list[np.ndarray] | None = None,
) -> float:
    """Sample-weighted mean of ``loss_fn`` over ``loader`` in eval mode (``nan`` when empty).
    With a ``scores`` list, each batch's sigmoid probabilities ``(B, K)`` are appended to it
    (the same forward pass, for per-epoch validation metrics)."""
    net.eval()
    total, count = 0.0, 0
    for x, y in loader:
        with rt.autocast():
            logits = net(pipeline.eval(x))
        total += float(loss_fn(logits.float(), y.to(rt.device))) * len(x)
        count += len(x)
        if scores is not None:
            scores.append(torch.sigmoid(logits.float()).cpu().numpy())
    return total / count if count else math.nan


@torch.inference_mode()
def predict_proba(
    net: nn.Module, loader: DataLoader, rt: Runtime, pipeline: DevicePipeline, *, tta: Any = None, seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Sigmoid probabilities ``(n, K) float32`` over ``loader`` in eval mode.

    With a TTA policy every batch is expanded on the device into its views (``pipeline.views``:
    on the 0-1 scale, before standardization; random policies draw them with the run's transform,
    ``pipeline.transform``, from one CPU ``torch.Generator`` seeded with ``seed``), each view
    predicted, and the ``(V, B, K)`` stack reduced by ``tta.reduce`` to ``(B, K)``.
    """
    net.eval()
    generator = torch.Generator().manual_seed(seed)
    out: list[torch.Tensor] = []
    for x, _ in tqdm(loader, desc="predict", disable=None if progress else True, leave=False, dynamic_ncols=True):
        probs = []
        for view in pipeline.views(x, tta, generator):
            with rt.autocast():
                logits = net(view)
            probs.append(torch.sigmoid(logits.float()).cpu())
        stacked = torch.stack(probs)
        out.append(stacked[0] if tta is None else torch.as_tensor(tta.reduce(stacked)))
    if not out:
        return np.zeros((0, 0), np.float32)
    return torch.cat(out).numpy().astype(np.float32, copy=False)
