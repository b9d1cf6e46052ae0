"""Loader throughput: the paper-era PNG path against the zarr store at 256, in one run.

(a) decode four 512x512 8-bit PNGs with PIL, resize each to 256 (antialiased bilinear), stack;
(b) read (4, 256, 256) uint8 samples from the store, one per call (what the torch Dataset does
    per item) and a whole shard per call (dask / block reads), for each candidate compressor.
Single process (per-core numbers). Inputs: the real HPA PNGs in tests/data/hpa_png/ grouped four
at a time into stand-in samples (see tests/data/README.md).

    python benchmarks/perf/loader.py [--samples 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from zarr.codecs import BloscCodec

from micro_bench_hpa.store import blocks, create_store, open_store, write_samples

COLORS = ("red", "green", "blue", "yellow")
PNG_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "hpa_png"
CANDIDATES = {
    "none": None,
    "blosc-lz4": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
    "blosc-zstd": BloscCodec(cname="zstd", clevel=3, shuffle="shuffle"),
}


def stand_in_samples(n: int) -> list[dict[str, Path]]:
    by_color = [sorted(PNG_DIR.glob(f"*_{c}.png")) for c in COLORS]
    combos = itertools.cycle(itertools.product(*by_color))
    return [dict(zip(COLORS, next(combos), strict=True)) for _ in range(n)]


def pil_sample(files: dict[str, Path], r: int = 256) -> np.ndarray:
    """The paper-era path: ``(4, r, r) uint8``."""
    return np.stack([np.asarray(Image.open(files[c]).resize((r, r), Image.Resampling.BILINEAR)) for c in COLORS])


def rate(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    samples = stand_in_samples(args.samples)
    pixels = np.stack([pil_sample(s) for s in samples])
    png = rate(lambda: [pil_sample(s) for s in samples], len(samples), args.repeat)
    print(f"(a) PIL decode 4x512 PNG + resize 256 + stack: {png:8.1f} samples/s ({4 * png:.0f} channel-PNGs/s)")
    labels = np.zeros((len(samples), 28), bool)
    with tempfile.TemporaryDirectory() as tmp:
        for name, codec in CANDIDATES.items():
            path = Path(tmp) / f"{name}.zarr"
            g = create_store(path, ids=[str(i) for i in range(len(samples))], labels=labels, resolutions=(256,),
                             source="bench", compressor=codec)
            for a, b in blocks(g):
                write_samples(g, a, {256: pixels[a:b]})
            arr = open_store(path)["images/256"]
            size = sum(p.stat().st_size for p in (path / "images").rglob("*") if p.is_file())
            one = rate(lambda arr=arr: [arr[i] for i in range(len(samples))], len(samples), args.repeat)
            blk = rate(lambda arr=arr, g=g: [arr[a:b] for a, b in blocks(g)], len(samples), args.repeat)
            print(f"(b) store 256, {name:10s}: per sample {one:7.1f}/s ({one / png:5.1f}x), "
                  f"whole shards {blk:7.1f}/s ({blk / png:5.1f}x), {size / len(samples) / 1024:6.1f} KiB/sample (raw 256.0)")


if __name__ == "__main__":
    main()
