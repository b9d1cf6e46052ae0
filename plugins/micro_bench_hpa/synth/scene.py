"""The cell field of one synthetic sample: cells, nuclei and nucleoli, and their pixel maps.

Cells are the territories of jittered seed points under per-cell elliptical metrics (a
Voronoi tessellation, cut off at each cell's radius, with a wobbly outer edge); nuclei are
jittered ellipses near the seeds. :class:`Cells` holds the resolution-free geometry;
:class:`Scene` rasterizes it at one resolution into the landmark maps that patterns use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from micro_bench_hpa.synth.fields import PSF_PX, SmoothField, pixel_centres

__all__ = ["Cells", "Scene", "draw_cells"]


@dataclass(frozen=True)
class Cells:
    """Geometry of ``n`` cells in field coordinates ``(y, x)`` in ``[0, 1]``.

    Attributes:
        seeds: ``(n, 2)`` territory centres.
        radius: ``(n,)`` cell radius (metric units).
        metric: ``(n, 3)`` ``(a, b, c)`` of the quadratic form ``a dy^2 + 2b dy dx + c dx^2``.
        nuc_centre: ``(n, 2)``; nuc_axes: ``(n, 2)`` semi-axes; nuc_angle: ``(n,)`` radians.
        nucleoli: ``(n, 3, 2)`` nucleolus centres (only the first ``n_nucleoli`` are real).
        n_nucleoli: ``(n,)`` 1..3.
        polarity: ``(n,)`` angle of the cell's front (Golgi, centrosome side).
        brightness: ``(n, 3)`` per-cell intensity of red, blue, yellow.
        edge: the smooth field that makes outer cell edges wobble.
    """

    seeds: np.ndarray
    radius: np.ndarray
    metric: np.ndarray
    nuc_centre: np.ndarray
    nuc_axes: np.ndarray
    nuc_angle: np.ndarray
    nucleoli: np.ndarray
    n_nucleoli: np.ndarray
    polarity: np.ndarray
    brightness: np.ndarray
    edge: SmoothField

    @property
    def n(self) -> int:
        return len(self.seeds)

    def metric_sq(self, points: np.ndarray) -> np.ndarray:
        """``(m, n)`` squared metric distance of ``points`` ``(m, 2)`` to every seed."""
        d = points[:, None, :] - self.seeds[None, :, :]
        a, b, c = self.metric[:, 0], self.metric[:, 1], self.metric[:, 2]
        return a * d[..., 0] ** 2 + 2 * b * d[..., 0] * d[..., 1] + c * d[..., 1] ** 2

    def owner(self, points: np.ndarray) -> np.ndarray:
        """``(m,) int64`` cell of each point, ``-1`` outside every cell."""
        d2 = self.metric_sq(points)
        own = d2.argmin(axis=1)
        rho = np.sqrt(d2[np.arange(len(points)), own]) / self.radius[own]
        return np.where(rho < 1.0 + 0.08 * self.edge.at(points), own, -1)

    def nuc_rho(self, points: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """``(m,)`` elliptical radius of ``points`` in the nucleus of ``cell`` (1 on its edge)."""
        d = points - self.nuc_centre[cell]
        ca, sa = np.cos(self.nuc_angle[cell]), np.sin(self.nuc_angle[cell])
        u = (d[:, 0] * ca + d[:, 1] * sa) / self.nuc_axes[cell, 0]
        v = (-d[:, 0] * sa + d[:, 1] * ca) / self.nuc_axes[cell, 1]
        return np.hypot(u, v)

    def nuc_point(self, cell: np.ndarray, rho: np.ndarray, angle: np.ndarray) -> np.ndarray:
        """``(m, 2)`` points at elliptical radius ``rho`` and ``angle`` around nuclei ``cell``."""
        u = rho * np.cos(angle) * self.nuc_axes[cell, 0]
        v = rho * np.sin(angle) * self.nuc_axes[cell, 1]
        ca, sa = np.cos(self.nuc_angle[cell]), np.sin(self.nuc_angle[cell])
        return self.nuc_centre[cell] + np.stack([u * ca - v * sa, u * sa + v * ca], axis=1)


def draw_cells(rng: np.random.Generator, size: float = 1.0) -> Cells:
    """Draw a field of 4-10 cells; ``size`` scales cell radii (``1`` = tiles the field loosely)."""
    n = int(rng.integers(4, 11))
    g = int(np.ceil(np.sqrt(n * 1.3)))
    slots = rng.choice(g * g, size=n, replace=False)
    grid = np.stack([slots // g, slots % g], axis=1).astype(np.float64)
    seeds = (grid + 0.5 + rng.uniform(-0.28, 0.28, (n, 2))) / g
    radius = size * rng.uniform(0.5, 0.72, n) / g
    elong = rng.uniform(1.0, 1.4, n)
    theta = rng.uniform(0, np.pi, n)
    c, s = np.cos(theta), np.sin(theta)
    l1, l2 = 1 / elong, elong
    metric = np.stack([l1 * c * c + l2 * s * s, (l1 - l2) * c * s, l1 * s * s + l2 * c * c], axis=1)
    gaps = np.linalg.norm(seeds[:, None] - seeds[None], axis=2) + np.eye(n) * 9
    axes_a = np.minimum(radius * rng.uniform(0.36, 0.5, n), 0.36 * gaps.min(axis=1))
    nuc_axes = np.stack([axes_a, axes_a * rng.uniform(0.7, 0.95, n)], axis=1)
    off = rng.uniform(0, 0.12, n) * radius
    phi = rng.uniform(0, 2 * np.pi, n)
    nuc_centre = seeds + off[:, None] * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    nuc_angle = rng.uniform(0, np.pi, n)
    cells = Cells(seeds, radius, metric, nuc_centre, nuc_axes, nuc_angle,
                  np.zeros((n, 3, 2)), rng.integers(1, 4, n), phi + np.pi,
                  rng.uniform(0.55, 1.0, (n, 3)), SmoothField(rng, 6))
    r = np.sqrt(rng.uniform(0, 0.35, (n, 3)))
    a = rng.uniform(0, 2 * np.pi, (n, 3))
    idx = np.repeat(np.arange(n), 3)
    pts = cells.nuc_point(idx, r.ravel(), a.ravel()).reshape(n, 3, 2)
    return Cells(**{**cells.__dict__, "nucleoli": pts})


class Scene:
    """:class:`Cells` rasterized at resolution ``R``; every map is ``(R, R) float64`` or int.

    Maps (computed on first use): ``label`` (owner cell, ``n`` = background), ``crho``
    (metric distance to the own seed / cell radius), ``cell`` (soft cell mask), ``nrho``
    (elliptical nucleus radius, 1 on the nuclear edge, large far away), ``nucleus`` (soft
    nucleus mask), ``cyto`` (cell minus nucleus), ``edge_out`` / ``edge_nb`` (distance, in
    pixels, to the outer cell edge / to the border with a neighbouring cell).
    """

    def __init__(self, cells: Cells, resolution: int, psf_px: float = PSF_PX) -> None:
        self.cells = cells
        self.R = resolution
        self.psf_px = max(float(psf_px), PSF_PX)
        self._rasterize()

    def _rasterize(self) -> None:
        cells, R = self.cells, self.R
        y = pixel_centres(R).astype(np.float32)
        best = np.full((R, R), 100.0, dtype=np.float32)  # squared metric distances; 100 = far
        second = np.full((R, R), 100.0, dtype=np.float32)
        owner = np.full((R, R), cells.n, dtype=np.uint8)  # cells.n <= 10
        reach = cells.radius * 1.5 * np.sqrt(np.max(np.abs(cells.metric), axis=1)) + 2.5 / R
        for i in range(cells.n):
            (sy, sx), r = cells.seeds[i], reach[i] * 1.6
            ys = slice(max(0, int((sy - r) * R)), min(R, int(np.ceil((sy + r) * R))))
            xs = slice(max(0, int((sx - r) * R)), min(R, int(np.ceil((sx + r) * R))))
            dy, dx = y[ys, None] - sy, y[None, xs] - sx
            a, b, c = cells.metric[i].astype(np.float32)
            d2 = (2 * b * dy) * dx
            d2 += a * dy * dy
            d2 += c * dx * dx
            bb, ss, ll = best[ys, xs], second[ys, xs], owner[ys, xs]
            # branch-free (boolean-mask indexing is ~10x slower): second = min(second,
            # max(best, d2)) equals the old "best if d2 is closer else min(second, d2)"
            ll[...] = np.where(d2 < bb, np.uint8(i), ll)
            np.minimum(ss, np.maximum(bb, d2), out=ss)
            np.minimum(bb, d2, out=bb)
        d1, d2 = np.sqrt(best, dtype=np.float64), np.sqrt(second, dtype=np.float64)
        radius = np.append(cells.radius, 1.0)[owner]
        wobble = 1.0 + 0.08 * cells.edge.grid(R)
        self.crho = d1 / radius
        self.edge_out = (wobble - self.crho) * radius * R
        self.edge_nb = 0.5 * (d2 - d1) * R
        inside = self.edge_out > 0
        self.label = np.where(inside, owner, np.uint8(cells.n)).astype(np.intp)
        self.cell = self._soft(self.edge_out) * inside

    def _soft(self, distance_px: np.ndarray) -> np.ndarray:
        """A soft step from 0 to 1 where ``distance_px`` crosses 0, about two PSF wide."""
        return np.clip(distance_px / (2.0 * self.psf_px) + 0.5, 0.0, 1.0)

    @cached_property
    def nrho(self) -> np.ndarray:
        cells, R = self.cells, self.R
        y = pixel_centres(R)
        out = np.full((R, R), 9.0)
        for i in range(cells.n):
            (cy, cx), r = cells.nuc_centre[i], cells.nuc_axes[i, 0] * 2.2 + 2 / R
            ys = slice(max(0, int((cy - r) * R)), min(R, int(np.ceil((cy + r) * R))))
            xs = slice(max(0, int((cx - r) * R)), min(R, int(np.ceil((cx + r) * R))))
            dy, dx = y[ys, None] - cy, y[None, xs] - cx
            ca, sa = np.cos(cells.nuc_angle[i]), np.sin(cells.nuc_angle[i])
            u = (dy * ca + dx * sa) / cells.nuc_axes[i, 0]
            v = (-dy * sa + dx * ca) / cells.nuc_axes[i, 1]
            rho = np.sqrt(u * u + v * v)
            mine = self.label[ys, xs] == i
            out[ys, xs] = np.where(mine, rho, out[ys, xs])
        return out

    @cached_property
    def nucleus(self) -> np.ndarray:
        px = self.cells.nuc_axes.min() * self.R  # pixels per unit of rho (approximately)
        return self._soft((1.0 - self.nrho) * px) * self.cell

    @cached_property
    def cyto(self) -> np.ndarray:
        return self.cell - self.nucleus

    def ring(self, rho: float, width: float) -> np.ndarray:
        """Ring at nuclear radius ``rho``, ``width`` field units wide (std), inside cells.

        Its peak is 1 when ``width * R`` exceeds the point-spread function and lower below,
        so that its integral across the ring does not depend on the resolution.
        """
        w_px = np.hypot(width * self.R, self.psf_px)
        w = w_px / (self.cells.nuc_axes.mean() * self.R)
        peak = max(width * self.R, PSF_PX) / w_px
        return peak * np.exp(-0.5 * ((self.nrho - rho) / w) ** 2) * self.cell
