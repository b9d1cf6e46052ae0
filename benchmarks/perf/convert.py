"""Conversion throughput against the PNG-decode bound, on 1 and 2 local workers.

The bound: one core decoding four 512x512 PNGs per sample with PIL (nothing else), times the
number of workers; it is measured right before and right after each conversion (their mean is
the reference, so load drift between the two shows in the printed spread). Inputs: real HPA PNGs
from tests/data/hpa_png/ grouped four at a time into stand-in samples (see tests/data/README.md).
The load average is printed with each line: on a shared machine, compare ratios of quiet runs.

    python benchmarks/perf/convert.py [--samples 640] [--workers 1,2] [--tmp DIR] [--repeat 1]

Wall-clock ratios need a quiet machine. The CPU-time ratio (samples per CPU-second of the
converting processes, workers included, against the same for decoding) is what one core could
reach on a quiet machine, and holds up under load; for several workers it shows what the
workers' start-up and scheduling cost, not their parallel speed.

``--tmp`` chooses where the source copy and the stores go (default: the system temp folder); a
tmpfs such as /dev/shm takes the disk out of the measurement.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from micro_bench_hpa.convert import convert

COLORS = ("red", "green", "blue", "yellow")
PNG_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "hpa_png"


def make_source(root: Path, n: int) -> list[Path]:
    (root / "train").mkdir(parents=True)
    by_color = [sorted(PNG_DIR.glob(f"*_{c}.png")) for c in COLORS]
    combos = itertools.cycle(itertools.product(*by_color))
    rows, files = [], []
    for k in range(n):
        for c, f in zip(COLORS, next(combos), strict=True):
            dst = root / "train" / f"s{k:05d}_{c}.png"
            shutil.copy(f, dst)
            files.append(dst)
        rows.append(f"s{k:05d},0\n")
    (root / "train.csv").write_text("Id,Target\n" + "".join(rows))
    return files


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished child processes."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def decode_rate(files: list[Path]) -> tuple[float, float]:
    """One core decoding every file once with PIL: (samples/s of wall time, of CPU time)."""
    t, c = time.perf_counter(), cpu_seconds()
    for f in files:
        np.asarray(Image.open(f))
    n = len(files) / 4
    return n / (time.perf_counter() - t), n / (cpu_seconds() - c)


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--tmp", default=None, help="folder for the source copy and the stores")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    print(f"{args.samples} samples, 512/256/64 px, {os.cpu_count()} CPUs, {load()}")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        files = make_source(Path(tmp) / "src", args.samples)
        decode_rate(files)  # warm the page cache
        per_worker: dict[int, list[float]] = {w: [] for w in workers}
        for rep, w in itertools.product(range(args.repeat), workers):
            dest = Path(tmp) / f"w{w}-{rep}.zarr"
            before = decode_rate(files)
            t, c = time.perf_counter(), cpu_seconds()
            convert(Path(tmp) / "src", dest, resolutions=(512, 256, 64), workers=w, progress=False)
            got, got_cpu = args.samples / (time.perf_counter() - t), args.samples / (cpu_seconds() - c)
            after = decode_rate(files)
            bound, bound_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
            per_worker[w].append(got)
            print(f"{w} worker(s): {got:7.1f} samples/s; decode bound {bound:6.1f}/s per worker "
                  f"(before {before[0]:.1f}, after {after[0]:.1f}) -> {got / (bound * w):.2f} of the bound; "
                  f"CPU time: {got_cpu:.1f} samples per CPU-second against {bound_cpu:.1f} decoding "
                  f"-> {got_cpu / bound_cpu:.2f}; {load()}")
            shutil.rmtree(dest)
        if 1 in workers:
            one = np.median(per_worker[1])
            for w in workers:
                if w != 1:
                    print(f"{w} workers / 1 worker (medians): {np.median(per_worker[w]) / one:.2f}x")


if __name__ == "__main__":
    main()
