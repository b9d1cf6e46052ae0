"""Loader throughput: the paper-era PNG path against the zarr store at 256, in one run.

(a)  decode four 512x512 8-bit PNGs with PIL, resize each to 256 (antialiased bilinear), stack;
(b)  per-sample reads of ``(4, 256, 256) uint8`` through the training dataset path
     (``HPADataset.reader()``: :class:`micro_bench_hpa.fastread.SampleReader`), in shuffled
     order, next to plain ``zarr.Array[i]`` calls (what the dataset did before);
(b') whole shards per call (dask / block reads);
(c)  batch reads: ``SampleReader.read_many`` of batches of 32 rows against a loop of ``read``
     over the same rows, for shuffled batches (training) and for consecutive ones (evaluation);
(the whole training input path, store to augmented batch: ``benchmarks/perf/input.py``.)
Each rate is printed with its ratio to (a), for each candidate compressor. Single process,
one torch thread (per-core numbers). Inputs: the real HPA PNGs in tests/data/hpa_png/ grouped
four at a time into stand-in samples (see tests/data/README.md).

    python benchmarks/perf/loader.py [--samples 128] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from zarr.codecs import BloscCodec

from micro_bench_hpa.fastread import SampleReader
from micro_bench_hpa.store import blocks, create_store, open_store, write_samples
from micro_bench_hpa.torch_data import StoreReader

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
    return np.stack(
        [np.asarray(Image.open(files[c]).resize((r, r), Image.Resampling.BILINEAR)) for c in COLORS]
    )


def rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    """Best-of-``repeat`` items per second of ``fn``, which handles ``n`` items."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def interleaved(f: Callable[[], object], g: Callable[[], object], n: int, repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` rates of ``f`` and ``g`` per CPU-second of this process (all its
    threads: zarr reads on its own I/O thread), timed alternately: robust to a loaded machine."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for k, fn in enumerate((f, g)):
            t = time.process_time()
            fn()
            best[k] = min(best[k], time.process_time() - t)
    return n / best[0], n / best[1]


def _store(path: Path, pixels: np.ndarray, codec: object) -> None:
    n = len(pixels)
    g = create_store(
        path,
        ids=[str(i) for i in range(n)],
        labels=np.zeros((n, 28), bool),
        resolutions=(256,),
        source="bench",
        compressor=codec,
    )
    for a, b in blocks(g):
        write_samples(g, a, {256: pixels[a:b]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    samples = stand_in_samples(args.samples)
    n = len(samples)
    pixels = np.stack([pil_sample(s) for s in samples])
    png = rate(lambda: [pil_sample(s) for s in samples], n, args.repeat)
    print(
        f"(a) PIL decode 4x512 PNG + resize 256 + stack: {png:8.1f} samples/s ({4 * png:.0f} channel-PNGs/s)"
    )
    order = np.random.default_rng(0).permutation(n)
    with tempfile.TemporaryDirectory() as tmp:
        for name, codec in CANDIDATES.items():
            path = Path(tmp) / f"{name}.zarr"
            _store(path, pixels, codec)
            arr = open_store(path)["images/256"]
            store = StoreReader(path, 256, np.arange(n)).sample_reader()
            assert all(np.array_equal(store.read(i), pixels[i]) for i in range(n))
            size = sum(p.stat().st_size for p in (path / "images").rglob("*") if p.is_file())
            zarr_one = rate(lambda arr=arr: [arr[int(i)] for i in order], n, args.repeat)
            one = rate(lambda store=store: [store.read(int(i)) for i in order], n, args.repeat)
            blk = rate(
                lambda arr=arr, path=path: [arr[a:b] for a, b in blocks(open_store(path))],
                n,
                args.repeat,
            )
            reader = "fast" if store.fast else "zarr"
            print(
                f"(b) store 256, {name:10s}: per sample ({reader}) {one:8.1f}/s ({one / png:6.1f}x) "
                f"[zarr Array[i] {zarr_one:7.1f}/s ({zarr_one / png:5.1f}x)]; "
                f"(b') whole shards {blk:7.1f}/s ({blk / png:5.1f}x); {size / n / 1024:6.1f} KiB/sample (raw 256.0)"
            )
            reader_ = SampleReader(arr)
            for kind, rows in (("shuffled", order), ("consecutive", np.arange(n))):
                batches = [rows[i : i + 32] for i in range(0, n, 32)]
                loop, many = interleaved(
                    lambda r=reader_, bs=batches: [[r.read(i) for i in b] for b in bs],
                    lambda r=reader_, bs=batches: [r.read_many(b) for b in bs],
                    n,
                    max(args.repeat, 5),
                )
                print(
                    f"(c) store 256, {name:10s}: {kind:11s} batches of 32: read_many {many:8.1f}/CPU-s, "
                    f"loop of read {loop:8.1f}/CPU-s -> batch / loop {many / loop:5.2f}"
                )


if __name__ == "__main__":
    main()
