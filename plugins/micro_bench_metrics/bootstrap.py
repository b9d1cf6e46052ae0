"""Bootstrap distributions of the metric set, vectorised over resamples.

A bootstrap resample of the ``N`` evaluated samples is a multiset: sample ``i`` appears ``w_i``
times (``w`` a row of :func:`resample_weights`, ``sum(w) = N``). Every metric of
:mod:`micro_bench_metrics.formulas` on the resampled data is a function of the weights:

* thresholded metrics from weighted confusion counts, ``tp = W @ (y_true & y_pred)`` (one matrix
  product for all resamples);
* ROC-AUC and average precision from the one descending sort of the original scores: copies of a
  sample tie with each other, so a resample keeps the original tie groups and only the weighted
  cumulative counts change (cumulative sums over the sorted negatives and positives).

So the ``(B,)`` values equal the formulas (and scikit-learn) on ``y[idx]`` for each resample's
indices ``idx``, without a Python loop over resamples (checked in tests/plugins/metrics/test_bootstrap.py).
Intervals are percentile intervals (see docs/metrics.md "Reading a table" for why not BCa).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SCALAR", "PER_CLASS", "Interval", "WeightedMetrics", "distributions", "intervals",
           "percentile_interval", "resample_indices", "resample_weights"]

#: Scalar metric ids the bootstrap computes.
SCALAR = ("precision_macro", "recall_macro", "f1_macro", "roc_auc_macro", "pr_auc_macro", "precision_micro",
          "recall_micro", "f1_micro", "roc_auc_micro", "pr_auc_micro", "hamming_loss", "auc_excluded_classes")
#: Per-class metric ids the bootstrap computes (``(B, K)`` distributions).
PER_CLASS = ("per_class_precision", "per_class_recall", "per_class_f1", "per_class_support", "per_class_roc_auc")
#: Resamples handled at once by the rank-based metrics (bounds memory at about 8 * CHUNK * (N + 2 * positives) bytes).
CHUNK = 200


def resample_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """``(B, n) int64`` bootstrap indices, drawn as ``scipy.stats.bootstrap`` draws them
    (``np.random.default_rng(seed).integers(0, n, (B, n))``)."""
    return np.random.default_rng(seed).integers(0, n, (n_resamples, n))


def resample_weights(indices: np.ndarray, n: int) -> np.ndarray:
    """``(B, n) float64`` multiplicities: how often each sample occurs in each resample."""
    b = indices.shape[0]
    flat = (indices + np.arange(b)[:, None] * n).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass(frozen=True)
class _Column:
    """One score column sorted descending, reduced to what the rank metrics need.

    ``pos``: the samples of its positives in score order. Each positive needs the (weighted)
    number of negatives before its tie group and up to its group's end: both are cumulative
    negative counts at a "cut" position; ``cut_before``/``cut_end`` index the sorted distinct
    cuts. ``neg``/``block``: each negative's sample and the block (run of negatives between two
    cuts) it falls in; ``n_blocks`` blocks, the last after every cut. ``pos_end``: positives up
    to the end of each positive's group (for precision)."""

    pos: np.ndarray
    pos_end: np.ndarray
    cut_before: np.ndarray
    cut_end: np.ndarray
    neg: np.ndarray
    block: np.ndarray
    n_blocks: int


def _column(y_true: np.ndarray, y_score: np.ndarray, samples: np.ndarray) -> _Column:
    order = np.argsort(-y_score, kind="stable")
    score, hit = y_score[order], y_true[order]
    n = len(order)
    new_group = np.ones(n, bool)
    new_group[1:] = score[1:] != score[:-1]
    group = np.cumsum(new_group) - 1
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], n)  # one past each group's last position
    before, end = starts[group][hit], ends[group][hit]  # negatives at positions < these counted
    cuts = np.unique(np.concatenate([before, end]))
    positions = np.flatnonzero(~hit)
    return _Column(pos=samples[order[hit]], pos_end=np.cumsum(hit)[ends[group][hit] - 1],
                   cut_before=np.searchsorted(cuts, before), cut_end=np.searchsorted(cuts, end),
                   neg=samples[order[~hit]], block=np.searchsorted(cuts, positions, side="right"),
                   n_blocks=len(cuts) + 1)


def _rank_metrics(col: _Column, wp: np.ndarray, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B,)`` ROC-AUC and average precision of one column from the positives' weights
    ``wp (n_pos, B)`` and the negatives' block sums ``blocks (n_blocks, B)``."""
    b = blocks.shape[1]
    cn = np.cumsum(blocks, axis=0)  # cn[j]: negatives before cut j (blocks 0..j); cn[-1]: all
    n_neg = cn[-1]
    cp = np.zeros((len(col.pos) + 1, b))
    np.cumsum(wp, axis=0, out=cp[1:])
    n_pos = cp[-1]
    neg_end = cn[col.cut_end]
    u = (wp * (n_neg - 0.5 * (cn[col.cut_before] + neg_end))).sum(axis=0)
    den = n_pos * n_neg
    auc = np.full(b, np.nan)
    np.divide(u, den, out=auc, where=den > 0)
    tp_end = cp[col.pos_end]
    precision = _safe_ratio(tp_end, tp_end + neg_end)
    ap = np.full(b, np.nan)
    np.divide((wp * precision).sum(axis=0), n_pos, out=ap, where=n_pos > 0)
    return auc, ap


def _block_matrix(cols: list[_Column], n: int) -> tuple[Any, np.ndarray]:
    """The sparse ``(sum n_blocks, n)`` matrix that sums the weights of each column's negatives
    per block (one product for all columns), and each column's first block row."""
    from scipy import sparse

    offsets = np.cumsum([0] + [c.n_blocks for c in cols])
    rows = np.concatenate([c.block + off for c, off in zip(cols, offsets, strict=False)])
    samples = np.concatenate([c.neg for c in cols])
    matrix = sparse.csr_matrix((np.ones(len(rows)), (rows, samples)), shape=(int(offsets[-1]), n))
    return matrix, offsets


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Mean of the defined entries of each row; nan where a row has none (no warning)."""
    defined = ~np.isnan(values)
    count = defined.sum(axis=1)
    out = np.full(values.shape[0], np.nan)
    np.divide(np.where(defined, values, 0.0).sum(axis=1), count, out=out, where=count > 0)
    return out


class WeightedMetrics:
    """The metric set of ``(y_true, y_score, y_pred) (N, K)`` under resampling weights.

    Args:
        y_true, y_score, y_pred: the evaluated samples (``y_true``/``y_pred`` bool).
        weights: ``(B, N)`` multiplicities (:func:`resample_weights`); a row of ones gives the
            metrics of :mod:`micro_bench_metrics.formulas` on the data itself.
    """

    def __init__(self, y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray, weights: np.ndarray) -> None:
        self.y_true = np.asarray(y_true, bool)
        self.y_score = np.asarray(y_score, np.float64)
        self.y_pred = np.asarray(y_pred, bool)
        self.w = np.asarray(weights, np.float64)
        n, self.k = self.y_true.shape
        yt, yp = self.y_true.astype(np.float64), self.y_pred.astype(np.float64)
        self.tp = self.w @ (yt * yp)
        self.pred_pos = self.w @ yp
        self.true_pos = self.w @ yt
        self.wrong = self.w @ (self.y_true != self.y_pred).sum(axis=1).astype(np.float64)
        self.n = n
        self._ranked: tuple[np.ndarray, np.ndarray] | None = None
        self._ranked_micro: tuple[np.ndarray, np.ndarray] | None = None

    # ---- thresholded ---------------------------------------------------------------------
    def precision(self) -> np.ndarray:
        return _safe_ratio(self.tp, self.pred_pos)

    def recall(self) -> np.ndarray:
        return _safe_ratio(self.tp, self.true_pos)

    def f1(self) -> np.ndarray:
        return _safe_ratio(2 * self.tp, self.pred_pos + self.true_pos)

    def micro(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tp, pp, tpos = self.tp.sum(axis=1), self.pred_pos.sum(axis=1), self.true_pos.sum(axis=1)
        return _safe_ratio(tp, pp), _safe_ratio(tp, tpos), _safe_ratio(2 * tp, pp + tpos)

    # ---- ranked --------------------------------------------------------------------------
    def _chunks(self, cols: list[_Column]) -> tuple[np.ndarray, np.ndarray]:
        b = self.w.shape[0]
        auc, ap = np.empty((b, len(cols))), np.empty((b, len(cols)))
        matrix, offsets = _block_matrix(cols, self.n)
        for lo in range(0, b, CHUNK):
            wt = np.ascontiguousarray(self.w[lo:lo + CHUNK].T)  # (n, chunk): samples along rows
            blocks = np.asarray(matrix @ wt)
            for j, col in enumerate(cols):
                auc[lo:lo + CHUNK, j], ap[lo:lo + CHUNK, j] = _rank_metrics(
                    col, wt[col.pos], blocks[offsets[j]:offsets[j + 1]])
        return auc, ap

    def ranked(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B, K)`` per-class ROC-AUC and average precision."""
        if self._ranked is None:
            samples = np.arange(self.n)
            self._ranked = self._chunks([_column(self.y_true[:, k], self.y_score[:, k], samples)
                                         for k in range(self.k)])
        return self._ranked

    def ranked_micro(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B,)`` micro ROC-AUC and average precision (all ``N * K`` scores as one column)."""
        if self._ranked_micro is None:
            col = _column(self.y_true.ravel(), self.y_score.ravel(), np.repeat(np.arange(self.n), self.k))
            auc, ap = self._chunks([col])
            self._ranked_micro = auc[:, 0], ap[:, 0]
        return self._ranked_micro

    def value(self, metric_id: str) -> np.ndarray:
        """``(B,)`` for a scalar metric id, ``(B, K)`` for a per-class one."""
        if metric_id in _VALUES:
            return _VALUES[metric_id](self)
        raise KeyError(f"no bootstrap for metric {metric_id!r}; available: {', '.join(_VALUES)}")


_VALUES = {
    "precision_macro": lambda m: m.precision().mean(axis=1),
    "recall_macro": lambda m: m.recall().mean(axis=1),
    "f1_macro": lambda m: m.f1().mean(axis=1),
    "roc_auc_macro": lambda m: _nanmean_rows(m.ranked()[0]),
    "pr_auc_macro": lambda m: _nanmean_rows(m.ranked()[1]),
    "precision_micro": lambda m: m.micro()[0],
    "recall_micro": lambda m: m.micro()[1],
    "f1_micro": lambda m: m.micro()[2],
    "roc_auc_micro": lambda m: m.ranked_micro()[0],
    "pr_auc_micro": lambda m: m.ranked_micro()[1],
    "hamming_loss": lambda m: m.wrong / (m.n * m.k),
    "auc_excluded_classes": lambda m: np.isnan(m.ranked()[0]).sum(axis=1).astype(np.float64),
    "per_class_precision": lambda m: m.precision(),
    "per_class_recall": lambda m: m.recall(),
    "per_class_f1": lambda m: m.f1(),
    "per_class_support": lambda m: m.true_pos,
    "per_class_roc_auc": lambda m: m.ranked()[0],
}


def distributions(metric_ids: Iterable[str], y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray,
                  indices: np.ndarray) -> dict[str, np.ndarray]:
    """The bootstrap distribution of each metric id this module knows (others are skipped):
    ``(B,)`` or ``(B, K)`` over the resamples ``indices (B, N)``."""
    n = np.asarray(y_true).shape[0]
    m = WeightedMetrics(y_true, y_score, y_pred, resample_weights(indices, n))
    return {metric_id: m.value(metric_id) for metric_id in metric_ids if metric_id in _VALUES}


def percentile_interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` percentile interval over axis 0 (resamples where the metric is undefined,
    nan, left out; nan where none is defined). Same percentiles as ``scipy.stats.bootstrap``'s
    ``method="percentile"`` (``np.percentile``, linear interpolation)."""
    alpha = (1 - level) / 2
    values = np.asarray(values, np.float64)
    with np.errstate(all="ignore"):
        if not np.isnan(values).any():
            low, high = np.percentile(values, [100 * alpha, 100 * (1 - alpha)], axis=0)
        else:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-nan column: nan, said below
                low, high = np.nanpercentile(values, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return low, high


@dataclass(frozen=True)
class Interval:
    """A metric's bootstrap interval: ``low``, ``high`` (scalars, or ``(K,)`` per class)."""

    low: float | np.ndarray
    high: float | np.ndarray


def intervals(metric_ids: Iterable[str], y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray, *,
              n_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> Mapping[str, Interval]:
    """Percentile bootstrap intervals of every metric id this module knows, over the ``N``
    evaluated samples (one set of resamples for all metrics)."""
    idx = resample_indices(np.asarray(y_true).shape[0], n_resamples, seed)
    out = {}
    for metric_id, values in distributions(metric_ids, y_true, y_score, y_pred, idx).items():
        low, high = percentile_interval(values, level)
        out[metric_id] = Interval(low if np.ndim(low) else float(low), high if np.ndim(high) else float(high))
    return out
