"""Entry module of the bundled metrics plugin: the paper's metric set and Fig. 5 curves.

Imports only the standard library and micro_bench; the formulas live in
:mod:`micro_bench_metrics.formulas` and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micro_bench import ComponentSpec, hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    from collections.abc import Iterable

__all__ = ["METRIC_IDS", "micro_bench_metrics", "micro_bench_run_end", "micro_bench_threshold_rules"]

#: (metric id, factory attribute in micro_bench_metrics.catalog, description)
_METRICS: tuple[tuple[str, str, str], ...] = (
    ("precision_macro", "precision_macro", "Precision, mean over classes (zero_division=0)"),
    ("recall_macro", "recall_macro", "Recall, mean over classes (zero_division=0)"),
    ("f1_macro", "f1_macro", "F1-score, mean over classes (zero_division=0)"),
    ("roc_auc_macro", "roc_auc_macro", "ROC-AUC, mean over classes with both labels present"),
    ("pr_auc_macro", "pr_auc_macro", "PR-AUC (average precision), mean over classes with positives"),
    ("precision_micro", "precision_micro", "Precision over all N*K decisions"),
    ("recall_micro", "recall_micro", "Recall over all N*K decisions"),
    ("f1_micro", "f1_micro", "F1-score over all N*K decisions"),
    ("roc_auc_micro", "roc_auc_micro", "ROC-AUC over all N*K scores"),
    ("pr_auc_micro", "pr_auc_micro", "PR-AUC (average precision) over all N*K scores"),
    ("hamming_loss", "hamming_loss", "Fraction of wrong labels over all N*K entries"),
    ("per_class_precision", "per_class_precision", "Precision of each class (Table V)"),
    ("per_class_recall", "per_class_recall", "Recall of each class (Table V)"),
    ("per_class_f1", "per_class_f1", "F1-score of each class (Table V)"),
    ("per_class_support", "per_class_support", "Number of positives of each class"),
    ("per_class_roc_auc", "per_class_roc_auc", "ROC-AUC of each class (nan where undefined)"),
    ("auc_excluded_classes", "auc_excluded_classes_metric", "Classes left out of roc_auc_macro (constant labels)"),
)

#: Metrics that are counts, not values in [0, 1].
_COUNTS = {"per_class_support", "auc_excluded_classes"}

METRIC_IDS: tuple[str, ...] = tuple(metric_id for metric_id, _, _ in _METRICS)


_TITLES = {"precision": "Precision", "recall": "Recall", "f1": "F1", "roc_auc": "ROC AUC",
           "pr_auc": "PR AUC", "hamming_loss": "Hamming loss", "support": "Support",
           "auc_excluded_classes": "Classes without AUC"}


def _table_info(metric_id: str) -> dict[str, Any]:
    """What tables show: ``title`` (``"F1 (macro)"``, ``"F1"`` for ``per_class_f1``), ``per_class``,
    and the ``reference`` column of the paper's per-class CSVs (``"f1"``)."""
    name = metric_id.removeprefix("per_class_")
    base, _, average = name.rpartition("_")
    title = f"{_TITLES.get(base, base)} ({average})" if average in ("macro", "micro") else _TITLES.get(name, name)
    per_class = metric_id.startswith("per_class_")
    return {"title": title, "per_class": per_class, **({"reference": name} if per_class else {})}


@hookimpl
def micro_bench_metrics() -> Iterable[ComponentSpec]:
    """The paper's metrics (macro/micro precision, recall, F1, ROC-AUC, PR-AUC, Hamming loss,
    per-class values for Table V)."""
    return [
        ComponentSpec(
            metric_id,
            f"micro_bench_metrics.catalog:{attr}",
            description,
            {**_table_info(metric_id), "docs": "docs/metrics.md",
             **({"range": [0, None]} if metric_id in _COUNTS else {})},
        )
        for metric_id, attr, description in _METRICS
    ]


@hookimpl
def micro_bench_run_end(run: Any, result: Any) -> None:
    """Write ``roc.png`` and ``pr.png`` (Fig. 5) from the run's evaluated scores (the arrays the
    metrics saw; ``predictions.npz`` for a run finalised after a crash), and
    ``class_distribution.png`` (positives per class in train/val/test) from the result."""
    from micro_bench_metrics.curves import plot_curves, plot_run_predictions
    from micro_bench_metrics.distribution import plot_run_distribution

    if run.scores is not None:
        plot_curves(run.scores.labels, run.scores.scores, run.directory / "roc.png", run.directory / "pr.png")
    else:
        plot_run_predictions(run.directory)
    plot_run_distribution(result, run.directory)


@hookimpl
def micro_bench_threshold_rules() -> list[ComponentSpec]:
    """``tuned`` and ``prevalence``: per-class thresholds fitted on the validation predictions."""
    return [ComponentSpec("tuned", "micro_bench_metrics.thresholds:tuned",
                          "Per class, the threshold maximising F1 on the validation predictions"),
            ComponentSpec("prevalence", "micro_bench_metrics.thresholds:prevalence",
                          "Per class, predicted positive rate = the class's prevalence in the validation labels")]
