"""The class distribution of a run's split: positives per class in train, val and test.

HPA is heavily imbalanced (class 0 has 12,885 examples, class 27 has 11), so the bars use a log
scale and each bar is annotated with its count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_class_distribution"]

_PARTS = (("train", "#4c72b0"), ("val", "#dd8452"), ("test", "#55a868"))


def plot_class_distribution(
    counts: Mapping[str, Sequence[int]], path: str | Path, *, class_names: Sequence[str] | None = None,
    title: str = "Class distribution of the split",
) -> Path:
    """Grouped horizontal bars, one group per class, of ``counts[part][k]`` positives.

    Args:
        counts: ``{"train": [K ints], "val": [...], "test": [...]}`` (as in ``result.json``).
        path: the PNG to write.
        class_names: K names for the y axis (``"k name"``); indices alone when ``None``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    parts = [(p, c) for p, c in _PARTS if p in counts]
    num_classes = len(counts[parts[0][0]])
    labels = [f"{k} {class_names[k]}" if class_names else str(k) for k in range(num_classes)]
    fig, ax = plt.subplots(figsize=(8, 0.32 * num_classes + 1.5))
    height = 0.8 / len(parts)
    y = np.arange(num_classes)
    for j, (part, color) in enumerate(parts):
        values = np.asarray(counts[part], float)
        sizes: Any = counts.get("n") or {}
        n = sizes.get(part)
        label = f"{part} (n={n})" if n is not None else part
        # A log axis cannot show 0: a class absent from a part gets no bar, and a "0" instead.
        offsets = y + (j - (len(parts) - 1) / 2) * height
        ax.barh(offsets, np.where(values > 0, values, np.nan), height=height, color=color, label=label)
        for pos in offsets[values == 0]:
            ax.text(1.0, pos, " 0", va="center", ha="left", fontsize=6, color=color)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("positive examples (log scale)")
    ax.set_ylabel("class")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run_distribution(result: Any, directory: str | Path) -> Path | None:
    """Write ``class_distribution.png`` for a finished run, from ``result.counts``."""
    counts = getattr(result, "counts", None) or {}
    if not all(part in counts for part in ("train", "val", "test")):
        return None
    names = (getattr(result, "dataset", None) or {}).get("class_names")
    ds = (getattr(result, "dataset", None) or {}).get("name", "")
    return plot_class_distribution(counts, Path(directory) / "class_distribution.png", class_names=names,
                                   title=f"Class distribution of the split ({ds})" if ds else
                                   "Class distribution of the split")
