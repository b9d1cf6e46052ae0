"""Metric ids -> callables ``(y_true (N, K) bool, y_score (N, K) float, y_pred (N, K) bool)``.

Each factory (``precision_macro()``, ...) returns a :class:`Metric`; scalar metrics return a
``float``, ``per_class_*`` metrics a mapping ``{"0": value, ..., str(K - 1): value}``. The
formulas and the rules for classes without positives are in :mod:`micro_bench_metrics.formulas`.
:func:`compute_metrics` evaluates several ids over one shared :class:`MetricInputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from micro_bench import Scores, StashKey
from micro_bench_metrics.formulas import MetricInputs, auc_excluded_classes

__all__ = ["INPUTS", "Metric", "compute_metrics", "metric_ids"]

Value = float | dict[str, float]


def _per_class(values: np.ndarray) -> dict[str, float]:
    return {str(k): float(v) for k, v in enumerate(values)}


_FORMULAS: dict[str, Callable[[MetricInputs], Value]] = {
    "precision_macro": lambda m: float(m.precision().mean()),
    "recall_macro": lambda m: float(m.recall().mean()),
    "f1_macro": lambda m: float(m.f1().mean()),
    "roc_auc_macro": MetricInputs.roc_auc_macro,
    "pr_auc_macro": MetricInputs.pr_auc_macro,
    "precision_micro": lambda m: m.micro_prf()[0],
    "recall_micro": lambda m: m.micro_prf()[1],
    "f1_micro": lambda m: m.micro_prf()[2],
    "roc_auc_micro": MetricInputs.roc_auc_micro,
    "pr_auc_micro": MetricInputs.pr_auc_micro,
    "hamming_loss": MetricInputs.hamming_loss,
    "per_class_precision": lambda m: _per_class(m.precision()),
    "per_class_recall": lambda m: _per_class(m.recall()),
    "per_class_f1": lambda m: _per_class(m.f1()),
    "per_class_support": lambda m: _per_class(m.support()),
    "per_class_roc_auc": lambda m: _per_class(m.roc_auc),
    "auc_excluded_classes": lambda m: float(auc_excluded_classes(m)),
}

def metric_ids() -> list[str]:
    """Every metric id this module provides, in table order."""
    return list(_FORMULAS)


class Metric:
    """The metric ``metric_id`` as a callable ``(y_true, y_score, y_pred) -> float | dict``."""

    def __init__(self, metric_id: str) -> None:
        if metric_id not in _FORMULAS:
            raise ValueError(f"unknown metric id {metric_id!r}; expected one of {', '.join(_FORMULAS)}")
        self.metric_id = metric_id

    def __call__(self, y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> Value:
        return self.evaluate(MetricInputs(y_true, y_score, y_pred))

    def compute(self, scores: Scores) -> Value:
        """The metric on a run's shared :class:`~micro_bench.Scores` (how the runner calls it):
        the validated inputs are built once per ``Scores`` and kept in its stash."""
        if INPUTS not in scores.stash:
            scores.stash[INPUTS] = MetricInputs(scores.labels, scores.scores, scores.predictions)
        return self.evaluate(scores.stash[INPUTS])

    def evaluate(self, inputs: MetricInputs) -> Value:
        """The metric on already validated inputs (shares cached counts and ranks)."""
        return _FORMULAS[self.metric_id](inputs)

    def __repr__(self) -> str:
        return f"Metric({self.metric_id!r})"


#: Where :meth:`Metric.compute` keeps the validated inputs on a run's shared ``Scores``, so the
#: metrics of one run compute confusion counts and ranks once.
INPUTS = StashKey[MetricInputs]()


def compute_metrics(
    ids: Iterable[str], y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray
) -> Mapping[str, Value]:
    """Several metrics at once, computing the confusion counts and ranks only once."""
    inputs = MetricInputs(y_true, y_score, y_pred)
    return {metric_id: Metric(metric_id).evaluate(inputs) for metric_id in ids}


def _factory(metric_id: str) -> Callable[[], Metric]:
    def make() -> Metric:
        return Metric(metric_id)

    make.__name__ = make.__qualname__ = metric_id
    make.__doc__ = f"Factory of the metric ``{metric_id}``: returns ``Metric({metric_id!r})``."
    return make


# Module-level factories named like the ids, for the plugin's lazy "module:callable" strings.
precision_macro = _factory("precision_macro")
recall_macro = _factory("recall_macro")
f1_macro = _factory("f1_macro")
roc_auc_macro = _factory("roc_auc_macro")
pr_auc_macro = _factory("pr_auc_macro")
precision_micro = _factory("precision_micro")
recall_micro = _factory("recall_micro")
f1_micro = _factory("f1_micro")
roc_auc_micro = _factory("roc_auc_micro")
pr_auc_micro = _factory("pr_auc_micro")
hamming_loss = _factory("hamming_loss")
per_class_precision = _factory("per_class_precision")
per_class_recall = _factory("per_class_recall")
per_class_f1 = _factory("per_class_f1")
per_class_support = _factory("per_class_support")
per_class_roc_auc = _factory("per_class_roc_auc")
auc_excluded_classes_metric = _factory("auc_excluded_classes")
