"""Conversion throughput against the PNG-decode bound, on 1 and 2 local workers.

The bound: one core decoding four 512x512 PNGs per sample with PIL (nothing else), times the
number of workers; it is measured right before and right after each conversion (their mean is
the reference, so load drift between the two shows in the printed spread). Inputs: real HPA PNGs
from tests/data/hpa_png/ grouped four at a time into stand-in samples (see tests/data/README.md).
The load average is printed with each line: on a shared machine, compare ratios of quiet runs.

    python benchmarks/perf/convert.py [--samples 640] [--workers 1,2] [--tmp DIR] [--repeat 1]
    python benchmarks/perf/convert.py --formats png,tif16,zarr16 --workers 1 [--samples 64]

``--formats`` adds the generic paths of ``data convert`` (issue 23) on the same pixels, scaled to
16 bits (x * 257): ``tif16``, one 4-channel 16-bit TIFF per sample (tifffile), and ``zarr16``, one
4-channel 16-bit OME-Zarr image per sample (ome-zarr), both stored as uint16. Each line then
also gives the CPU time per decoded source byte (4 x 512 x 512 x 1 or 2 bytes a sample) against
the PNG path's, measured in the same run.

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


def make_generic(root: Path, n: int, kind: str) -> None:
    """The PNG samples' pixels x 257 as one 16-bit file per sample (``tif16``: TIFF; ``zarr16``:
    OME-Zarr), with ``labels.csv``."""
    import tifffile

    (root / "images").mkdir(parents=True)
    by_color = [sorted(PNG_DIR.glob(f"*_{c}.png")) for c in COLORS]
    combos = itertools.cycle(itertools.product(*by_color))
    for k in range(n):
        pixels = np.stack([np.asarray(Image.open(f)) for f in next(combos)]).astype(np.uint16) * np.uint16(257)
        if kind == "tif16":
            tifffile.imwrite(root / "images" / f"s{k:05d}.tif", pixels, photometric="minisblack")
        else:
            import zarr
            from ome_zarr.io import parse_url
            from ome_zarr.writer import write_image

            group = zarr.group(store=parse_url(str(root / "images" / f"s{k:05d}.ome.zarr"), mode="w").store)
            write_image(pixels, group=group, axes="cyx", scale_factors=[], storage_options={"chunks": pixels.shape})
    (root / "labels.csv").write_text("Id,Target\n" + "".join(f"s{k:05d},0\n" for k in range(n)))


def generic_options(root: Path, kind: str):
    from micro_bench_hpa.options import generic_options as options

    pattern = "{id}.tif" if kind == "tif16" else "{id}.ome.zarr"
    return options(root / "images", labels=str(root / "labels.csv"), pattern=pattern, channels=",".join(COLORS),
                   classes="a,b")


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
    ap.add_argument("--formats", default="png", help="comma-separated: png (Kaggle 8-bit PNGs), tif16, zarr16")
    args = ap.parse_args()
    formats = args.formats.split(",")
    if formats != ["png"]:
        return compare_formats(args, formats)
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


def compare_formats(args: argparse.Namespace, formats: list[str]) -> None:
    """One conversion per format and worker count: samples and decoded bytes per CPU-second,
    against the PNG path's in the same run."""
    workers = [int(w) for w in args.workers.split(",")]
    print(f"{args.samples} samples, 4 x 512 px, 512/256/64 px out, {os.cpu_count()} CPUs, {load()}")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        sources = {}
        for kind in formats:
            root = Path(tmp) / kind
            if kind == "png":
                make_source(root, args.samples)
            else:
                make_generic(root, args.samples, kind)
            sources[kind] = root
        per_byte: dict[tuple[str, int], list[float]] = {}
        for rep, w, kind in itertools.product(range(args.repeat), workers, formats):
            dest = Path(tmp) / f"{kind}-w{w}-{rep}.zarr"
            src = sources[kind] if kind == "png" else sources[kind] / "images"
            t, c = time.perf_counter(), cpu_seconds()
            convert(src, dest, resolutions=(512, 256, 64), workers=w, progress=False,
                    generic=None if kind == "png" else generic_options(sources[kind], kind))
            wall, cpu = time.perf_counter() - t, cpu_seconds() - c
            nbytes = args.samples * 4 * 512 * 512 * (1 if kind == "png" else 2)
            per_byte.setdefault((kind, w), []).append(nbytes / cpu)
            print(f"{kind:7s} {w} worker(s): {args.samples / wall:6.1f} samples/s, {args.samples / cpu:6.1f} per "
                  f"CPU-second, {nbytes / cpu / 1e6:6.1f} MB decoded per CPU-second; {load()}")
            shutil.rmtree(dest)
        if "png" in formats:
            for w in workers:
                png = np.median(per_byte[("png", w)])
                for kind in formats:
                    if kind != "png":
                        print(f"{kind} / png, {w} worker(s), decoded bytes per CPU-second (medians): "
                              f"{np.median(per_byte[(kind, w)]) / png:.2f}")


if __name__ == "__main__":
    main()
