"""Per-epoch validation scores of the torch trainer, with the run's metric plugins.

The trainer builds the evaluator itself from the registries of the host running it
(``context.host``), once per run (kept in the context's stash under this plugin's own key), so the
core holds nothing for it. Outside the runner (``context.host`` is ``None``) there are no epoch
metrics, only ``val_loss``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from micro_bench import RunContext
from micro_bench.contract import StashKey
from micro_bench.evaluate import labels_from

__all__ = ["EPOCH_METRICS", "EpochMetrics", "epoch_metrics", "evaluator"]

#: ``(metric names, y_true (N, K) bool, y_score (N, K) float) -> {name: value}``
EpochMetrics = Callable[[Sequence[str], Any, Any], dict[str, float]]
#: Where a run's :data:`EpochMetrics` evaluator is kept (one per run: its metrics built once).
EPOCH_METRICS = StashKey[EpochMetrics]()


def epoch_metrics(registry: Any) -> EpochMetrics:
    """An :data:`EpochMetrics` evaluator over a ``metric`` registry: each named metric built once,
    scored at threshold 0.5; per-class metrics (mappings) left out."""
    built: dict[str, Callable[..., Any]] = {}

    def evaluate(names: Sequence[str], y_true: Any, y_score: Any) -> dict[str, float]:
        import numpy as np

        y_true, y_score = np.asarray(y_true, bool), np.asarray(y_score, float)
        out = {}
        for name in names:
            metric = built.get(name) or built.setdefault(name, registry.create(name))
            value = metric(y_true, y_score, labels_from(y_score, [0.5] * y_score.shape[1]))
            if not isinstance(value, Mapping):
                out[name] = float(value)
        return out

    return evaluate


def evaluator(context: RunContext) -> EpochMetrics | None:
    """The run's evaluator: the one in ``context.stash`` (a caller may put its own there), else one
    over ``context.host``'s metric registry (kept in the stash), else ``None`` (no host)."""
    found = context.stash.get(EPOCH_METRICS, None)
    if found is None and context.host is not None:
        found = context.stash.setdefault(EPOCH_METRICS, epoch_metrics(context.host.registries["metric"]))
    return found
