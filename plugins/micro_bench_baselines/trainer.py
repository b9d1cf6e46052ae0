"""The ``sklearn`` trainer: fits a scikit-learn estimator on standardized, flattened pixels.

``fit`` reads the training images through dask into one ``(n, C * R * R) float32`` matrix
(standardized per channel with ``dataset.channel_stats``, the paper's 64x64x4 by default), fits
the estimator one-vs-rest on the ``(n, K)`` labels and logs every class that is constant in the
training labels (a class without positives predicts probability 0). ``n_jobs`` sets joblib's
parallelism for fit and predict, with threads: scikit-learn's solvers and tree builders release
the GIL, and threads share the one feature matrix (processes would memory-map a copy of it). ``predict`` returns ``(n, K) float`` probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench import Dataset, Loss, RunContext, Schedule, Split, Transform, TTAPolicy
from micro_bench.errors import ParameterError
from micro_bench_baselines.features import pixel_features

__all__ = ["SklearnTrainer"]


class SklearnTrainer:
    """Fit/predict for scikit-learn estimators with ``fit(X, Y)`` and ``predict_proba(X)``.

    Args:
        n_jobs: joblib workers for the one-vs-rest fits and predictions (``-1``: all cores).
        resolution: side length of the pixel features (the paper: 64).
    """

    def __init__(self, n_jobs: int | None = -1, resolution: int = 64) -> None:
        if resolution < 1:
            raise ParameterError(f"sklearn trainer: resolution must be >= 1, got {resolution}")
        self.n_jobs = n_jobs
        self.resolution = resolution
        self._stats: tuple[np.ndarray, np.ndarray] | None = None

    @contextmanager
    def _parallel(self) -> Iterator[None]:
        """joblib threads for the per-class fits; BLAS single-threaded inside them when they run
        in parallel, so that ``n_jobs`` workers use ``n_jobs`` cores, not ``n_jobs`` x cores."""
        from joblib import effective_n_jobs, parallel_config
        from threadpoolctl import threadpool_limits

        with parallel_config(backend="threading", n_jobs=self.n_jobs):
            if effective_n_jobs(self.n_jobs) > 1:
                with threadpool_limits(limits=1, user_api="blas"):
                    yield
            else:
                yield

    def fit(
        self,
        model: Any,
        dataset: Dataset,
        split: Split,
        *,
        loss: Loss | None = None,
        schedule: Schedule | None = None,
        transform: Transform | None = None,
        context: RunContext,
    ) -> Mapping[str, Any]:
        """Fit ``model`` in place on ``split.train``; return sizes, timings, skipped classes.
        ``loss``, ``schedule`` and ``transform`` do not apply to pixel baselines."""
        train_idx = split.train
        if len(train_idx) == 0:
            raise ParameterError("sklearn trainer: the training split is empty")
        mean, std = dataset.channel_stats(train_idx)
        self._stats = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        t0 = time.perf_counter()
        x = pixel_features(dataset, train_idx, *self._stats, resolution=self.resolution)
        y = np.asarray(split.labels("train"), dtype=np.int8)
        t1 = time.perf_counter()
        constant = _log_constant_classes(y, dataset.classes, context)
        context.log(f"sklearn: fitting {type(model).__name__} on {x.shape[0]} x {x.shape[1]} features, {y.shape[1]} classes")
        with self._parallel():
            model.fit(x, y)
        t2 = time.perf_counter()
        return {
            "n_train": int(x.shape[0]),
            "n_features": int(x.shape[1]),
            "constant_classes": constant,
            "features_s": t1 - t0,
            "fit_s": t2 - t1,
            "channel_stats": {"mean": [float(v) for v in self._stats[0]], "std": [float(v) for v in self._stats[1]]},
            **_convergence(model),
        }

    def save(self, model: Any, path: Path) -> None:
        """Write the fitted estimator (``model.skops``, see :mod:`micro_bench_baselines.persist`) and
        the channel statistics its features are standardized with (``stats.json``) into ``path``."""
        if self._stats is None:
            raise RuntimeError("sklearn trainer: save() called before fit() or load()")
        from micro_bench.results import write_json
        from micro_bench_baselines.persist import save_estimator

        save_estimator(Path(path) / "model.skops", model)
        write_json(Path(path) / "stats.json", {"mean": [float(v) for v in self._stats[0]],
                                                "std": [float(v) for v in self._stats[1]]})

    def load(self, path: Path, model: Any = None) -> Any:
        """The estimator :meth:`save` wrote in ``path`` (``model``, an unfitted estimator, is not
        needed); restores the statistics :meth:`predict` uses. Only scikit-learn and numpy types load."""
        import json

        from micro_bench_baselines.persist import load_estimator

        stats = json.loads((Path(path) / "stats.json").read_text(encoding="utf-8"))
        estimator = load_estimator(Path(path) / "model.skops")
        self._stats = np.asarray(stats["mean"], np.float64), np.asarray(stats["std"], np.float64)
        return estimator

    def predict(self, model: Any, dataset: Dataset, indices: np.ndarray, *, tta: TTAPolicy | None = None,
                transform: Transform | None = None, context: RunContext) -> np.ndarray:
        """``(len(indices), K) float64`` probabilities; ``tta`` is ignored (logged if given)."""
        if self._stats is None:
            raise RuntimeError("sklearn trainer: predict() called before fit()")
        if tta is not None:
            context.log("sklearn: test-time augmentation does not apply to pixel baselines; ignored")
        x = pixel_features(dataset, indices, *self._stats, resolution=self.resolution)
        with self._parallel():
            proba = np.asarray(model.predict_proba(x), dtype=np.float64)
        k = len(dataset.classes)
        if proba.shape != (len(indices), k):
            raise ParameterError(f"sklearn trainer: {type(model).__name__}.predict_proba gave {proba.shape}, expected {(len(indices), k)}")
        return proba


def _log_constant_classes(y: np.ndarray, classes: Any, context: RunContext) -> list[int]:
    """Log each class whose ``(n, K)`` training column is all 0 or all 1; return their indices."""
    positives = y.sum(axis=0)
    constant = []
    for k in np.flatnonzero((positives == 0) | (positives == y.shape[0])):
        name = classes[k] if k < len(classes) else str(k)
        if positives[k] == 0:
            context.log(f"sklearn: class {k} ({name}) has no positives in the {y.shape[0]} training samples; "
                        "it predicts all-negative (probability 0)")
        else:
            context.log(f"sklearn: class {k} ({name}) is positive in all {y.shape[0]} training samples; "
                        "it predicts all-positive (probability 1)")
        constant.append(int(k))
    return constant


def _convergence(model: Any) -> dict[str, Any]:
    """Iterations per class of iterative estimators (``n_iter_``, e.g. logistic regression;
    ``None`` for a class fitted as a constant) and whether every fitted class converged (fewer
    iterations than ``max_iter``); ``{}`` for estimators without iterations (forests)."""
    estimators = getattr(model, "estimators_", [model])
    fitted = [e for e in estimators if hasattr(e, "n_iter_")]
    if not fitted:
        return {}
    n_iter = [int(np.max(e.n_iter_)) if hasattr(e, "n_iter_") else None for e in estimators]
    limit = getattr(fitted[0], "max_iter", None)
    return {"n_iter": n_iter, "max_iter": limit,
            "converged": bool(limit is None or all(n < limit for n in n_iter if n is not None)),
            "solver": getattr(fitted[0], "solver", None)}
