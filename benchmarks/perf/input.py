"""The torch trainer's input pipeline against the model's own step rate, in one run.

Measured on one store of ``--samples`` random ``(4, R, R) uint8`` samples (uncompressed, sharded:
the format ``micro-bench data convert`` writes), in one process:

(h)  host: store -> ``(B, 4, R, R) uint8`` batch, the trainer's loader (``Batches`` over the
     store's ``reader()``, ``BatchSampler``, shuffled; pinned when the device is CUDA), one
     thread: the per-core host cost per sample (goal: <= 100 us at 256 px), each batch dropped
     once the next is read, as the training loop does (its memory is reused); Host costs are this
     process's CPU time (a shared machine's load does not inflate them), wall time beside;
(h') the same with every batch of the epoch kept alive (each batch lands in fresh memory, which
     the kernel must fault in and zero: what a queue of prefetched batches costs at most);
(l)  legacy host path, the baseline (what the trainer did before, per item on the CPU): read one
     sample, uint8 -> float32 / 255, flips + bilinear rotation (torchvision) + lighting,
     standardize, ``default_collate``; without and with augmentation;
(d)  device: uint8 batch -> /255 -> the ``fastai`` transform -> standardization
     (``DevicePipeline.train``), on ``--device``;
(w)  whole pipeline: (h) then (d) for every batch, samples/s;
(m)  the model's own training step (forward, BCE, backward, Adam) on the same device and
     resolution, samples/s; and how many host cores (h) it takes to keep it fed.
On the CPU, (d), (w) and (m) are CPU time with ``--threads`` threads; on CUDA, wall time.

    python benchmarks/perf/input.py                                   # CPU, 256 px, resnet50_4ch
    python benchmarks/perf/input.py --device cuda --model-batch 64    # on a GPU machine
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from micro_bench_hpa.store import blocks, create_store, write_samples
from micro_bench_hpa.torch_data import StoreReader
from micro_bench_resnet import model as resnets
from micro_bench_torch.inputs import Batches, DevicePipeline, LoaderSettings, batch_loader
from micro_bench_torch.runtime import resolve_runtime
from micro_bench_transforms.fastai import FastaiAugment


def _store(path: Path, n: int, res: int) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (n, 4, res, res), dtype=np.uint8)
    g = create_store(path, ids=[str(i) for i in range(n)], labels=np.zeros((n, 28), bool),
                     resolutions=(res,), source="bench", compressor=None)
    for a, b in blocks(g):
        write_samples(g, a, {res: pixels[a:b]})


class _Legacy(TorchDataset):
    """The trainer's former per-item CPU path (the baseline): float, augment, standardize per item."""

    def __init__(self, read: StoreReader, n: int, augment: bool) -> None:
        self.read, self.n, self.augment = read, n, augment
        self.mean, self.std = torch.full((4, 1, 1), 0.3), torch.full((4, 1, 1), 0.2)
        self.gen = torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.read(np.array([i]))[0]).to(torch.float32).div_(255.0)
        if self.augment:
            u = torch.rand(5, generator=self.gen, dtype=torch.float64).tolist()
            x = TF.horizontal_flip(x) if u[0] < 0.5 else x
            x = TF.vertical_flip(x) if u[1] < 0.5 else x
            x = TF.rotate(x, (2 * u[2] - 1) * 10.0, interpolation=InterpolationMode.BILINEAR)
            mu = x.mean(dim=(1, 2), keepdim=True)
            x = ((x - mu) * (1 + (2 * u[4] - 1) * 0.05) + mu + (2 * u[3] - 1) * 0.05).clamp_(0, 1)
        return x.sub_(self.mean).div_(self.std), torch.zeros(28)


def _best(fn: Callable[[], object], repeat: int, sync: Callable[[], None], clock: str = "cpu") -> float:
    """Best-of-``repeat`` seconds of ``fn``: this process's CPU time (``clock="cpu"``: what a
    host core spends, unaffected by other processes on a shared machine) or wall time."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    best = math.inf
    for _ in range(repeat):
        start = now()
        fn()
        sync()
        best = min(best, now() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--res", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32, help="loader and transform batch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--arch", default="resnet50_4ch", choices=["resnet18_4ch", "resnet34_4ch", "resnet50_4ch"])
    ap.add_argument("--model-batch", type=int, default=8)
    ap.add_argument("--model-steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for (d), (w), (m); (h), (l) use 1")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args()
    rt = resolve_runtime(args.device, amp=True, channels_last=True)
    cuda = rt.device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    n, out = args.samples, {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.zarr"
        _store(path, n, args.res)
        read = StoreReader(path, args.res, np.arange(n))
        data = Batches(read, np.arange(n), np.zeros((n, 28), bool))
        settings = LoaderSettings(args.batch, 0, "auto", rt.device)
        torch.set_num_threads(1)

        def kept() -> list[tuple[torch.Tensor, torch.Tensor]]:
            return list(batch_loader(data, settings, shuffle_seed=0))

        def host() -> None:
            for _batch in batch_loader(data, settings, shuffle_seed=0):
                pass

        batches = kept()  # warm: opens the store, reads the shard indexes
        out["host_us"] = 1e6 * _best(host, args.repeat, lambda: None) / n
        out["host_wall_us"] = 1e6 * _best(host, args.repeat, lambda: None, "wall") / n
        out["host_kept_us"] = 1e6 * _best(kept, args.repeat, lambda: None) / n
        for augment in (False, True):
            legacy = DataLoader(_Legacy(read, n, augment), batch_size=args.batch, shuffle=True,
                                generator=torch.Generator().manual_seed(0))
            out[f"legacy_us{'_aug' if augment else ''}"] = 1e6 * _best(lambda legacy=legacy: list(legacy), args.repeat,
                                                                       lambda: None) / n
        torch.set_num_threads(args.threads)
        pipeline = DevicePipeline(rt.device, np.full(4, 76.0), np.full(4, 51.0), transform=FastaiAugment(),
                                  channels_last=True)
        gen = torch.Generator().manual_seed(0)

        def device() -> None:
            for x, _ in batches:
                pipeline.train(x, gen)

        def whole() -> None:
            for x, y in batch_loader(data, settings, shuffle_seed=0):
                pipeline.train(x, gen), y.to(rt.device, non_blocking=True)

        device()
        clock = "wall" if cuda else "cpu"  # CPU time cannot see the GPU's work
        out["device_us"] = 1e6 * _best(device, args.repeat, sync, clock) / n
        out["pipeline_per_s"] = n / _best(whole, args.repeat, sync, clock)
    torch.manual_seed(0)
    model = rt.model(getattr(resnets, args.arch)(num_classes=28, pretrained=False)).train()
    opt, loss_fn = torch.optim.Adam(model.parameters(), lr=1e-4), nn.BCEWithLogitsLoss()
    x = torch.rand(args.model_batch, 4, args.res, args.res, device=rt.device).contiguous(memory_format=torch.channels_last)
    y = torch.zeros(args.model_batch, 28, device=rt.device)

    def step() -> None:
        with rt.autocast():
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(), sync()  # warm-up
    times = []
    for _ in range(args.model_steps):
        times.append(_best(step, 1, sync, "wall" if cuda else "cpu"))
    out["model_per_s"] = args.model_batch / statistics.median(times)
    host_per_s = 1e6 / out["host_us"]
    result = {
        "device": str(rt.device), "threads": args.threads, "res": args.res, "batch": args.batch,
        "samples": n, "arch": args.arch, "model_batch": args.model_batch, "amp": rt.amp,
        "clock": "process CPU time (per core)" if not cuda else "host: CPU time; device, model: wall",
        "load_average_1min": round(os.getloadavg()[0], 1),
        "host_us_per_sample": round(out["host_us"], 1),
        "host_wall_us_per_sample": round(out["host_wall_us"], 1),
        "host_us_per_sample_batches_kept": round(out["host_kept_us"], 1),
        "legacy_host_us_per_sample": round(out["legacy_us"], 1),
        "legacy_host_us_per_sample_augmented": round(out["legacy_us_aug"], 1),
        "host_speedup_vs_legacy_augmented": round(out["legacy_us_aug"] / out["host_us"], 1),
        "device_us_per_sample": round(out["device_us"], 1),
        "pipeline_samples_per_s": round(out["pipeline_per_s"], 1),
        "model_samples_per_s": round(out["model_per_s"], 2),
        "host_cores_to_feed_model": round(out["model_per_s"] / host_per_s, 3),
        "pipeline_over_model": round(out["pipeline_per_s"] / out["model_per_s"], 1),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
