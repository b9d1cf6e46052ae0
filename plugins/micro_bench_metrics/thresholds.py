"""Decision thresholds turning scores into labels: ``y_pred = y_score > thresholds``.

Strictly greater: a score equal to its threshold is negative, as in scikit-learn's ``predict``
(a probability of exactly 0.5 is the negative class) and fastai 0.7's metrics (``preds > thresh``).

A rule (config key ``evaluate.threshold``) is one of:

* a number, e.g. ``0.5`` (the paper): the same threshold for every class;
* ``"tuned"``: per class, the threshold that maximises F1 on the given data (the Kaggle
  winners' practice; fit it on validation predictions). Ties go to the highest threshold (fewest
  positives); the threshold is placed half-way between the lowest score predicted positive and
  the next lower score, so it does not sit on a sample. A class without positives has F1 = 0 at every threshold, so tuning has nothing to go
  on: it keeps 0.5.
* ``"prevalence"``: per class, the threshold at which the predicted positive rate equals the
  class's prevalence in the given labels (the P highest scores are positive, P = number of
  positives), half-way between the P-th highest score and the next lower score. Scores tied
  with the P-th are all positive, so ties make the rate exact only up to the tie; a class without
  positives gets its highest score as threshold (nothing predicted).

The fitted rules are components of kind ``threshold`` (:func:`tuned`, :func:`prevalence`, provided
by this plugin's ``micro_bench_threshold_rules``); a number is the core's own constant rule. Numpy
only; the runner saves the rule's description and the ``(K,)`` thresholds with every result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["DEFAULT_THRESHOLD", "FittedRule", "Rule", "apply_thresholds", "check_rule", "describe_rule",
           "fit_thresholds", "prevalence", "tuned"]

#: Threshold of the paper, also the fallback of ``"tuned"`` for classes without positives.
DEFAULT_THRESHOLD = 0.5

Rule = float | Literal["tuned", "prevalence"]


def check_rule(rule: object) -> Rule:
    """Return ``rule`` if valid, else raise ``ValueError`` naming ``evaluate.threshold``."""
    if isinstance(rule, str) and rule in ("tuned", "prevalence"):
        return rule  # type: ignore[return-value]
    if isinstance(rule, (int, float)) and not isinstance(rule, bool) and np.isfinite(rule):
        return float(rule)
    raise ValueError(f"evaluate.threshold: expected a number, 'tuned' or 'prevalence', got {rule!r}")


def describe_rule(rule: object) -> str:
    """One line saying how the thresholds were chosen, for results and table notes."""
    rule = check_rule(rule)
    if rule == "tuned":
        return "per class, maximising F1 on the validation predictions"
    if rule == "prevalence":
        return "per class, predicted positive rate = class prevalence in the validation labels"
    return f"constant {rule:g} for every class"


def _sorted_desc(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores sorted descending per column and the labels in the same order, both ``(N, K)``."""
    order = np.argsort(-y_score, axis=0, kind="stable")
    return np.take_along_axis(y_score, order, axis=0), np.take_along_axis(y_true, order, axis=0)


def _between(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """A threshold in ``[low, high)`` (``score > t`` keeps ``high``, drops ``low``): the midpoint,
    ``low`` itself when they are adjacent floats, just below ``high`` when ``low`` is ``-inf``."""
    with np.errstate(invalid="ignore", over="ignore"):
        mid = low + (high - low) / 2
    inside = np.where((mid >= low) & (mid < high), mid, low)
    return np.where(np.isfinite(low), inside, np.nextafter(high, -np.inf))


def _next_lower(score: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per column, the highest score strictly below ``high`` (``-inf`` when none)."""
    return np.where(score < high[None, :], score, -np.inf).max(axis=0, initial=-np.inf)


def _tuned(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    n, k = y_true.shape
    score, hit = _sorted_desc(y_true, y_score)
    tp = np.cumsum(hit, axis=0, dtype=np.float64)
    n_pos = tp[-1]
    # Predicting the first i+1 rows positive; only cuts at the end of a tie group are reachable.
    f1 = 2 * tp / (n_pos[None, :] + np.arange(1, n + 1)[:, None])
    reachable = np.ones((n, k), dtype=bool)
    reachable[:-1] = score[:-1] != score[1:]
    best = np.argmax(np.where(reachable, f1, -1.0), axis=0)
    cols = np.arange(k)
    high = score[best, cols]
    low = np.where(best + 1 < n, score[np.minimum(best + 1, n - 1), cols], -np.inf)
    return np.where(n_pos > 0, _between(high, low), DEFAULT_THRESHOLD)


def _prevalence(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    n, k = y_true.shape
    score = -np.sort(-y_score, axis=0)
    n_pos = y_true.sum(axis=0)
    high = score[np.clip(n_pos - 1, 0, n - 1), np.arange(k)]  # P-th highest score
    thresholds = _between(high, _next_lower(score, high))
    return np.where(n_pos == 0, score[0], thresholds)  # no positives: nothing above the maximum


def fit_thresholds(rule: object, y_true_val: np.ndarray, y_score_val: np.ndarray) -> np.ndarray:
    """Per-class thresholds for ``rule`` from validation labels and scores.

    Args:
        rule: a number, ``"tuned"`` or ``"prevalence"`` (see the module docstring).
        y_true_val: ``(N, K)`` bool labels.
        y_score_val: ``(N, K)`` float scores.

    Returns:
        ``(K,) float64`` thresholds; predict with :func:`apply_thresholds`.

    Raises:
        ValueError: an unknown rule, mismatched or non-2-D shapes, empty data for a fitted rule,
            or non-finite scores.
    """
    rule = check_rule(rule)
    y_true = np.asarray(y_true_val).astype(bool, copy=False)
    y_score = np.asarray(y_score_val, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(
            f"fit_thresholds: expected y_true and y_score of one (N, K) shape, got {y_true.shape} and {y_score.shape}"
        )
    if isinstance(rule, float):
        return np.full(y_true.shape[1], rule, dtype=np.float64)
    if y_true.shape[0] == 0:
        raise ValueError(f"fit_thresholds: rule {rule!r} needs at least one validation sample, got 0")
    if not np.isfinite(y_score).all():
        raise ValueError("fit_thresholds: y_score contains nan or inf")
    return _tuned(y_true, y_score) if rule == "tuned" else _prevalence(y_true, y_score)


def apply_thresholds(y_score: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``(N, K) bool``: ``y_score > thresholds`` (strict) with ``thresholds`` broadcast over rows."""
    return np.asarray(y_score) > np.asarray(thresholds)[None, :]


@dataclass(frozen=True)
class FittedRule:
    """A threshold rule component (kind ``threshold``, config ``evaluate.threshold: NAME``)."""

    name: Literal["tuned", "prevalence"]

    @property
    def description(self) -> str:
        return describe_rule(self.name)

    def fit(self, y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
        """``(K,)`` thresholds from validation labels ``(N, K) bool`` and scores ``(N, K)``."""
        return fit_thresholds(self.name, y_true, y_score)


def tuned() -> FittedRule:
    """Per class, the threshold maximising F1 on the validation predictions."""
    return FittedRule("tuned")


def prevalence() -> FittedRule:
    """Per class, the threshold whose predicted positive rate is the class's prevalence."""
    return FittedRule("prevalence")
