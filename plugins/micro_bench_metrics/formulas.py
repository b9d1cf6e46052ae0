"""The paper's metric set as vectorized numpy over ``(N, K)`` arrays: every formula lives here once.

Inputs everywhere are ``y_true (N, K) bool``, ``y_score (N, K) float`` (probabilities) and
``y_pred (N, K) bool``. :class:`MetricInputs` validates them once and caches what several metrics
share: the per-class confusion counts ``tp, fp, fn`` (each ``(K,) int64``) and the per-class
average ranks of the scores used by ROC-AUC.

Classes without positives (HPA's rare classes make this common in a 10 % split):

* precision, recall, F1 follow scikit-learn's ``zero_division=0``: a ratio whose denominator is
  0 counts as 0, and such a class **stays in** the macro mean (K classes always). F1 is
  ``2 tp / (2 tp + fp + fn)``, 0 when that denominator is 0.
* ROC-AUC is undefined for a class whose ``y_true`` column is constant (no positives or no
  negatives); PR-AUC (average precision) is undefined for a class with no positives. Undefined
  classes are **excluded** from the macro mean (the mean is over the defined classes only;
  ``nan`` if none is defined). :func:`auc_excluded_classes` returns how many classes the macro
  ROC-AUC left out; the runner records it like any metric. Micro averages pool all ``N * K``
  decisions, so they are undefined only if the pooled labels are constant (then ``nan``).
* Hamming loss is the mean of ``y_true != y_pred`` over all ``N * K`` entries.

ROC-AUC is the Mann-Whitney statistic with average ranks for ties, identical to
``sklearn.metrics.roc_auc_score``; PR-AUC is the step-wise average precision of
``sklearn.metrics.average_precision_score`` (no interpolation), both checked in the tests.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from scipy.stats import rankdata

__all__ = [
    "MetricInputs",
    "auc_excluded_classes",
    "average_precision_per_class",
    "confusion_counts",
    "roc_auc_per_class",
]


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float64, 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class ``(tp, fp, fn)``, each ``(K,) int64``, from ``(N, K) bool`` arrays."""
    tp = np.count_nonzero(y_true & y_pred, axis=0).astype(np.int64)
    pred_pos = np.count_nonzero(y_pred, axis=0).astype(np.int64)
    true_pos = np.count_nonzero(y_true, axis=0).astype(np.int64)
    return tp, pred_pos - tp, true_pos - tp


def roc_auc_per_class(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """``(K,) float64`` ROC-AUC of each column; ``nan`` where the column of ``y_true`` is constant.

    Mann-Whitney: ``(sum of positive ranks - P (P + 1) / 2) / (P * Q)`` with average ranks.
    """
    ranks = rankdata(y_score, axis=0, method="average")
    n_pos = y_true.sum(axis=0, dtype=np.float64)
    n_neg = y_true.shape[0] - n_pos
    rank_sum = np.where(y_true, ranks, 0.0).sum(axis=0)
    den = n_pos * n_neg
    auc = np.full(y_true.shape[1], np.nan)
    np.divide(rank_sum - n_pos * (n_pos + 1) / 2, den, out=auc, where=den > 0)
    return auc


def average_precision_per_class(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """``(K,) float64`` average precision of each column; ``nan`` where a column has no positives.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds, as scikit-learn: every
    positive contributes ``precision / P`` at the end of its group of tied scores.
    """
    n, k = y_true.shape
    order = np.argsort(-y_score, axis=0, kind="stable")
    score = np.take_along_axis(y_score, order, axis=0)
    hit = np.take_along_axis(y_true, order, axis=0)
    tp = np.cumsum(hit, axis=0, dtype=np.float64)
    precision = tp / np.arange(1, n + 1, dtype=np.float64)[:, None]
    # Index of the last row of each tie group, propagated backwards to every row of the group.
    is_end = np.ones((n, k), dtype=bool)
    is_end[:-1] = score[:-1] != score[1:]
    end_idx = np.where(is_end, np.arange(n)[:, None], n - 1)
    end_idx = np.minimum.accumulate(end_idx[::-1], axis=0)[::-1]
    group_precision = np.take_along_axis(precision, end_idx, axis=0)
    n_pos = tp[-1] if n else np.zeros(k)
    ap = np.full(k, np.nan)
    np.divide(np.where(hit, group_precision, 0.0).sum(axis=0), n_pos, out=ap, where=n_pos > 0)
    return ap


def _nanmean_or_nan(values: np.ndarray) -> float:
    """Mean of the finite entries; ``nan`` if there are none (no warning)."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


class MetricInputs:
    """Validated ``(y_true, y_score, y_pred)`` with lazily cached shared intermediates.

    Args:
        y_true: ``(N, K)`` bool (or 0/1 numbers).
        y_score: ``(N, K)`` float, finite.
        y_pred: ``(N, K)`` bool (or 0/1 numbers).

    Raises:
        ValueError: shapes differ, are not 2-D, labels are not 0/1, or scores are not finite.
    """

    def __init__(self, y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> None:
        arrays = {"y_true": np.asarray(y_true), "y_score": np.asarray(y_score), "y_pred": np.asarray(y_pred)}
        shapes = {name: a.shape for name, a in arrays.items()}
        if len(set(shapes.values())) != 1 or arrays["y_true"].ndim != 2:
            raise ValueError(f"metrics: expected y_true, y_score, y_pred of one (N, K) shape, got {shapes}")
        for name in ("y_true", "y_pred"):
            a = arrays[name]
            if a.dtype != bool and not np.isin(a, (0, 1)).all():
                raise ValueError(f"metrics: {name} must be bool or 0/1, got values outside {{0, 1}}")
        if not np.isfinite(arrays["y_score"]).all():
            raise ValueError("metrics: y_score contains nan or inf")
        self.y_true = arrays["y_true"].astype(bool, copy=False)
        self.y_pred = arrays["y_pred"].astype(bool, copy=False)
        self.y_score = arrays["y_score"].astype(np.float64, copy=False)

    @cached_property
    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-class ``(tp, fp, fn)``, each ``(K,) int64``."""
        return confusion_counts(self.y_true, self.y_pred)

    # ---- per class -------------------------------------------------------------------------
    def precision(self) -> np.ndarray:
        tp, fp, _ = self.counts
        return _safe_ratio(tp, tp + fp)

    def recall(self) -> np.ndarray:
        tp, _, fn = self.counts
        return _safe_ratio(tp, tp + fn)

    def f1(self) -> np.ndarray:
        tp, fp, fn = self.counts
        return _safe_ratio(2 * tp, 2 * tp + fp + fn)

    def support(self) -> np.ndarray:
        tp, _, fn = self.counts
        return (tp + fn).astype(np.float64)

    @cached_property
    def roc_auc(self) -> np.ndarray:
        return roc_auc_per_class(self.y_true, self.y_score)

    @cached_property
    def average_precision(self) -> np.ndarray:
        return average_precision_per_class(self.y_true, self.y_score)

    # ---- averages --------------------------------------------------------------------------
    def micro_prf(self) -> tuple[float, float, float]:
        """Micro ``(precision, recall, f1)`` from the pooled counts."""
        tp, fp, fn = (int(c.sum()) for c in self.counts)
        p, r, f = _safe_ratio(np.array([tp, tp, 2 * tp]), np.array([tp + fp, tp + fn, 2 * tp + fp + fn]))
        return float(p), float(r), float(f)

    def roc_auc_micro(self) -> float:
        return float(roc_auc_per_class(self.y_true.reshape(-1, 1), self.y_score.reshape(-1, 1))[0])

    def pr_auc_micro(self) -> float:
        return float(average_precision_per_class(self.y_true.reshape(-1, 1), self.y_score.reshape(-1, 1))[0])

    def roc_auc_macro(self) -> float:
        return _nanmean_or_nan(self.roc_auc)

    def pr_auc_macro(self) -> float:
        return _nanmean_or_nan(self.average_precision)

    def hamming_loss(self) -> float:
        return float(np.mean(self.y_true != self.y_pred)) if self.y_true.size else float("nan")


def auc_excluded_classes(inputs: MetricInputs) -> int:
    """How many classes the macro ROC-AUC excluded (constant ``y_true`` column)."""
    return int(np.isnan(inputs.roc_auc).sum())
