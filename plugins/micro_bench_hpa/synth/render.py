"""Render synthetic HPA samples: four stains of a field of cells, green = sum of label patterns.

Every random draw of sample ``index`` comes from ``numpy.random.SeedSequence(seed,
spawn_key=(index, stream))``, one stream per purpose (cells, landmarks, acquisition, camera
noise, one per class), so a sample depends only on ``(seed, index, labels, difficulty)`` and
not on which other samples are rendered or in what order. Geometry is drawn in field
coordinates, so every resolution shows the same cells; a multi-resolution store renders each
resolution directly from the same scene (sharper than downsampling and as cheap).

Shapes are computed in float64 (so that the few-ULP differences of SIMD ``exp``/``sin``
kernels between CPUs cannot move a value across a rounding boundary in practice) and the final
camera model in float32 with exactly rounded operations only: the same seed gives the same
bytes on any platform with the same numpy random streams.
"""

from __future__ import annotations

import numpy as np

from micro_bench_hpa.synth.fields import PSF_PX
from micro_bench_hpa.synth.painter import Painter
from micro_bench_hpa.synth.patterns import PATTERNS
from micro_bench_hpa.synth.scene import Scene, draw_cells

__all__ = ["GENERATOR_VERSION", "render_batch", "render_sample"]

#: Bumped whenever the same (seed, index, labels, difficulty) would render different pixels.
GENERATOR_VERSION = 3  # 2: faster rasterization and filament blur (issue 4); 3: blur through scipy
_CELLS, _LANDMARKS, _ACQUISITION, _NOISE, _CLASS0 = 0, 1, 2, 3, 100


def _rng(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, stream)))


def render_sample(
    labels: np.ndarray, *, resolution: int, seed: int, index: int, difficulty: float = 0.5
) -> np.ndarray:
    """Render one sample.

    Args:
        labels: ``(28,) bool`` label set (its classes' patterns make up the green channel).
        resolution: side length R in pixels.
        seed: dataset seed.
        index: sample index within the dataset.
        difficulty: ``0..1``; raises camera noise, blur, intensity jitter and background
            haze, and lowers the contrast of the green pattern and the share of expressing cells.

    Returns:
        ``(4, R, R) uint8`` in channel order red, green, blue, yellow.
    """
    labels = np.asarray(labels, dtype=bool)
    if labels.shape != (len(PATTERNS),):
        raise ValueError(f"labels must be ({len(PATTERNS)},) bool, got shape {labels.shape}")
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    if resolution < 8:
        raise ValueError(f"resolution must be >= 8 pixels, got {resolution}")
    d = float(difficulty)
    cells = draw_cells(_rng(seed, index, _CELLS))
    blur_px = 0.006 * d * resolution  # optical blur, carried by the point-spread function
    scene = Scene(cells, resolution, psf_px=float(np.hypot(PSF_PX, blur_px)))
    painter = Painter(scene, _rng(seed, index, _LANDMARKS))
    acq = _rng(seed, index, _ACQUISITION)
    gains = np.exp(acq.normal(0.0, 0.08 + 0.3 * d, 4)) * np.array([0.75, 1.0, 0.85, 0.75])
    green_gain = acq.uniform(0.55, 1.0)
    expression = np.exp(acq.normal(0.0, 0.15 + 0.5 * d, cells.n))
    expression *= acq.uniform(0, 1, cells.n) >= 0.35 * d  # some cells do not express
    if not expression.any():
        expression[acq.integers(cells.n)] = 1.0
    haze = 0.04 + 0.2 * d
    contrast = 1.0 - 0.45 * d

    green = np.zeros((resolution, resolution))
    for k in np.flatnonzero(labels):
        green += PATTERNS[k](painter, _rng(seed, index, _CLASS0 + int(k)))
    green *= contrast
    green *= painter.per_cell_map(expression)
    green += haze * scene.cell * painter.texture
    green *= green_gain
    # float64 products, cast once into one float32 buffer (no float64 (4, R, R) temporary)
    signal = np.empty((4, resolution, resolution), dtype=np.float32)
    for ch, stain, per_cell in ((0, painter.microtubules, cells.brightness[:, 0]), (1, green, None),
                                (2, painter.nuclei, cells.brightness[:, 1]),
                                (3, painter.er, cells.brightness[:, 2])):
        if per_cell is not None:
            stain = stain * painter.per_cell_map(per_cell)
        np.multiply(stain, gains[ch], out=signal[ch])
    return _camera(signal, d, _rng(seed, index, _NOISE))


def _camera(signal: np.ndarray, d: float, rng: np.random.Generator) -> np.ndarray:
    """Dark level, signal-dependent (Poisson-like) and read noise, then 8-bit quantization.

    Args:
        signal: ``(4, R, R) float32`` stain intensities (about 0..1); overwritten.

    Returns:
        ``(4, R, R) uint8``. Only exactly rounded float32 operations, so the bytes match on any
        machine.
    """
    np.maximum(signal, 0.0, out=signal)
    signal *= np.float32(0.8 * 255.0)
    signal += np.float32(0.02 * 255.0)
    sd = signal * np.float32(255.0 * (0.002 + 0.03 * d))
    sd += np.float32((255.0 * (0.005 + 0.05 * d)) ** 2)
    np.sqrt(sd, out=sd)
    sd *= _unit_noise(rng, signal.shape)
    signal += sd
    np.rint(signal, out=signal)
    np.clip(signal, 0, 255, out=signal)
    return signal.astype(np.uint8)


def _unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-mean, unit-variance float32 noise: the difference of two uniform bytes (triangular;
    about 3x cheaper than ``standard_normal`` and indistinguishable after 8-bit rounding)."""
    u = rng.integers(0, 1 << 16, size=shape, dtype=np.uint16)
    noise = np.subtract(u & 255, u >> 8, dtype=np.float32)
    noise *= np.float32(1.0 / (255.0 * np.sqrt(1.0 / 6.0)))
    return noise


def render_batch(
    label_sets: np.ndarray, *, resolution: int, seed: int, start: int = 0, difficulty: float = 0.5
) -> np.ndarray:
    """``(n, 4, R, R) uint8``: samples ``start .. start + n`` for ``label_sets`` ``(n, 28) bool``."""
    out = np.empty((len(label_sets), 4, resolution, resolution), dtype=np.uint8)
    for i, labels in enumerate(label_sets):
        out[i] = render_sample(labels, resolution=resolution, seed=seed, index=start + i,
                               difficulty=difficulty)
    return out
