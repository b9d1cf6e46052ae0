"""Serial against ``--executor dask`` on one benchmark, in one invocation: wall time and ratio.

Each repetition runs the whole benchmark twice from the command line, into fresh results folders,
once with the default serial executor and once with ``--executor dask --workers N`` (a local
cluster, started and stopped inside the timed command: what a user waits for), alternating
which goes first. It checks that both give the same run keys and the same metrics, and prints
each wall time with the 1-minute load average before it (the datasets are built once before,
untimed), and the ratio dask / serial (per
repetition and of the medians; < 1: dask is faster). Run it under ``flock /work/wt/quiet.lock``
on a shared machine.

    python benchmarks/perf/executors.py                                # Table I smoke, 4 rows
    python benchmarks/perf/executors.py hpa_table2 --profile smoke --repeat 3
    python benchmarks/perf/executors.py benchmarks/hpa_table1.yaml --set trainer.n_jobs=1 \\
        --set dataset.n=4000                                           # longer CPU-bound rows

The defaults are the Table I smoke rows with the ``lbfgs`` solver (4 logistic regressions of a
few seconds each on 1,200 ``hpa_synth`` samples).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: argparse.Namespace, out: Path, dask: bool) -> tuple[float, float, dict[str, object]]:
    """``(wall seconds, load average before, {key: metrics})`` of one whole benchmark run."""
    cmd = [sys.executable, "-m", "micro_bench", "-q", "run", args.file, "--no-progress", "--json",
           "--out", str(out), *(["--profile", args.profile] if args.profile else []),
           *[x for kv in args.overrides for x in ("--set", kv)], *[x for r in args.only for x in ("--run", r)]]
    if dask:
        cmd += ["--executor", "dask", "--workers", str(args.workers), "--threads-per-run", str(args.threads_per_run)]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    return wall, load, {r["key"]: r["metrics"] for r in report["runs"]}


def prepare(args: argparse.Namespace) -> None:
    """Build each dataset the rows use once, untimed: a ``hpa_synth`` store of a new size is
    generated (and cached) on first use, which must not count against whichever runs first."""
    from micro_bench.api import load_benchmark
    from micro_bench.host import Host
    from micro_bench.runner import build_dataset

    host = Host.load()
    config = load_benchmark(args.file, profile=args.profile, overrides=args.overrides, host=host)
    seen = set()
    for cfg in config.runs:
        if repr(cfg.dataset.to_dict()) not in seen:
            seen.add(repr(cfg.dataset.to_dict()))
            build_dataset(cfg, host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", default="benchmarks/hpa_table1.yaml")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE")
    parser.add_argument("--run", dest="only", action="append", default=[], metavar="LABEL",
                        help="only this row (repeatable), as micro-bench run --run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-run", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if args.overrides is None:
        args.overrides = ["model.solver=lbfgs"]
    prepare(args)
    times: dict[str, list[float]] = {"serial": [], "dask": []}
    print(f"{args.file} profile={args.profile} set={args.overrides} rows={args.only or 'all'} workers={args.workers} "
          f"threads_per_run={args.threads_per_run} cores={os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):
            order = ("serial", "dask") if rep % 2 == 0 else ("dask", "serial")
            metrics = {}
            for name in order:
                wall, load, metrics[name] = run(args, Path(tmp) / f"{name}{rep}", dask=name == "dask")
                times[name].append(wall)
                print(f"  rep {rep + 1} {name:>6}: {wall:6.1f} s  (load {load:.2f}, {len(metrics[name])} runs)")
            if metrics["serial"] != metrics["dask"]:
                sys.exit("serial and dask results differ (keys or metrics)")
            print(f"  rep {rep + 1} ratio dask / serial: {times['dask'][-1] / times['serial'][-1]:.2f}  (same keys and metrics)")
    serial, dask = statistics.median(times["serial"]), statistics.median(times["dask"])
    print(f"median: serial {serial:.1f} s, dask {dask:.1f} s, ratio dask / serial {dask / serial:.2f}")


if __name__ == "__main__":
    main()
