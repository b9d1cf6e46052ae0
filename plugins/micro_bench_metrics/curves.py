"""ROC and precision-recall curves, macro and micro averaged, as the paper's Fig. 5.

Curves come from ``sklearn.metrics.roc_curve`` / ``precision_recall_curve``. The macro curve is
the mean over the defined classes (the same classes :mod:`micro_bench_metrics.formulas` keeps in
the macro AUC) of each class's curve interpolated onto a common grid: TPR on an FPR grid for ROC,
step-interpolated precision on a recall grid for PR. The micro curve pools all ``N * K`` scores.
The legend shows the AUC values the tables report (``roc_auc_macro`` etc.).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_metrics.formulas import MetricInputs

__all__ = ["macro_pr_curve", "macro_roc_curve", "plot_curves", "plot_run_predictions"]

_GRID = np.linspace(0.0, 1.0, 201)


def macro_roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr (G,), tpr (G,))``: per-class TPR interpolated on an FPR grid, averaged over defined classes."""
    from sklearn.metrics import roc_curve

    tprs = []
    for k in range(y_true.shape[1]):
        n_pos = int(y_true[:, k].sum())
        if 0 < n_pos < y_true.shape[0]:
            fpr, tpr, _ = roc_curve(y_true[:, k], y_score[:, k])
            tprs.append(np.interp(_GRID, fpr, tpr))
    tpr_mean = np.mean(tprs, axis=0) if tprs else np.full_like(_GRID, np.nan)
    return _GRID.copy(), tpr_mean


def macro_pr_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(recall (G,), precision (G,))``: per-class precision at each recall grid point (the best
    precision reachable at that recall or more), averaged over classes with positives."""
    from sklearn.metrics import precision_recall_curve

    precisions = []
    for k in range(y_true.shape[1]):
        if y_true[:, k].any():
            precision, recall, _ = precision_recall_curve(y_true[:, k], y_score[:, k])
            # recall is decreasing; running max of precision from high recall down.
            best = np.maximum.accumulate(precision)  # best[i] = max precision at recall >= recall[i]
            precisions.append(np.interp(_GRID, recall[::-1], best[::-1]))
    precision_mean = np.mean(precisions, axis=0) if precisions else np.full_like(_GRID, np.nan)
    return _GRID.copy(), precision_mean


def plot_curves(y_true: np.ndarray, y_score: np.ndarray, path_roc: str | Path, path_pr: str | Path) -> None:
    """Write macro and micro ROC curves to ``path_roc`` and PR curves to ``path_pr`` (PNG).

    Args:
        y_true: ``(N, K)`` bool labels.
        y_score: ``(N, K)`` float scores.
        path_roc, path_pr: output image paths; parent folders must exist.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state
    from sklearn.metrics import precision_recall_curve, roc_curve

    inputs = MetricInputs(y_true, y_score, np.zeros_like(y_true, dtype=bool))
    flat_true, flat_score = inputs.y_true.ravel(), inputs.y_score.ravel()

    ax = Figure(figsize=(5, 5)).subplots()
    fpr, tpr = macro_roc_curve(inputs.y_true, inputs.y_score)
    ax.plot(fpr, tpr, label=f"macro (AUC = {inputs.roc_auc_macro():.3f})")
    if 0 < flat_true.sum() < flat_true.size:
        fpr_micro, tpr_micro, _ = roc_curve(flat_true, flat_score)
        ax.plot(fpr_micro, tpr_micro, label=f"micro (AUC = {inputs.roc_auc_micro():.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="chance")
    _finish(ax, "False positive rate", "True positive rate", "ROC curves", path_roc)

    ax = Figure(figsize=(5, 5)).subplots()
    recall, precision = macro_pr_curve(inputs.y_true, inputs.y_score)
    ax.plot(recall, precision, label=f"macro (AUC = {inputs.pr_auc_macro():.3f})")
    if flat_true.any():
        precision_micro, recall_micro, _ = precision_recall_curve(flat_true, flat_score)
        ax.step(recall_micro, precision_micro, where="post", label=f"micro (AUC = {inputs.pr_auc_micro():.3f})")
    _finish(ax, "Recall", "Precision", "Precision-recall curves", path_pr)


def _finish(ax: Any, xlabel: str, ylabel: str, title: str, path: str | Path) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=100)


def plot_run_predictions(directory: str | Path) -> list[Path]:
    """Write ``roc.png`` and ``pr.png`` into ``directory`` from its ``predictions.npz``.

    Returns the written paths; an empty list when there is no ``predictions.npz``.

    Raises:
        ValueError: the file lacks the ``y_true`` or ``y_score`` key.
    """
    directory = Path(directory)
    source = directory / "predictions.npz"
    if not source.is_file():
        return []
    with np.load(source, allow_pickle=False) as data:
        missing = {"y_true", "y_score"} - set(data.files)
        if missing:
            raise ValueError(f"{source}: missing key(s) {sorted(missing)}; expected ids, y_true, y_score, y_pred")
        y_true, y_score = data["y_true"], data["y_score"]
    paths = [directory / "roc.png", directory / "pr.png"]
    plot_curves(y_true, y_score, *paths)
    return paths
