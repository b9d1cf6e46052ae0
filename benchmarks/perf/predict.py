"""Throughput of ``micro-bench predict`` against a bare PyTorch forward pass, in one process.

Both sides predict the same ``(n, 4, R, R) uint8`` images with the same network, weights, device,
memory format, autocast and batch size, without TTA:

* ``predict``: :func:`micro_bench_predict.api.predict_source` on the images in memory (the path of
  ``predict(run_dir, images)``): the run loaded from its folder (``model.json`` + ``model.pt``),
  samples collated by a ``DataLoader``, standardized, sigmoid, thresholds applied;
* ``bare``: the preprocessed batches (standardized once, beforehand, outside the timing) through
  ``net(x)`` and a sigmoid under ``torch.inference_mode``.

The ratio is predict's images/s over bare's (goal >= 0.9), from wall time and from this process's
CPU time (steadier when other jobs share the cores). Trials alternate and the median is reported. Run::

    python benchmarks/perf/predict.py                                  # CPU: resnet18_4ch, 64 px
    python benchmarks/perf/predict.py --arch resnet50_4ch --res 256 --batch 64 --n 2048 --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from micro_bench.host import Host
from micro_bench_predict.api import predict_source
from micro_bench_predict.card import FORMAT, FORMAT_VERSION, sha256_file, write_card
from micro_bench_predict.sources import ArraySource
from micro_bench_predict.trained import load_trained
from micro_bench_torch.runtime import resolve_runtime

CLASSES = [f"class{k}" for k in range(28)]
CHANNELS = ["red", "green", "blue", "yellow"]


def make_run(folder: Path, arch: str, res: int, batch: int) -> Path:
    """A run folder as a finished run leaves it: weights and model.json (untrained weights)."""
    torch.manual_seed(0)
    net = Host.load().registries["model"].create(arch, num_classes=28, in_chans=4, pretrained=False)
    weights = folder / "model" / "model.pt"
    weights.parent.mkdir(parents=True)
    torch.save({"format": 1, "model": net.state_dict(),
                "stats": {"mean": [20.0, 30.0, 20.0, 25.0], "std": [30.0, 40.0, 30.0, 35.0]}}, weights)
    (folder / "result.json").write_text("{}")
    write_card(folder, {
        "format": FORMAT, "format_version": FORMAT_VERSION, "micro_bench_version": "perf", "kind": "torch",
        "files": {"model.pt": {"bytes": weights.stat().st_size, "sha256": sha256_file(weights)}},
        "run": {"benchmark": "perf", "label": arch, "key": "perf", "seed": 0},
        "model": {"name": arch, "params": {"pretrained": False}, "num_classes": 28, "in_chans": 4, "head": None},
        "trainer": {"name": "torch", "params": {"batch_size": batch}}, "tta": None,
        "input": {"channels": CHANNELS, "resolution": res, "dtype": "uint8", "layout": "NCHW"},
        "statistics": {"mean": [20.0, 30.0, 20.0, 25.0], "std": [30.0, 40.0, 30.0, 35.0], "scale": "0-255",
                       "over": "train", "split": {}},
        "classes": CLASSES,
        "thresholds": {"rule": 0.5, "description": "constant 0.5", "fitted_on": None, "values": [0.5] * 28},
        "threshold_choices": {"0.5": [0.5] * 28},
    })
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="resnet18_4ch")
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    images = np.random.default_rng(0).integers(0, 256, (args.n, 4, args.res, args.res), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_trained(make_run(Path(tmp) / "run", args.arch, args.res, args.batch), device=args.device)
        rt = resolve_runtime(args.device, amp=True, channels_last="auto")
        net = rt.model(Host.load().registries["model"].create(args.arch, num_classes=28, in_chans=4, pretrained=False)).eval()
        net.load_state_dict(torch.load(Path(tmp) / "run/model/model.pt", weights_only=True)["model"])
        mean = torch.tensor(model.mean, dtype=torch.float32).view(1, -1, 1, 1) / 255
        std = torch.tensor(model.std, dtype=torch.float32).view(1, -1, 1, 1) / 255
        batches = [rt.batch((torch.from_numpy(images[i:i + args.batch]).float() / 255 - mean) / std)
                   for i in range(0, args.n, args.batch)]

        def bare() -> tuple[float, float, np.ndarray]:
            start, cpu = time.perf_counter(), time.process_time()
            with torch.inference_mode():
                out = []
                for x in batches:
                    with rt.autocast():
                        out.append(torch.sigmoid(net(x).float()).cpu())
            return time.perf_counter() - start, time.process_time() - cpu, torch.cat(out).numpy()

        def ours() -> tuple[float, float, np.ndarray]:
            start, cpu = time.perf_counter(), time.process_time()
            pred = predict_source(model, ArraySource(images, None, CHANNELS, args.res), batch_size=args.batch, tta=False)
            return time.perf_counter() - start, time.process_time() - cpu, pred.proba

        ours(), bare()  # warm-up (oneDNN/cuDNN kernels, allocator)
        times: dict[str, list[float]] = {"predict": [], "bare": []}
        cpu_times: dict[str, list[float]] = {"predict": [], "bare": []}
        for _ in range(args.trials):
            for name, fn in (("predict", ours), ("bare", bare)):
                seconds, cpu_seconds, proba = fn()
                times[name].append(seconds)
                cpu_times[name].append(cpu_seconds)
                if name == "predict":
                    first = proba
                else:
                    diff = float(np.abs(first - proba).max())
        med = {k: statistics.median(v) for k, v in times.items()}
        report = {
            "device": str(rt.device), "gpu": torch.cuda.get_device_name() if rt.device.type == "cuda" else None,
            "threads": torch.get_num_threads(), "arch": args.arch, "res": args.res, "batch": args.batch, "n": args.n,
            "predict_images_per_s": args.n / med["predict"], "bare_images_per_s": args.n / med["bare"],
            "ratio": med["bare"] / med["predict"],
            # CPU seconds of this process: steadier than wall time when other jobs share the cores.
            "ratio_cpu_time": statistics.median(cpu_times["bare"]) / statistics.median(cpu_times["predict"]),
            "max_abs_diff": diff,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
