"""The green-channel pattern of each of the 28 HPA classes, tied to the landmarks.

``PATTERNS[k](painter, rng)`` returns the ``(R, R) float64`` map (peak about 1) of class ``k``
(label-index order of :data:`micro_bench_hpa.classes.HPA_CLASSES`). A sample's green channel
is the sum of the patterns of its labels. Shapes follow the HPA class descriptions: nuclear
classes inside the blue nuclei, microtubules along the red filaments, ER on the yellow
network, membranes on cell borders, vesicles as puncta of class-specific size and count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from micro_bench_hpa.synth import shapes
from micro_bench_hpa.synth.fields import PSF_PX, SmoothField
from micro_bench_hpa.synth.painter import Painter

__all__ = ["PATTERNS", "Pattern"]

Pattern = Callable[[Painter, np.random.Generator], np.ndarray]
Rng = np.random.Generator


def nucleoplasm(p: Painter, rng: Rng) -> np.ndarray:
    return p.scene.nucleus * p.texture * (1.0 - 0.8 * np.minimum(p.nucleoli, 1.0))


def nuclear_membrane(p: Painter, rng: Rng) -> np.ndarray:
    return p.scene.ring(0.97, 0.0015) * p.texture


def nucleoli(p: Painter, rng: Rng) -> np.ndarray:
    return 1.2 * p.nucleoli


def fibrillar_center(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    mask = np.arange(3)[None, :] < c.n_nucleoli[:, None]
    centres = np.repeat(c.nucleoli[mask], 4, axis=0)
    jitter = rng.normal(0, float(c.nuc_axes.mean()) * 0.1, centres.shape)
    return p.spots(centres + jitter, rng.uniform(1.4, 2.0, len(centres)), 0.0025)


def nuclear_speckles(p: Painter, rng: Rng) -> np.ndarray:
    cell = shapes.per_cell(rng, p.cells, 22, 8)
    pts = shapes.nuclear_points(rng, p.cells, cell, 0.85)
    dots = p.spots(pts, rng.uniform(0.5, 1.1, len(cell)), 0.0045)
    return dots + 0.15 * p.scene.nucleus


def nuclear_bodies(p: Painter, rng: Rng) -> np.ndarray:
    cell = shapes.per_cell(rng, p.cells, 3, 1)
    pts = shapes.nuclear_points(rng, p.cells, cell, 0.8)
    return p.spots(pts, rng.uniform(0.9, 1.3, len(cell)), 0.006)


def endoplasmic_reticulum(p: Painter, rng: Rng) -> np.ndarray:
    return p.er


def golgi(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    cell = np.repeat(np.arange(c.n), 30)
    angle = c.polarity[cell] + rng.normal(0, 0.55, len(cell))
    pts = c.nuc_point(cell, rng.uniform(1.1, 1.45, len(cell)), angle)
    keep = c.owner(pts) == cell
    return p.spots(pts, 0.5 * keep, 0.007)


def _puncta(p: Painter, rng: Rng, mean: float, sigma: float, near: float, far: float) -> np.ndarray:
    cell = shapes.per_cell(rng, p.cells, mean, 2)
    pts, keep = shapes.cyto_points(rng, p.cells, cell, near, far)
    return p.spots(pts, rng.uniform(0.6, 1.1, len(cell)) * keep, sigma)


def peroxisomes(p: Painter, rng: Rng) -> np.ndarray:
    return _puncta(p, rng, 40, 0.0028, 1.15, 3.0)


def endosomes(p: Painter, rng: Rng) -> np.ndarray:
    return _puncta(p, rng, 16, 0.005, 1.1, 2.3)


def lysosomes(p: Painter, rng: Rng) -> np.ndarray:
    return _puncta(p, rng, 7, 0.008, 1.1, 1.8)


def intermediate_filaments(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    cell = np.repeat(np.arange(c.n), 10)
    angle = rng.uniform(0, 2 * np.pi, len(cell))
    start = c.nuc_point(cell, rng.uniform(1.1, 1.6, len(cell)), angle)
    tangent = np.pi / 2 - angle + rng.choice([0.0, np.pi], len(cell))  # around the nucleus
    walks = shapes.random_walks(rng, start, tangent, 10, c.radius[cell] * 0.13, 0.3)
    return p.lines(walks, cell, 0.8, 0.0015) + 0.2 * p.scene.ring(1.3, 0.006)


def actin_filaments(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    cell = np.repeat(np.arange(c.n), 9)
    orient = rng.uniform(0, np.pi, c.n)[cell] + rng.normal(0, 0.06, len(cell))
    across = rng.uniform(-0.8, 0.8, len(cell)) * c.radius[cell]
    normal = np.stack([-np.sin(orient), np.cos(orient)], axis=1)
    along = np.stack([np.cos(orient), np.sin(orient)], axis=1) * (1.6 * c.radius[cell])[:, None]
    mid = c.seeds[cell] + normal * across[:, None]
    fibres = p.lines(shapes.segment(mid - along, mid + along, 3), cell, 0.8, 0.0015)
    return fibres + 0.5 * _border(p, p.scene.edge_out, 0.0025)


def focal_adhesions(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    cell = shapes.per_cell(rng, c, 10, 4)
    angle = rng.uniform(0, 2 * np.pi, len(cell))
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    start = c.seeds[cell] + direction * (c.radius[cell] * rng.uniform(0.55, 0.8, len(cell)))[:, None]
    end = start + direction * (c.radius[cell] * 0.18)[:, None]
    return p.lines(shapes.segment(start, end, 2), cell, 1.0, 0.002)


def microtubules(p: Painter, rng: Rng) -> np.ndarray:
    return p.microtubules


def microtubule_ends(p: Painter, rng: Rng) -> np.ndarray:
    ends = p.microtubule_ends
    return p.spots(ends, rng.uniform(1.0, 1.5, len(ends)), 0.003)


def cytokinetic_bridge(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    gaps = np.linalg.norm(c.seeds[:, None] - c.seeds[None], axis=2) + np.eye(c.n) * 9
    i = rng.choice(c.n, size=min(2, c.n), replace=False)
    j = gaps[i].argmin(axis=1)
    mid = 0.5 * (c.seeds[i] + c.seeds[j])
    half = 0.22 * (c.seeds[j] - c.seeds[i])
    bridge = np.concatenate([shapes.segment(mid - half, mid, 4), shapes.segment(mid, mid + half, 4)])
    line = p.lines(bridge, np.concatenate([i, j]), 1.5, 0.003)
    return line + p.spots(mid, 2.0, 0.005)


def mitotic_spindle(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    cell = rng.choice(c.n, size=min(2, c.n), replace=False)
    axis = c.nuc_angle[cell]
    half = (0.6 * c.nuc_axes[cell, 0])[:, None] * np.stack([np.cos(axis), np.sin(axis)], axis=1)
    normal = np.stack([-np.sin(axis), np.cos(axis)], axis=1) * c.nuc_axes[cell, 1][:, None]
    bows = np.linspace(-0.45, 0.45, 7)
    t = np.linspace(0, 1, 9)
    a, b = c.nuc_centre[cell] - half, c.nuc_centre[cell] + half
    arcs = (a[:, None, None] + (b - a)[:, None, None] * t[None, None, :, None]
            + normal[:, None, None] * (bows[None, :, None, None] * np.sin(np.pi * t)[None, None, :, None]))
    fcell = np.repeat(cell, len(bows))
    fibres = p.lines(arcs.reshape(-1, len(t), 2), fcell, 0.7, 0.0015)
    return fibres + p.spots(np.concatenate([a, b]), 1.0, 0.004)


def _beside_nucleus(p: Painter, rng: Rng, rho: float) -> tuple[np.ndarray, np.ndarray]:
    c = p.cells
    cell = np.arange(c.n)
    pts = c.nuc_point(cell, np.full(c.n, rho), c.polarity + rng.normal(0, 0.4, c.n))
    return pts, c.owner(pts) == cell


def mtoc(p: Painter, rng: Rng) -> np.ndarray:
    pts, keep = _beside_nucleus(p, rng, 1.25)
    return p.spots(pts, 2.0 * keep, 0.006) + 0.3 * p.microtubules


def centrosome(p: Painter, rng: Rng) -> np.ndarray:
    pts, keep = _beside_nucleus(p, rng, 1.15)
    pair = np.concatenate([pts, pts + rng.normal(0, 0.006, pts.shape)])
    return p.spots(pair, 2.0 * np.tile(keep, 2), 0.003)


def lipid_droplets(p: Painter, rng: Rng) -> np.ndarray:
    cell = shapes.per_cell(rng, p.cells, 5, 2)
    pts, _ = shapes.cyto_points(rng, p.cells, cell, 1.2, 2.4)
    rings = shapes.circle(pts, rng.uniform(0.006, 0.011, len(cell)), 10)
    return p.lines(rings, cell, 0.8, 0.0015)


def _border(p: Painter, distance_px: np.ndarray, width: float) -> np.ndarray:
    """A line along ``distance_px == 0`` of std ``width`` (field units), integral kept at any R."""
    w = np.hypot(width * p.R, p.scene.psf_px)
    peak = max(width * p.R, PSF_PX) / w
    return peak * np.exp(-0.5 * (distance_px / w) ** 2) * (p.scene.label < p.cells.n)


def plasma_membrane(p: Painter, rng: Rng) -> np.ndarray:
    sc = p.scene
    return _border(p, np.minimum(sc.edge_out, sc.edge_nb), 0.0025) * p.texture


def cell_junctions(p: Painter, rng: Rng) -> np.ndarray:
    sc = p.scene
    shared = sc.edge_nb < sc.edge_out
    return 1.2 * _border(p, sc.edge_nb, 0.003) * shared * p.texture


def mitochondria(p: Painter, rng: Rng) -> np.ndarray:
    sc = p.scene
    tubes = np.exp(-0.5 * (SmoothField(rng, 48).grid(p.R) / 0.25) ** 2)
    pieces = SmoothField(rng, 20).grid(p.R) > -0.4
    return sc.cyto * tubes * pieces * np.clip(1.3 - sc.crho, 0.2, 1.0)


def aggresome(p: Painter, rng: Rng) -> np.ndarray:
    pts, keep = _beside_nucleus(p, rng, 1.35)
    return p.spots(pts, 1.2 * keep, float(p.cells.nuc_axes.mean()) * 0.35)


def cytosol(p: Painter, rng: Rng) -> np.ndarray:
    return 0.6 * p.scene.cyto * p.texture


def cytoplasmic_bodies(p: Painter, rng: Rng) -> np.ndarray:
    return 1.3 * _puncta(p, rng, 1.5, 0.007, 1.3, 2.4)


def rods_and_rings(p: Painter, rng: Rng) -> np.ndarray:
    c = p.cells
    cell = shapes.per_cell(rng, c, 1.5, 1)
    pts, _ = shapes.cyto_points(rng, c, cell, 1.3, 2.4)
    angle = rng.uniform(0, np.pi, len(cell))
    half = 0.012 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    rings = rng.uniform(0, 1, len(cell)) < 0.5
    rods = shapes.segment(pts - half, pts + half, 9)
    circles = shapes.circle(pts, 0.008, 8)
    return p.lines(np.where(rings[:, None, None], circles, rods), cell, 1.2, 0.002)


#: One pattern per class, in HPA label-index order.
PATTERNS: tuple[Pattern, ...] = (
    nucleoplasm, nuclear_membrane, nucleoli, fibrillar_center, nuclear_speckles,
    nuclear_bodies, endoplasmic_reticulum, golgi, peroxisomes, endosomes, lysosomes,
    intermediate_filaments, actin_filaments, focal_adhesions, microtubules, microtubule_ends,
    cytokinetic_bridge, mitotic_spindle, mtoc, centrosome, lipid_droplets, plasma_membrane,
    cell_junctions, mitochondria, aggresome, cytosol, cytoplasmic_bodies, rods_and_rings,
)
