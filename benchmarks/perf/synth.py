"""hpa_synth rendering speed, one thread: samples per second at each resolution.

Targets (issue 4): >= 200 samples/s at 64 px and >= 20 samples/s at 512 px on one core.

    python benchmarks/perf/synth.py [--n 200] [--resolutions 64,256,512]
"""

from __future__ import annotations

import argparse
import time

from threadpoolctl import threadpool_limits

from micro_bench_hpa.synth.generate import synth_labels
from micro_bench_hpa.synth.heap import retain_freed_buffers
from micro_bench_hpa.synth.render import render_batch

TARGETS = {64: 200.0, 512: 20.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="samples per resolution (512 px uses n/4)")
    ap.add_argument("--resolutions", default="64,256,512")
    ap.add_argument("--difficulty", type=float, default=0.5)
    args = ap.parse_args()
    _, labels = synth_labels(args.n, 0)
    with threadpool_limits(1):
        render_batch(labels[:2], resolution=64, seed=0)  # warm caches
        for mode in ("library call (malloc untouched)", "`data synth` (retain_freed_buffers)"):
            if mode.startswith("`data synth`"):
                retain_freed_buffers()
            print(mode)
            for r in (int(v) for v in args.resolutions.split(",")):
                n = max(5, args.n * 64 // max(r, 64) if r > 256 else args.n)
                t = time.perf_counter()
                render_batch(labels[:n], resolution=r, seed=0, difficulty=args.difficulty)
                rate = n / (time.perf_counter() - t)
                target = TARGETS.get(r)
                verdict = "" if target is None else f"  (target {target:.0f}: {'ok' if rate >= target else 'below'})"
                print(f"  {r:4d} px  {rate:8.1f} samples/s  over {n} samples{verdict}")


if __name__ == "__main__":
    main()
