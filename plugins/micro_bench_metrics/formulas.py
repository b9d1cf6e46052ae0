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

Both AUCs come from one descending sort of the scores per column (:func:`rank_scores`): ROC-AUC
is the Mann-Whitney statistic with ties counted half, identical to
``sklearn.metrics.roc_auc_score``; PR-AUC is the step-wise average precision of
``sklearn.metrics.average_precision_score`` (no interpolation), both checked in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    "MetricInputs",
    "Ranking",
    "auc_excluded_classes",
    "average_precision_from_ranking",
    "average_precision_per_class",
    "confusion_counts",
    "rank_scores",
    "roc_auc_from_ranking",
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


@dataclass(frozen=True)
class Ranking:
    """Scores sorted descending per column, shared by ROC-AUC and average precision.

    Attributes (all ``(N, K)``): ``hit`` bool labels in score order; ``tp``/``fp`` inclusive
    cumulative positives/negatives; ``tp_end``/``fp_end`` those counts at the end of each row's
    group of tied scores; ``fp_start`` negatives strictly before the row's tie group.
    ``n_pos``/``n_neg`` are ``(K,) float64``.
    """

    hit: np.ndarray
    tp_end: np.ndarray
    fp_end: np.ndarray
    fp_start: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray


def rank_scores(y_true: np.ndarray, y_score: np.ndarray) -> Ranking:
    """One sort of ``(N, K)`` scores (descending) with tie groups resolved, see :class:`Ranking`."""
    n, k = y_true.shape
    order = np.argsort(-y_score, axis=0)
    score = np.take_along_axis(y_score, order, axis=0)
    hit = np.take_along_axis(y_true, order, axis=0)
    tp = np.cumsum(hit, axis=0, dtype=np.float64)
    fp = np.arange(1, n + 1, dtype=np.float64)[:, None] - tp
    rows = np.arange(n)[:, None]
    new_group = np.ones((n, k), dtype=bool)
    new_group[1:] = score[1:] != score[:-1]
    is_end = np.ones((n, k), dtype=bool)
    is_end[:-1] = new_group[1:]
    # Last row of each tie group, propagated backwards; first row, propagated forwards.
    end_idx = np.minimum.accumulate(np.where(is_end, rows, n - 1)[::-1], axis=0)[::-1]
    start_idx = np.maximum.accumulate(np.where(new_group, rows, 0), axis=0)
    fp_excl = fp - ~hit
    n_pos = tp[-1] if n else np.zeros(k)
    return Ranking(
        hit=hit,
        tp_end=np.take_along_axis(tp, end_idx, axis=0),
        fp_end=np.take_along_axis(fp, end_idx, axis=0),
        fp_start=np.take_along_axis(fp_excl, start_idx, axis=0),
        n_pos=n_pos,
        n_neg=n - n_pos,
    )


def roc_auc_from_ranking(r: Ranking) -> np.ndarray:
    """``(K,) float64`` ROC-AUC; ``nan`` where a column has no positives or no negatives.

    Mann-Whitney: each positive counts the negatives scored below it plus half the tied ones.
    """
    below_or_tied = r.n_neg - 0.5 * (r.fp_end + r.fp_start)
    u = np.where(r.hit, below_or_tied, 0.0).sum(axis=0)
    den = r.n_pos * r.n_neg
    auc = np.full(r.n_pos.shape, np.nan)
    np.divide(u, den, out=auc, where=den > 0)
    return auc


def average_precision_from_ranking(r: Ranking) -> np.ndarray:
    """``(K,) float64`` average precision; ``nan`` where a column has no positives.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds, as scikit-learn: every
    positive contributes ``precision / P`` at the end of its group of tied scores.
    """
    precision = r.tp_end / (r.tp_end + r.fp_end)
    ap = np.full(r.n_pos.shape, np.nan)
    np.divide(np.where(r.hit, precision, 0.0).sum(axis=0), r.n_pos, out=ap, where=r.n_pos > 0)
    return ap


def roc_auc_per_class(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """``(K,) float64`` ROC-AUC of each column of ``(N, K)`` inputs (``nan`` if undefined)."""
    return roc_auc_from_ranking(rank_scores(y_true, y_score))


def average_precision_per_class(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """``(K,) float64`` average precision of each column of ``(N, K)`` inputs (``nan`` if undefined)."""
    return average_precision_from_ranking(rank_scores(y_true, y_score))


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
    def ranking(self) -> Ranking:
        """Per-class sorted scores, shared by ROC-AUC and PR-AUC."""
        return rank_scores(self.y_true, self.y_score)

    @cached_property
    def ranking_micro(self) -> Ranking:
        """All ``N * K`` scores sorted as one column."""
        return rank_scores(self.y_true.reshape(-1, 1), self.y_score.reshape(-1, 1))

    @cached_property
    def roc_auc(self) -> np.ndarray:
        return roc_auc_from_ranking(self.ranking)

    @cached_property
    def average_precision(self) -> np.ndarray:
        return average_precision_from_ranking(self.ranking)

    # ---- averages --------------------------------------------------------------------------
    def micro_prf(self) -> tuple[float, float, float]:
        """Micro ``(precision, recall, f1)`` from the pooled counts."""
        tp, fp, fn = (int(c.sum()) for c in self.counts)
        p, r, f = _safe_ratio(np.array([tp, tp, 2 * tp]), np.array([tp + fp, tp + fn, 2 * tp + fp + fn]))
        return float(p), float(r), float(f)

    def roc_auc_micro(self) -> float:
        return float(roc_auc_from_ranking(self.ranking_micro)[0])

    def pr_auc_micro(self) -> float:
        return float(average_precision_from_ranking(self.ranking_micro)[0])

    def roc_auc_macro(self) -> float:
        return _nanmean_or_nan(self.roc_auc)

    def pr_auc_macro(self) -> float:
        return _nanmean_or_nan(self.average_precision)

    def hamming_loss(self) -> float:
        return float(np.mean(self.y_true != self.y_pred)) if self.y_true.size else float("nan")


def auc_excluded_classes(inputs: MetricInputs) -> int:
    """How many classes the macro ROC-AUC excluded (constant ``y_true`` column)."""
    return int(np.isnan(inputs.roc_auc).sum())
