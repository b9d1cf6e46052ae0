"""Figures the torch plugin writes: the learning rate per iteration (paper Fig. 4) and the
lr_find curve (paper Fig. 3). Matplotlib's object API with the Agg canvas (no global state)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_lr_find", "plot_lr_history", "plot_sampled_classes"]


def _figure():  # noqa: ANN202 - a matplotlib Figure, imported lazily
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig: Any, path: str | Path) -> Path:
    """Lay out ``fig`` and write it to ``path`` (folders made as needed)."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_lr_history(lrs: Sequence[float], path: str | Path, *, title: str = "") -> Path:
    """Learning rate (the head's group) against the iteration number, written to ``path``."""
    fig, ax = _figure()
    ax.plot(range(len(lrs)), lrs, lw=1.2)
    ax.set_xlabel("iterations")
    ax.set_ylabel("learning rate")
    ax.set_title(title or "Learning rate per iteration")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_lr_find(
    lrs: Sequence[float],
    losses: Sequence[float],
    path: str | Path,
    *,
    suggestion: float | None = None,
    rule: str = "",
    skip_start: int = 10,
    skip_end: int = 5,
) -> Path:
    """Smoothed training loss against the learning rate on a log axis, the suggestion marked.

    The first ``skip_start`` and last ``skip_end`` points are left out (fastai's defaults), unless
    that would leave fewer than 2 points.
    """
    lo, hi = skip_start, len(lrs) - skip_end
    if hi - lo < 2:
        lo, hi = 0, len(lrs)
    fig, ax = _figure()
    ax.plot(lrs[lo:hi], losses[lo:hi], lw=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss (smoothed)")
    if suggestion is not None:
        ax.axvline(suggestion, color="tab:red", ls="--", lw=1, label=f"{suggestion:.2g} ({rule})")
        ax.legend(loc="best")
    ax.set_title("Training loss vs learning rate")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def plot_sampled_classes(natural: Sequence[float], sampled: Sequence[Sequence[float]], path: str | Path, *,
                         title: str = "") -> Path:
    """Each class's frequency in the train split beside its mean frequency in the epochs a
    sampler drew (log scale: HPA's classes span 0.04% to 41%), written to ``path``."""
    import numpy as np

    fig, ax = _figure()
    k = np.arange(len(natural))
    drawn = np.mean(np.asarray(sampled, dtype=float), axis=0)
    ax.bar(k - 0.2, np.maximum(natural, 1e-5), width=0.4, label="train split")
    ax.bar(k + 0.2, np.maximum(drawn, 1e-5), width=0.4, label=f"drawn (mean of {len(sampled)} epochs)")
    ax.set_yscale("log")
    ax.set_xlabel("class")
    ax.set_ylabel("fraction of samples with the label")
    ax.set_title(title or "Class frequencies seen in training")
    ax.legend(fontsize=8)
    return _save(fig, path)
