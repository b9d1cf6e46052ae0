"""Resolution-free shape samplers: points in compartments, random-walk filaments, rings, rods.

All functions take :class:`~micro_bench_hpa.synth.scene.Cells` and a numpy Generator and
return field coordinates ``(y, x)``; the number of random draws never depends on the
resolution. Points that fall outside their cell get the owner ``-1`` and are dropped or
zero-weighted by the caller.
"""

from __future__ import annotations

import numpy as np

from micro_bench_hpa.synth.scene import Cells

__all__ = ["circle", "cyto_points", "nuclear_points", "per_cell", "random_walks", "segment"]


def per_cell(rng: np.random.Generator, cells: Cells, mean: float, low: int = 0) -> np.ndarray:
    """``(m,) int64`` cell index of each of a Poisson(``mean``) + ``low`` count per cell."""
    counts = rng.poisson(mean, cells.n) + low
    return np.repeat(np.arange(cells.n), counts)


def nuclear_points(
    rng: np.random.Generator, cells: Cells, cell: np.ndarray, rho_max: float = 0.85
) -> np.ndarray:
    """``(m, 2)`` points uniform inside the nuclei of ``cell`` (elliptical radius < rho_max)."""
    rho = rho_max * np.sqrt(rng.uniform(0, 1, len(cell)))
    return cells.nuc_point(cell, rho, rng.uniform(0, 2 * np.pi, len(cell)))


def cyto_points(
    rng: np.random.Generator, cells: Cells, cell: np.ndarray, near: float = 1.0, far: float = 2.6
) -> tuple[np.ndarray, np.ndarray]:
    """Points in the cytoplasm of ``cell``, between ``near`` and ``far`` nuclear radii.

    Returns:
        ``(points (m, 2), keep (m,) bool)``: ``keep`` is False where the point left its cell
        (callers zero those) so the draw count stays fixed.
    """
    rho = rng.uniform(near, far, len(cell))
    pts = cells.nuc_point(cell, rho, rng.uniform(0, 2 * np.pi, len(cell)))
    return pts, cells.owner(pts) == cell


def random_walks(
    rng: np.random.Generator,
    start: np.ndarray,
    heading: np.ndarray,
    steps: int,
    step: np.ndarray | float,
    turn: float,
) -> np.ndarray:
    """``(f, steps + 1, 2)`` persistent random walks (filaments) from ``start`` ``(f, 2)``.

    Args:
        heading: ``(f,)`` initial direction (radians, 0 = +y).
        step: length of one step (field units), scalar or ``(f,)``.
        turn: standard deviation of the heading change per step (radians).
    """
    f = len(start)
    angles = heading[:, None] + np.cumsum(rng.normal(0, turn, (f, steps)), axis=1)
    step = np.broadcast_to(np.asarray(step, dtype=np.float64), (f,))[:, None]
    moves = np.stack([np.cos(angles), np.sin(angles)], axis=2) * step[..., None]
    return np.concatenate([start[:, None, :], start[:, None, :] + np.cumsum(moves, axis=1)], axis=1)


def segment(p0: np.ndarray, p1: np.ndarray, nodes: int = 2) -> np.ndarray:
    """``(f, nodes, 2)`` straight polylines from ``p0`` to ``p1`` (both ``(f, 2)``)."""
    t = np.linspace(0, 1, nodes)[None, :, None]
    return p0[:, None, :] + (p1 - p0)[:, None, :] * t


def circle(centre: np.ndarray, radius: np.ndarray | float, nodes: int = 12) -> np.ndarray:
    """``(f, nodes + 1, 2)`` closed polygons approximating circles around ``centre`` ``(f, 2)``."""
    a = np.linspace(0, 2 * np.pi, nodes + 1)
    r = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(centre),))[:, None, None]
    return centre[:, None, :] + r * np.stack([np.cos(a), np.sin(a)], axis=1)[None]
