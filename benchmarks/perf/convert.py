"""Conversion throughput against the PNG-decode bound, on 1 and 2 local workers.

The bound: one core decoding four 512x512 PNGs per sample with PIL (nothing else), times the
number of workers. Inputs: real HPA PNGs from tests/data/hpa_png/ grouped four at a time into
stand-in samples (see tests/data/README.md).

    python benchmarks/perf/convert.py [--samples 64]
"""

from __future__ import annotations

import argparse
import itertools
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_source(Path(tmp) / "src", args.samples)
        t = time.perf_counter()
        for f in files:
            np.asarray(Image.open(f))
        bound = args.samples / (time.perf_counter() - t)
        print(f"PNG-decode bound: {bound:7.1f} samples/s per worker ({4 * bound:.0f} channel-PNGs/s)")
        for workers in (1, 2):
            dest = Path(tmp) / f"w{workers}.zarr"
            t = time.perf_counter()
            convert(Path(tmp) / "src", dest, resolutions=(512, 256, 64), workers=workers, progress=False)
            got = args.samples / (time.perf_counter() - t)
            print(f"convert 512,256,64 on {workers} worker(s): {got:7.1f} samples/s = "
                  f"{got / (bound * workers):.2f} of the bound")


if __name__ == "__main__":
    main()
