"""Performance: 1,000 bootstrap resamples of every metric of a 3,107 x 28 evaluation (the paper's
validation split) on one core, against looping over resamples with the same formulas and with
scikit-learn, in the same process.

Run: ``python benchmarks/perf/bootstrap.py [--resamples 1000] [--loop 30]``. The labels are real
HPA label sets (rows of ``data/hpa/train.csv``), the scores correlated with them. Prints (a) the
vectorised bootstrap of every metric (``micro_bench_metrics.bootstrap.intervals``), (b) the same
resamples one at a time through ``catalog.compute_metrics`` and (c) through scikit-learn, both
timed on ``--loop`` resamples and scaled to ``--resamples``; then the ratios. The looped values
are checked equal to the vectorised ones first. Target: (a) <= 2 s.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, set before numpy
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with (REPO / "data" / "hpa" / "train.csv").open(encoding="utf-8") as fh:
        targets = [row["Target"] for row in csv.DictReader(fh)]
    rng = np.random.default_rng(seed)
    y_true = np.zeros((n, 28), bool)
    for i, j in enumerate(rng.choice(len(targets), n, replace=False)):
        y_true[i, [int(t) for t in targets[j].split()]] = True
    y_score = np.clip(0.3 * y_true + rng.beta(2, 5, y_true.shape), 0, 1).astype(np.float32).astype(np.float64)
    return y_true, y_score, y_score > 0.5


def _sklearn_set():  # noqa: ANN202 - the metric set through scikit-learn, from metrics.py beside
    import importlib.util

    spec = importlib.util.spec_from_file_location("perf_metrics", Path(__file__).with_name("metrics.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._sklearn_all


def main() -> None:
    from micro_bench_metrics.bootstrap import (
        PER_CLASS,
        SCALAR,
        distributions,
        intervals,
        resample_indices,
    )
    from micro_bench_metrics.catalog import compute_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3107)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop", type=int, default=30, help="resamples timed one at a time")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    y_true, y_score, y_pred = _data(args.n, args.seed)
    ids = list(SCALAR + PER_CLASS)

    idx = resample_indices(args.n, args.loop, args.seed)
    vectorised = distributions(ids, y_true, y_score, y_pred, idx)
    for b in range(args.loop):  # the same numbers, or the timing means nothing
        looped = compute_metrics(ids, y_true[idx[b]], y_score[idx[b]], y_pred[idx[b]])
        for m in SCALAR:
            assert np.isclose(vectorised[m][b], looped[m], equal_nan=True), (m, b)

    intervals(ids, y_true, y_score, y_pred, n_resamples=50)  # warm up imports
    t0, c0 = time.perf_counter(), time.process_time()
    intervals(ids, y_true, y_score, y_pred, n_resamples=args.resamples, seed=args.seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    t0 = time.perf_counter()
    for b in range(args.loop):
        compute_metrics(ids, y_true[idx[b]], y_score[idx[b]], y_pred[idx[b]])
    loop = (time.perf_counter() - t0) / args.loop * args.resamples

    sklearn_all = _sklearn_set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        for b in range(args.loop):
            sklearn_all(y_true[idx[b]], y_score[idx[b]], y_pred[idx[b]])
        sk = (time.perf_counter() - t0) / args.loop * args.resamples

    print(f"{args.resamples} bootstrap resamples of {len(ids)} metrics on {args.n} x 28 "
          f"({int(y_true.sum())} positives), one core:")
    print(f"  vectorised (micro_bench_metrics.bootstrap):   {wall:7.2f} s wall, {cpu:.2f} s CPU")
    print(f"  loop over resamples, same formulas:           {loop:7.2f} s (from {args.loop} resamples)")
    print(f"  loop over resamples, scikit-learn:            {sk:7.2f} s (from {args.loop} resamples)")
    print(f"  speed-up: x{loop / wall:.1f} vs the formulas' loop, x{sk / wall:.1f} vs scikit-learn's")


if __name__ == "__main__":
    main()
