"""A :class:`Painter` draws shapes of one sample into pixel maps and holds its landmark stains.

Landmarks are the reference channels every sample has: microtubule filaments (red), the
endoplasmic reticulum network (yellow), nuclei with darker nucleoli (blue). They are computed
once per sample on first use and shared with the green patterns that follow them
(microtubules, ER, microtubule ends, ...).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from micro_bench_hpa.synth import shapes
from micro_bench_hpa.synth.fields import PSF_PX, SmoothField, polyline_points, stamp
from micro_bench_hpa.synth.scene import Scene

__all__ = ["Painter"]


class Painter:
    """Draws into ``(R, R) float64`` maps of one :class:`Scene`.

    Args:
        scene: the rasterized cell field.
        rng: Generator for the landmarks (its draws do not depend on R).
    """

    def __init__(self, scene: Scene, rng: np.random.Generator) -> None:
        self.scene = scene
        self.cells = scene.cells
        self.R = scene.R
        # landmark randomness, drawn up front in a fixed order
        self._texture = SmoothField(rng, 10)
        self._er_net = SmoothField(rng, 36)
        n = self.cells.n
        self._mt_cell = np.repeat(np.arange(n), 22)
        self._mt_walk_rng = np.random.default_rng(rng.integers(2**63))

    # -- drawing -----------------------------------------------------------------------------
    def spots(self, points: np.ndarray, amps: np.ndarray | float, sigma: float) -> np.ndarray:
        """Gaussian spots (see :func:`~micro_bench_hpa.synth.fields.stamp`)."""
        return stamp(points, amps, sigma, self.R, self.scene.psf_px)

    def lines(
        self, polylines: np.ndarray, cell: np.ndarray, amps: np.ndarray | float, sigma: float
    ) -> np.ndarray:
        """Polylines ``(f, k, 2)`` of width ``sigma``, cut where they leave their ``cell``
        ``(f,)``; ``amps`` ``(f,)`` or scalar is the peak height along the line."""
        step_px = 0.7
        pts = polyline_points(polylines, self.R, step_px)  # (f, s, 2)
        f, s = pts.shape[:2]
        flat = pts.reshape(-1, 2)
        keep = self._owner_px(flat) == np.repeat(cell, s)
        amp = np.repeat(np.broadcast_to(np.asarray(amps, dtype=np.float64), (f,)), s) * keep
        # spots every step_px pixels whose summed cross-section is that of a line of peak
        # ``amp`` and std ``sigma``: sqrt(2 pi) sigma amp (field units), at every resolution
        s_px = max(sigma * self.R, PSF_PX)
        per_spot = np.sqrt(2 * np.pi) * sigma * self.R * step_px / (2 * np.pi * s_px * s_px)
        return stamp(flat, amp * per_spot, sigma, self.R, self.scene.psf_px)

    def _owner_px(self, points: np.ndarray) -> np.ndarray:
        """``(m,)`` owner cell of ``points`` read from the label image (``n`` = background)."""
        idx = np.clip((points * self.R).astype(np.int64), 0, self.R - 1)
        return self.scene.label[idx[:, 0], idx[:, 1]]

    def per_cell_map(self, values: np.ndarray) -> np.ndarray:
        """``(R, R)``: per-cell ``values`` ``(n,)`` painted over each cell territory (0 outside)."""
        return np.append(values, 0.0)[self.scene.label]

    # -- landmarks ---------------------------------------------------------------------------
    @cached_property
    def texture(self) -> np.ndarray:
        """Low-frequency multiplicative texture in ``[0.6, 1.4]`` roughly."""
        return 1.0 + 0.2 * self._texture.grid(self.R)

    @cached_property
    def nucleoli(self) -> np.ndarray:
        """Nucleolus blobs, peak ~1."""
        c = self.cells
        mask = np.arange(3)[None, :] < c.n_nucleoli[:, None]
        pts = c.nucleoli[mask]
        return self.spots(pts, 1.0, float(c.nuc_axes[:, 1].mean()) * 0.22)

    @cached_property
    def microtubule_walks(self) -> np.ndarray:
        """``(f, 9, 2)`` microtubule filaments growing from the nuclear edge outwards."""
        c, rng, cell = self.cells, self._mt_walk_rng, self._mt_cell
        angle = rng.uniform(0, 2 * np.pi, len(cell))
        start = c.nuc_point(cell, np.full(len(cell), 0.8), angle)
        out = start - c.nuc_centre[cell]
        heading = np.arctan2(out[:, 1], out[:, 0]) + rng.normal(0, 0.3, len(cell))
        return shapes.random_walks(rng, start, heading, 8, c.radius[cell] * 0.16, 0.22)

    @cached_property
    def microtubule_ends(self) -> np.ndarray:
        """``(f, 2)`` last point of each microtubule still inside its cell."""
        walks, cell = self.microtubule_walks, self._mt_cell
        f, k = walks.shape[:2]
        inside = (self.cells.owner(walks.reshape(-1, 2)) == np.repeat(cell, k)).reshape(f, k)
        last = k - 1 - np.argmax(inside[:, ::-1], axis=1)
        return walks[np.arange(f), last]

    @cached_property
    def microtubules(self) -> np.ndarray:
        """Red stain: filaments over a faint cytoplasm, peak ~1."""
        lines = self.lines(self.microtubule_walks, self._mt_cell, 0.8, 0.0015)
        return np.minimum(lines, 1.5) + 0.15 * self.scene.cyto * self.texture

    @cached_property
    def er(self) -> np.ndarray:
        """Yellow stain: a reticular network, dense around the nucleus, fading outwards."""
        sc = self.scene
        net = np.exp(-0.5 * (self._er_net.grid(self.R) / 0.35) ** 2)
        falloff = np.clip(1.25 - sc.crho, 0.0, 1.0)
        return sc.cyto * (0.25 + 0.75 * net) * falloff + 0.25 * sc.ring(1.05, 0.003)

    @cached_property
    def nuclei(self) -> np.ndarray:
        """Blue stain: textured nuclei with darker nucleoli."""
        return self.scene.nucleus * self.texture * (1.0 - 0.5 * np.minimum(self.nucleoli, 1.0))
