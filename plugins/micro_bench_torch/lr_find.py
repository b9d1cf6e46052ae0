"""``lr_find``: the learning-rate range test (Smith 2017; fastai's ``lr_find``, the paper's Fig. 3).

The rate grows exponentially from ``start_lr`` to ``end_lr`` over at most one pass of the
training data; the loss is smoothed with a bias-corrected exponential moving average; the sweep
stops once the smoothed loss exceeds ``divergence`` times its best value (or is NaN). Weights,
optimizer state, trainable flags and the RNG are restored afterwards. The suggested rate and the
rule that picked it are recorded with the curve, with a warning when the sweep had too few
iterations to choose from (:func:`too_few`: fewer than the ~``1 / (1 - beta)`` iterations the
smoothed loss averages over, e.g. 15 on the smoke profiles' 960 training samples at batch 64).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from micro_bench_torch.figures import plot_lr_find
from micro_bench_torch.groups import build_optimizer, set_trainable, train_mode
from micro_bench_torch.inputs import (
    Batches,
    DevicePipeline,
    LoaderSettings,
    batch_loader,
    reader_for,
)
from micro_bench_torch.runtime import resolve_runtime

__all__ = ["LR_FIND_DEFAULTS", "LR_RULES", "LRFindResult", "lr_find", "lr_find_options", "suggest_lr", "too_few"]

#: How a rate is picked from the sweep. ``min/10`` (the default): a tenth of the rate at the
#: smoothed loss's minimum, the fastai 0.7 practice the paper followed ("relatively low but still
#: clearly decreasing"; fastai 0.7's ``sched.plot()`` only draws the curve). ``steepest``: the
#: steepest descent of the smoothed loss (fastai v1's ``recorder.plot(suggestion=True)``, 2019).
LR_RULES = ("min/10", "steepest")


@dataclass
class LRFindResult:
    """The sweep: ``lrs`` (head group), raw and smoothed ``losses``, the suggestion and its rule."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    rule: str
    candidates: dict[str, float] = field(default_factory=dict)
    stopped: str = "end of sweep"
    #: Set when the sweep is too short to choose a rate from (:func:`too_few`).
    warning: str | None = None

    def plot(self, path: str | Path) -> Path:
        """Write the loss-vs-lr figure (log x axis) to ``path``."""
        return plot_lr_find(self.lrs, self.smoothed, path, suggestion=self.suggestion, rule=self.rule)

    def save(self, directory: str | Path) -> Path:
        """Write ``lr_find.json`` and ``lr_find.png`` into ``directory``; returns the JSON path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.plot(directory / "lr_find.png")
        path = directory / "lr_find.json"
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        return path


#: ``trainer.lr: find`` sweeps as fastai 0.7's ``learn.lr_find()`` did: from 1e-5 to 10 over one
#: pass of the training data (``num_iter: null``), loss smoothed with 0.98, stopped at 4x the best.
LR_FIND_DEFAULTS: dict[str, Any] = {"start_lr": 1e-5, "end_lr": 10.0, "num_iter": None, "rule": "min/10",
                                    "beta": 0.98, "divergence": 4.0}


def lr_find_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``LR_FIND_DEFAULTS`` updated with ``options`` (the trainer's ``lr_find`` key), checked."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(LR_FIND_DEFAULTS))
    if unknown:
        raise ValueError(f"trainer 'torch': unknown lr_find key(s) {', '.join(unknown)}; "
                         f"expected {', '.join(LR_FIND_DEFAULTS)}")
    merged = {**LR_FIND_DEFAULTS, **options}
    if merged["rule"] not in LR_RULES:
        raise ValueError(f"trainer 'torch': lr_find.rule must be one of {', '.join(LR_RULES)}, got {merged['rule']!r}")
    numbers = all(isinstance(merged[k], (int, float)) and not isinstance(merged[k], bool)
                  for k in ("start_lr", "end_lr", "beta", "divergence"))
    if not numbers or not 0 < merged["start_lr"] < merged["end_lr"] or not 0 <= merged["beta"] < 1:
        raise ValueError(f"trainer 'torch': lr_find needs 0 < start_lr < end_lr and 0 <= beta < 1, got {options}")
    n = merged["num_iter"]
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
        raise ValueError(f"trainer 'torch': lr_find.num_iter must be an integer >= 2 or null, got {n!r}")
    return merged


def suggest_lr(lrs: Sequence[float], smoothed: Sequence[float], *, skip_start: int = 10,
               skip_end: int = 5, rule: str = "min/10") -> tuple[float, str, dict[str, float]]:
    """Pick a rate from a sweep: ``(rate, rule description, candidates)``.

    The curve is read as fastai 0.7's ``sched.plot()`` draws it: without the first ``skip_start``
    and last ``skip_end`` points. ``min/10``: a tenth of the rate at the smoothed minimum.
    ``steepest``: where the smoothed loss falls fastest against ``log10(lr)``, before its minimum;
    with fewer than 3 points before the minimum it falls back to ``min/10`` (and says so).
    Both candidates are returned when they exist.
    """
    if rule not in LR_RULES:
        raise ValueError(f"lr_find: rule must be one of {', '.join(LR_RULES)}, got {rule!r}")
    lr, loss = np.asarray(lrs, float), np.asarray(smoothed, float)
    end = len(loss) - skip_end if len(loss) - skip_end - skip_start >= 3 else len(loss)
    start = skip_start if end - skip_start >= 3 else 0
    best = start + int(np.nanargmin(loss[start:end]))
    candidates = {"min/10": float(lr[best] / 10)}
    if best - start >= 3:
        slope = np.gradient(loss[start : best + 1], np.log10(lr[start : best + 1]))
        candidates["steepest"] = float(lr[start + int(np.argmin(slope))])
    if rule == "steepest" and "steepest" in candidates:
        return candidates["steepest"], "steepest descent of smoothed loss", candidates
    fallback = " (too few points before the minimum for steepest)" if rule == "steepest" else ""
    return candidates["min/10"], "min/10 (rate at the smoothed minimum / 10)" + fallback, candidates


def lr_find(
    model: nn.Module,
    dataset: Any,
    train_idx: np.ndarray,
    *,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int | None = 100,
    beta: float = 0.98,
    divergence: float = 4.0,
    batch_size: int = 64,
    lr_groups: Sequence[float] = (0.1, 0.333, 1.0),
    frozen: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    transform: Any = None,
    device: str = "auto",
    seed: int = 0,
    mean: Any = None,
    std: Any = None,
    bn_frozen: str = "eval",
    rule: str = "min/10",
) -> LRFindResult:
    """Sweep the learning rate over one pass of ``train_idx`` and suggest one.

    Args:
        model: restored to its state (weights, buffers, ``requires_grad``, mode) afterwards.
        dataset: a :class:`~micro_bench.components.Dataset`.
        loss: ``(logits (B, K), targets (B, K)) -> scalar``.
        start_lr, end_lr: the head group's rate at the first and last iteration; other groups
            keep their ``lr_groups`` ratios.
        num_iter: iterations of the sweep, capped at one pass of the data; ``None``: one pass
            (fastai 0.7's ``lr_find``).
        beta: EMA factor of the smoothed loss (bias-corrected: ``avg / (1 - beta**i)``).
        divergence: stop when the smoothed loss exceeds ``divergence *`` its best.
        frozen: only the head trains (fastai 0.7: ``lr_find`` before ``unfreeze``).
        optimizer: sweep this optimizer's groups (its state is restored) instead of a fresh Adam.
        transform: the run's training transform (applied on the device, as in training).
        mean, std: channel statistics; default ``dataset.channel_stats(train_idx)``.
        bn_frozen: BatchNorm of frozen groups in ``eval`` (fastai 0.7) or ``train`` mode.
        rule: how the suggestion is picked, one of :data:`LR_RULES` (see :func:`suggest_lr`).
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr!r}, {end_lr!r}")
    if rule not in LR_RULES:
        raise ValueError(f"lr_find: rule must be one of {', '.join(LR_RULES)}, got {rule!r}")
    rt = resolve_runtime(device)
    if mean is None or std is None:
        mean, std = dataset.channel_stats(np.asarray(train_idx))
    generator = torch.Generator().manual_seed(seed)
    train_idx = np.asarray(train_idx)
    data = Batches(reader_for(dataset), train_idx, dataset.labels[train_idx])
    loader = batch_loader(data, LoaderSettings(batch_size, 0, 1, rt.device), shuffle_seed=seed)
    pipeline = DevicePipeline(rt.device, mean, std, transform=transform, channels_last=rt.channels_last)
    n = max(len(loader) if num_iter is None else min(num_iter, len(loader)), 2)
    saved_model = copy.deepcopy(model.state_dict())
    saved_flags = [p.requires_grad for p in model.parameters()]
    saved_training, saved_rng = model.training, torch.get_rng_state()
    opt = optimizer if optimizer is not None else build_optimizer(model, 1.0, lr_groups)
    saved_opt = copy.deepcopy(opt.state_dict())
    ratios = [g["lr"] / opt.param_groups[-1]["lr"] for g in opt.param_groups]
    lrs, losses, smoothed, stopped = [], [], [], "end of sweep"
    try:
        torch.manual_seed(seed)
        rt.model(model)
        set_trainable(model, frozen, len(lr_groups))
        train_mode(model, bn_frozen)
        avg, best = 0.0, math.inf
        for i, (x, y) in enumerate(loader):
            if i >= n:
                break
            lr = start_lr * (end_lr / start_lr) ** (i / (n - 1))
            for group, ratio in zip(opt.param_groups, ratios, strict=True):
                group["lr"] = lr * ratio
            value = loss(model(pipeline.train(x, generator)).float(), y.to(rt.device))
            raw = float(value.detach())
            avg = beta * avg + (1 - beta) * raw
            smooth = avg / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(raw)
            smoothed.append(smooth)
            if not math.isfinite(smooth) or (i > 0 and smooth > divergence * best):
                stopped = f"diverged at lr {lr:.3g} (smoothed loss {smooth:.4g} > {divergence} x best {best:.4g})"
                break
            best = min(best, smooth)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
    finally:
        model.load_state_dict(saved_model)
        opt.load_state_dict(saved_opt)
        for p, flag in zip(model.parameters(), saved_flags, strict=True):
            p.requires_grad_(flag)
        model.train(saved_training)
        torch.set_rng_state(saved_rng)
    finite = [(a, b, c) for a, b, c in zip(lrs, losses, smoothed, strict=True) if math.isfinite(c)]
    if len(finite) < 2:
        raise ValueError(f"lr_find: the loss was not finite from the start (start_lr {start_lr}); lower start_lr")
    suggestion, how, candidates = suggest_lr([f[0] for f in finite], [f[2] for f in finite], rule=rule)
    warning = too_few(len(lrs), beta, planned=n, samples=len(train_idx), batch_size=batch_size)
    return LRFindResult(lrs, losses, smoothed, suggestion, how, candidates, stopped, warning)


def too_few(iterations: int, beta: float, *, planned: int, samples: int, batch_size: int) -> str | None:
    """A warning when a sweep of ``iterations`` points (of ``planned``, over ``samples`` training
    samples at ``batch_size``) is too short to choose a rate from: fewer than ``1 / (1 - beta)``
    (50 at fastai's 0.98), the number of iterations the smoothed loss averages over, so the curve is
    mostly the average's warm-up; fastai 0.7's ``sched.plot()`` also drops its first 10 and last 5
    points. ``None`` when there are enough."""
    needed = max(10, math.ceil(1 / (1 - beta))) if beta < 1 else 10
    if iterations >= needed:
        return None
    why = (f"one pass of {samples} training samples at batch {batch_size}" if planned == iterations
           else f"stopped early of {planned} planned")
    return (f"only {iterations} iterations ({why}); the smoothed loss averages about {needed}, so the curve "
            "is too short to choose a rate from: use more training samples, a smaller batch, or a fixed lr")
