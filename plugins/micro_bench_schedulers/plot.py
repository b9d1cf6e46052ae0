"""The learning rate against iterations, as the paper's Fig. 4 (SGDR with 3 restarts)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.components import Schedule

__all__ = ["plot_schedule", "schedule_curve"]


def schedule_curve(schedule: Schedule, steps_per_epoch: int, *, base_lr: float = 1.0,
                   epochs: int | None = None) -> list[float]:
    """``base_lr * multiplier(step)`` for every iteration of ``epochs`` (default: the schedule's)."""
    epochs = schedule.epochs if epochs is None else epochs
    if epochs is None:
        raise ValueError(
            f"plot_schedule: {type(schedule).__name__} has no length of its own; pass epochs="
        )
    return [base_lr * schedule.multiplier(step, steps_per_epoch) for step in range(epochs * steps_per_epoch)]


def plot_schedule(schedule: Schedule, steps_per_epoch: int, path: str | Path, *, base_lr: float = 1.0,
                  epochs: int | None = None, title: str | None = None) -> Path:
    """Write a figure of the learning rate against the iteration number to ``path`` (png/pdf/svg).

    Args:
        schedule: any :class:`~micro_bench.components.Schedule`.
        steps_per_epoch: iterations per epoch.
        path: the output file; its suffix picks the format. Parent folders are created.
        base_lr: the rate the multiplier scales (the paper's Fig. 4: the top group's rate).
        epochs: how many epochs to draw; defaults to ``schedule.epochs``.
        title: the figure title; defaults to the schedule's repr.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rates = schedule_curve(schedule, steps_per_epoch, base_lr=base_lr, epochs=epochs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(range(len(rates)), rates, linewidth=1.5)
    axes.set_xlabel("iteration")
    axes.set_ylabel("learning rate")
    axes.set_title(title if title is not None else repr(schedule))
    axes.set_xlim(0, max(len(rates) - 1, 1))
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=120)
    return path
