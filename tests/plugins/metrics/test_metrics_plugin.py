"""The metrics plugin's specs, its Fig. 5 curves and its run-end hook."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

from micro_bench_metrics import plugin
from micro_bench_metrics.catalog import Metric, metric_ids
from micro_bench_metrics.curves import macro_pr_curve, macro_roc_curve, plot_curves


def _data(seed: int = 0, n: int = 200, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, k)) < 0.3
    y_true[:, -1] = False  # a class without positives
    return y_true, np.clip(0.4 * y_true + rng.random((n, k)) * 0.7, 0, 1)


def test_specs_cover_every_metric_id_and_factories_resolve() -> None:
    specs = plugin.micro_bench_metrics()
    assert [s.name for s in specs] == metric_ids()
    required = {"precision_macro", "recall_macro", "f1_macro", "roc_auc_macro", "pr_auc_macro", "precision_micro",
                "recall_micro", "f1_micro", "roc_auc_micro", "pr_auc_micro", "hamming_loss", "per_class_precision",
                "per_class_recall", "per_class_f1", "per_class_support"}
    assert required <= set(plugin.METRIC_IDS)
    for spec in specs:
        module, _, attr = spec.factory.partition(":")
        metric = getattr(importlib.import_module(module), attr)()
        assert isinstance(metric, Metric) and metric.metric_id == spec.name


def test_entry_module_imports_no_heavy_libraries() -> None:
    code = ("import sys, micro_bench_metrics.plugin, micro_bench_baselines.plugin; "
            "print(sorted(m for m in ('numpy', 'sklearn', 'scipy', 'matplotlib', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_macro_roc_curve_area_matches_macro_auc() -> None:
    y_true, y_score = _data()
    fpr, tpr = macro_roc_curve(y_true, y_score)
    assert fpr[0] == 0 and fpr[-1] == 1 and np.all(np.diff(tpr) >= 0)
    reference = roc_auc_score(y_true[:, :-1], y_score[:, :-1], average="macro")
    assert abs(np.trapezoid(tpr, fpr) - reference) < 0.01


def test_macro_pr_curve_is_non_increasing_and_bounded() -> None:
    y_true, y_score = _data(1)
    recall, precision = macro_pr_curve(y_true, y_score)
    assert np.all(np.diff(precision) <= 1e-12)
    assert ((precision >= 0) & (precision <= 1)).all()


def test_plot_curves_writes_pngs(tmp_path: Path) -> None:
    y_true, y_score = _data()
    plot_curves(y_true, y_score, tmp_path / "roc.png", tmp_path / "pr.png")
    for name in ("roc.png", "pr.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.size == (500, 500)


def test_run_end_hook_draws_the_scores_the_metrics_saw(tmp_path: Path) -> None:
    from micro_bench import Scores

    y_true, y_score = _data()
    scores = Scores(y_true, y_score, np.full(y_true.shape[1], 0.5), y_score >= 0.5)
    plugin.micro_bench_run_end(run=SimpleNamespace(directory=tmp_path, scores=scores), result=None)
    assert not (tmp_path / "predictions.npz").exists()  # drawn from the arrays, not a file
    assert (tmp_path / "roc.png").stat().st_size > 0 and (tmp_path / "pr.png").stat().st_size > 0


def test_run_end_hook_of_a_recovered_run_reads_its_predictions(tmp_path: Path) -> None:
    run = SimpleNamespace(directory=tmp_path, scores=None)
    plugin.micro_bench_run_end(run=run, result=None)  # no predictions yet: nothing, no error
    assert not (tmp_path / "roc.png").exists()
    y_true, y_score = _data()
    np.savez(tmp_path / "predictions.npz", ids=np.array([f"s{i}" for i in range(len(y_true))]),
             y_true=y_true, y_score=y_score, y_pred=y_score >= 0.5)
    plugin.micro_bench_run_end(run=run, result=None)
    assert (tmp_path / "roc.png").stat().st_size > 0 and (tmp_path / "pr.png").stat().st_size > 0
