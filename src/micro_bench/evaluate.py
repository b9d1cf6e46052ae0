"""Turn a trained model's scores into thresholds, predictions and metric values."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from micro_bench.components import ThresholdRule
from micro_bench.contract import Scores

__all__ = ["check_probabilities", "check_split", "class_counts", "compute_metrics", "labels_from", "thresholds_for"]


def check_probabilities(scores: Any, n: int, classes: Sequence[str], who: str,
                        row_id: Callable[[int], str] | None = None) -> Any:
    """``scores`` as an ``(n, K) float64`` array of probabilities, or a one-line
    :class:`~micro_bench.errors.PluginError` naming ``who`` (the plugin) and the first offending
    row: the wrong shape, a value that is not a number, not finite or outside ``[0, 1]``."""
    import numpy as np

    from micro_bench.errors import PluginError

    k = len(classes)
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"{who} returned probabilities that are not numbers ({type(exc).__name__}: {exc}); "
                          "no result written") from None
    if arr.shape != (n, k):
        raise PluginError(f"{who} returned probabilities of shape {arr.shape}, expected ({n}, {k}): {n} samples by "
                          f"the dataset's {k} classes (its classes: {', '.join(list(classes)[:4])}"
                          f"{', ...' if k > 4 else ''}); no result written")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        sample = f" (id {row_id(row)!r})" if row_id is not None else ""
        raise PluginError(f"{who} returned {float(arr[row, col])!r} as the probability of class {classes[col]!r} in row "
                          f"{row}{sample}; probabilities must be finite and within [0, 1] ({int(bad.sum())} such "
                          "value(s)); no result written")
    return arr


def check_split(split: Any, evaluate: Mapping[str, Any], log: Callable[[str], None]) -> None:
    """Refuse a split whose needed part is empty (no meaningful number can come out of it); log
    the classes without a positive sample in the evaluated part (their per-class scores are
    undefined; the per-part class counts are recorded in the result)."""
    from micro_bench.errors import MicroBenchError

    part, sizes = evaluate["split"], split.sizes()
    needed = {"train": "training", part: "evaluation"}
    if isinstance(evaluate.get("threshold"), str):
        needed.setdefault("val", "fitted thresholds")
    for name, why in needed.items():
        if sizes[name] == 0:
            raise MicroBenchError(
                f"the {name} part of the split is empty ({sizes}; fractions {list(split.recipe['fractions'])}) "
                f"but {why} needs it: use more samples (dataset n) or larger fractions")
    missing = [i for i, n in enumerate(split.labels(part).sum(axis=0)) if n == 0]
    if missing:
        log(f"note: {len(missing)} class(es) have no positive sample in the {part} part "
            f"(class indices {missing}); their per-class metrics are undefined")


def thresholds_for(rule: float | str, num_classes: int, val: tuple[Any, Any] | None,
                   fitted: ThresholdRule | None = None) -> dict[str, Any]:
    """Thresholds for ``rule``: a number (the same for every class), or the rule component
    ``fitted`` (kind ``threshold``, named ``rule``) fitted on ``val = (y_true (N,K), y_score (N,K))``.

    Returns ``{"rule", "description", "fitted_on": "val" | None, "values": [K floats]}``.
    """
    import numpy as np

    if isinstance(rule, (int, float)) and not isinstance(rule, bool):
        return {"rule": float(rule), "description": f"constant {float(rule):g} for every class", "fitted_on": None,
                "values": [float(rule)] * num_classes}
    if val is None or fitted is None:
        raise ValueError(f"threshold rule {rule!r} needs its component and validation predictions")
    values = fitted.fit(np.asarray(val[0], bool), np.asarray(val[1], float))
    return {"rule": rule, "description": str(fitted.description), "fitted_on": "val",
            "values": [float(v) for v in values]}


def labels_from(y_score: Any, thresholds: Any) -> Any:
    """``(N, K) bool`` predictions: ``y_score > thresholds`` (strict; a score equal to its
    threshold is negative, as scikit-learn's ``predict`` and fastai's metrics decide)."""
    import numpy as np

    return np.asarray(y_score) > np.asarray(thresholds, dtype=float)[None, :]


def compute_metrics(metrics: Mapping[str, Callable[..., Any]], scores: Scores) -> dict[str, Any]:
    """Evaluate the run's metrics as one set on one shared :class:`Scores`: a metric with a
    ``compute(scores)`` method gets the object itself (and shares intermediates through
    ``scores.stash``); a plain callable gets ``(y_true, y_score, y_pred)``. Per-class metrics
    come back as ``{class_index: value}`` mappings."""
    out: dict[str, Any] = {}
    for name, metric in metrics.items():
        compute = getattr(metric, "compute", None)
        value = compute(scores) if callable(compute) else metric(scores.labels, scores.scores, scores.predictions)
        out[name] = {str(k): float(v) for k, v in value.items()} if isinstance(value, Mapping) else float(value)
    return out


def class_counts(labels: Any, splits: Mapping[str, Any]) -> dict[str, Any]:
    """Per-class positives and sample counts of each split: ``{"train": [K ints], ..., "n": {...}}``."""
    out: dict[str, Any] = {"n": {}}
    for part, idx in splits.items():
        part_labels = labels[idx]
        out[part] = [int(c) for c in part_labels.sum(axis=0)]
        out["n"][part] = int(len(idx))
    return out
