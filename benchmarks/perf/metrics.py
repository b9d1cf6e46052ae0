"""Performance: the whole metric set on 3,107 x 28 (the paper's validation split) against calling
scikit-learn once per metric, in the same process.

Run: ``python benchmarks/perf/metrics.py [--repeat 20]``. Prints the median milliseconds of
(a) ``compute_metrics`` over every id (shared counts and ranks), (b) the metric callables as the
runner calls them (``micro_bench.evaluate.compute_metrics`` over a fresh ``Scores`` per
evaluation: they share the validated inputs through its stash after the first metric), (c) each
callable on its own arrays (no sharing), and (d) scikit-learn, one call per metric; then the
ratios. Target: (a) and (b) well under 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np


def _data(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HPA-like labels: per-class prevalence from 40 % down to 0.03 %, scores correlated with them."""
    rng = np.random.default_rng(seed)
    prevalence = np.geomspace(0.4, 0.0003, k)
    y_true = rng.random((n, k)) < prevalence
    y_score = np.clip(0.3 * y_true + rng.beta(2, 5, (n, k)), 0, 1)
    return y_true, y_score, y_score >= 0.5


def _sklearn_all(y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> dict[str, object]:
    from sklearn import metrics as skm

    defined = (y_true.sum(0) > 0) & (y_true.sum(0) < len(y_true))
    out: dict[str, object] = {}
    for avg in ("macro", "micro"):
        out[f"precision_{avg}"] = skm.precision_score(y_true, y_pred, average=avg, zero_division=0)
        out[f"recall_{avg}"] = skm.recall_score(y_true, y_pred, average=avg, zero_division=0)
        out[f"f1_{avg}"] = skm.f1_score(y_true, y_pred, average=avg, zero_division=0)
    out["roc_auc_macro"] = skm.roc_auc_score(y_true[:, defined], y_score[:, defined], average="macro")
    out["pr_auc_macro"] = skm.average_precision_score(y_true[:, defined], y_score[:, defined], average="macro")
    out["roc_auc_micro"] = skm.roc_auc_score(y_true, y_score, average="micro")
    out["pr_auc_micro"] = skm.average_precision_score(y_true, y_score, average="micro")
    out["hamming_loss"] = skm.hamming_loss(y_true, y_pred)
    for name, values in zip(("precision", "recall", "f1", "support"),
                            skm.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0), strict=True):
        out[f"per_class_{name}"] = values
    out["per_class_roc_auc"] = skm.roc_auc_score(y_true[:, defined], y_score[:, defined], average=None)
    return out


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up imports and caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    from micro_bench.contract import Scores
    from micro_bench.evaluate import compute_metrics as run_metrics
    from micro_bench_metrics.catalog import Metric, compute_metrics, metric_ids

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3107)
    parser.add_argument("--k", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    y_true, y_score, y_pred = _data(args.n, args.k, args.seed)
    ids = metric_ids()
    callables = {m: Metric(m) for m in ids}
    thresholds = np.full(args.k, 0.5)
    classes = tuple(str(k) for k in range(args.k))

    shared = _median_ms(lambda: compute_metrics(ids, y_true, y_score, y_pred), args.repeat)
    # a new evaluation each repeat: nothing cached from the previous one
    runner = _median_ms(lambda: run_metrics(callables, Scores(y_true, y_score, thresholds, y_pred, classes)),
                        args.repeat)
    separate = _median_ms(lambda: [m(y_true, y_score, y_pred) for m in callables.values()], args.repeat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = _median_ms(lambda: _sklearn_all(y_true, y_score, y_pred), args.repeat)
        ours, ref = compute_metrics(ids, y_true, y_score, y_pred), _sklearn_all(y_true, y_score, y_pred)
    for name in ("f1_macro", "roc_auc_macro", "pr_auc_micro", "hamming_loss"):
        assert np.isclose(ours[name], ref[name]), name  # same numbers, or the timing means nothing

    print(f"metric set ({len(ids)} ids) on {args.n} x {args.k}, median of {args.repeat}:")
    print(f"  micro-bench compute_metrics (shared):   {shared:8.2f} ms")
    print(f"  micro-bench as the runner calls them:   {runner:8.2f} ms")
    print(f"  micro-bench, each callable on its own:  {separate:8.2f} ms")
    print(f"  scikit-learn, one call per metric:      {reference:8.2f} ms")
    print(f"  speed-up vs scikit-learn: shared x{reference / shared:.1f}, runner x{reference / runner:.1f}, "
          f"each on its own x{reference / separate:.1f}")


if __name__ == "__main__":
    main()
