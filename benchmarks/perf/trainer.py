"""Performance of the ``torch`` trainer, measured in one process so the numbers are comparable.

1. Overhead: the trainer's time per training step against a bare PyTorch loop (same model
   initialisation, batch, Adam, loss, memory format, data in memory through the same uint8
   batch loader and device-side standardization, no augmentation), as a ratio; target < 1.05. The trainer's
   number is its training-loop time (``history["seconds"]``); the whole ``fit`` (with the
   per-epoch validation pass and atomic checkpoint) is reported too.
2. Memory format: the bare loop with ``channels_last`` against the default (NCHW) layout.

Trials alternate (trainer, bare, trainer, ...) and the median is reported, since CPU timings
on a shared machine drift. Run::

    python benchmarks/perf/trainer.py                      # CPU: resnet18_4ch, 64 px, batch 32
    python benchmarks/perf/trainer.py --arch resnet50_4ch --res 256 --batch 64 --device cuda [--fp32]

Also printed: images/s of each loop (batch / seconds per step), for ``bare_nhwc`` (channels_last)
and ``bare_nchw``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from micro_bench import RunContext, Split
from micro_bench_resnet import model as resnets
from micro_bench_torch.inputs import (
    Batches,
    DevicePipeline,
    LoaderSettings,
    batch_loader,
    reader_for,
)
from micro_bench_torch.runtime import resolve_runtime
from micro_bench_torch.testing import synthetic_dataset
from micro_bench_torch.trainer import TorchTrainer


def _model(arch: str, k: int) -> nn.Module:
    torch.manual_seed(0)
    return getattr(resnets, arch)(num_classes=k, pretrained=False)


def bare_loop(arch: str, ds: Any, idx: np.ndarray, args: argparse.Namespace, channels_last: bool) -> float:
    """Seconds per step of the plain loop: forward, BCE, backward, Adam step."""
    rt = resolve_runtime(args.device, amp=args.amp, channels_last=channels_last)
    model = rt.model(_model(arch, len(ds.classes))).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    mean, std = ds.channel_stats(idx)
    pipeline = DevicePipeline(rt.device, mean, std, channels_last=channels_last)
    data = Batches(reader_for(ds), idx, ds.labels[idx])
    steps, start = 0, time.perf_counter()
    for epoch in range(args.epochs):
        for x, y in batch_loader(data, LoaderSettings(args.batch, 0, 1, rt.device), shuffle_seed=epoch):
            x, y = pipeline.eval(x), y.to(rt.device, non_blocking=True)
            with rt.autocast():
                logits = model(x)
            loss = loss_fn(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def trainer_run(arch: str, ds: Any, idx: np.ndarray, args: argparse.Namespace) -> tuple[float, float]:
    """``(loop seconds per step, whole-fit seconds per step)`` of :class:`TorchTrainer`."""
    trainer = TorchTrainer(batch_size=args.batch, lr=1e-4, freeze_epochs=0, epochs=args.epochs,
                           num_workers=0, device=args.device, channels_last=True, amp=args.amp)
    model = _model(arch, len(ds.classes))
    with tempfile.TemporaryDirectory() as tmp:
        ctx = RunContext(directory=tmp, seed=0, label="perf", progress=False, log=lambda s: None)
        start = time.perf_counter()
        history = trainer.fit(model, ds, Split(idx, idx[:0], idx[:0], ds.labels), loss=nn.BCEWithLogitsLoss(), schedule=None, context=ctx)
        whole = time.perf_counter() - start
    steps = args.epochs * trainer.steps_per_epoch(len(idx))
    return sum(history["seconds"]) / steps, whole / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet18_4ch", choices=["resnet18_4ch", "resnet34_4ch", "resnet50_4ch"])
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=6, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--fp32", dest="amp", action="store_false",
                        help="no bf16 autocast (CUDA; the paper trained in fp32); default: bf16 on CUDA")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = synthetic_dataset(n=args.batch * args.steps, k=28, resolution=args.res)
    idx = np.arange(len(ds.ids))
    ds.channel_stats(idx)  # cached, as a real store's precomputed statistics are
    bare_loop(args.arch, ds, idx[: args.batch * 2], argparse.Namespace(**{**vars(args), "epochs": 1}), True)  # warm-up
    rows: dict[str, list[float]] = {"trainer_loop": [], "trainer_fit": [], "bare_nhwc": [], "bare_nchw": []}
    for _ in range(args.repeats):
        loop, whole = trainer_run(args.arch, ds, idx, args)
        rows["trainer_loop"].append(loop)
        rows["trainer_fit"].append(whole)
        rows["bare_nhwc"].append(bare_loop(args.arch, ds, idx, args, channels_last=True))
        rows["bare_nchw"].append(bare_loop(args.arch, ds, idx, args, channels_last=False))
    med = {k: statistics.median(v) for k, v in rows.items()}
    result = {
        "device": str(resolve_runtime(args.device).device), "threads": torch.get_num_threads(),
        "arch": args.arch, "res": args.res, "batch": args.batch, "steps": args.steps * args.epochs,
        "seconds_per_step": med,
        "overhead_ratio_loop": med["trainer_loop"] / med["bare_nhwc"],
        "overhead_ratio_fit": med["trainer_fit"] / med["bare_nhwc"],
        "channels_last_speedup": med["bare_nchw"] / med["bare_nhwc"],
        "precision": "bf16" if resolve_runtime(args.device, amp=args.amp).amp else "fp32",
        "images_per_s": {k: args.batch / v for k, v in med.items()},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
