"""Resolution-independent random fields and point stamping, the drawing primitives of the renderer.

Every shape is defined in *field coordinates*: ``(y, x)`` in ``[0, 1]``, the unit square of
the image. A pixel ``(i, j)`` of an ``R x R`` image has its centre at ``((i + .5) / R,
(j + .5) / R)``. Random draws never depend on ``R``, so the same seed renders the same scene at
every resolution; only the sampling differs. A Gaussian point-spread function of
:data:`PSF_PX` pixels is applied to every stamped shape, which anti-aliases small shapes at low
resolution while keeping their integrated intensity, as a downsampled image would.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["PSF_PX", "SmoothField", "pixel_centres", "stamp", "polyline_points"]

#: Standard deviation (pixels) of the point-spread function applied to stamped shapes.
PSF_PX = 0.5
DTYPE = np.float64


@lru_cache(maxsize=16)
def pixel_centres(resolution: int) -> np.ndarray:
    """``(R,) float64``: field coordinates of the pixel centres along one axis."""
    out = (np.arange(resolution, dtype=DTYPE) + 0.5) / resolution
    out.setflags(write=False)
    return out


def _basis(coords: np.ndarray, nodes: int) -> np.ndarray:
    """``(m, nodes + 4)`` Gaussian radial basis on a regular grid, rows of unit norm."""
    centres = (np.arange(nodes + 4, dtype=DTYPE) - 1.5) / nodes
    width = 0.75 / nodes
    b = np.exp(-0.5 * ((coords[:, None] - centres[None, :]) / width) ** 2)
    return b / np.sqrt((b * b).sum(axis=1, keepdims=True))


@lru_cache(maxsize=64)
def _pixel_basis(resolution: int, nodes: int) -> np.ndarray:
    b = _basis(pixel_centres(resolution), nodes)
    b.setflags(write=False)
    return b


class SmoothField:
    """A smooth Gaussian random field on the unit square with unit variance everywhere.

    The field is ``sum_jk G[j, k] b_j(y) b_k(x)`` with ``G`` standard normal on a
    ``(nodes + 4)^2`` grid and ``b`` Gaussian bumps of width ``0.75 / nodes``: its correlation
    length is about ``1 / nodes`` of the image side, whatever the resolution.

    Args:
        rng: source of the grid weights (``(nodes + 4)^2`` normal draws).
        nodes: grid nodes across the image (the field's detail).
    """

    def __init__(self, rng: np.random.Generator, nodes: int) -> None:
        self.nodes = nodes
        self.weights = rng.standard_normal((nodes + 4, nodes + 4))

    def grid(self, resolution: int) -> np.ndarray:
        """``(R, R) float64`` values at the pixel centres (two small matrix products)."""
        b = _pixel_basis(resolution, self.nodes)
        return b @ self.weights @ b.T

    def at(self, points: np.ndarray) -> np.ndarray:
        """``(m,) float64`` values at ``points`` ``(m, 2)`` (field coordinates ``(y, x)``)."""
        by = _basis(points[:, 0], self.nodes)
        bx = _basis(points[:, 1], self.nodes)
        return np.einsum("mj,jk,mk->m", by, self.weights, bx)


def stamp(
    points: np.ndarray,
    amplitudes: np.ndarray | float,
    sigma: float,
    resolution: int,
    psf_px: float = PSF_PX,
) -> np.ndarray:
    """Render Gaussian spots, with the point-spread function, into an ``(R, R)`` image.

    Few spots are added kernel by kernel; many (filaments are dense rows of spots) are splatted
    bilinearly and blurred once, whichever is cheaper.

    Args:
        points: ``(m, 2)`` spot centres in field coordinates ``(y, x)``.
        amplitudes: ``(m,)`` or scalar peak heights at infinite resolution.
        sigma: spot standard deviation in field units (``0`` for an impulse).
        resolution: R.
        psf_px: std of the point-spread function in pixels (blur), ``>= PSF_PX``.

    Returns:
        ``(R, R) float64``. Each spot keeps its integral ``2 pi (sigma R)^2 * amplitude``
        (pixel units; ``2 pi PSF_PX^2 * amplitude`` for an impulse), spread over
        ``sqrt((sigma R)^2 + psf_px^2)`` pixels.
    """
    R = resolution
    points = np.asarray(points, dtype=DTYPE).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros((R, R), dtype=DTYPE)
    amps = np.broadcast_to(np.asarray(amplitudes, dtype=DTYPE), (len(points),))
    s_px = sigma * R
    s_eff = float(np.hypot(s_px, psf_px))
    integral = amps * 2 * np.pi * max(s_px, PSF_PX) ** 2
    k = int(np.ceil(2.5 * s_eff))
    # measured on one core: a kernel tap costs ~8 filter taps per pixel
    if 8 * len(points) * (2 * k + 1) ** 2 < 2 * R * R * (2 * k + 1) + 40 * len(points):
        return _direct(points * R - 0.5, integral, s_eff, k, R)
    img = _splat(points * R - 0.5, integral, R, pad=k)
    return _blur(img, s_eff, k) if s_eff > 0 else img[k : k + R, k : k + R]


def _direct(pix: np.ndarray, integral: np.ndarray, s: float, k: int, R: int) -> np.ndarray:
    """Add normalized Gaussian kernels of std ``s`` pixels at pixel positions ``pix`` ``(m, 2)``."""
    offs = np.arange(-k, k + 1)
    base = np.floor(pix).astype(np.int64)
    idx = base[:, :, None] + offs[None, None, :]  # (m, 2, 2k+1)
    w = np.exp(-0.5 * ((idx - pix[:, :, None]) / s) ** 2) / (np.sqrt(2 * np.pi) * s)
    w *= (idx >= 0) & (idx < R)
    idx = np.clip(idx, 0, R - 1)
    flat = idx[:, 0, :, None] * R + idx[:, 1, None, :]
    weights = (integral[:, None, None] * w[:, 0, :, None]) * w[:, 1, None, :]
    out = np.bincount(flat.ravel(), weights.ravel(), minlength=R * R)
    return out.reshape(R, R)


def _splat(pix: np.ndarray, integral: np.ndarray, R: int, pad: int = 0) -> np.ndarray:
    """Bilinear splat of point masses ``integral`` at pixel positions ``pix`` ``(m, 2)``.

    Returns ``(R + 2 pad, R + 2 pad) float64``: the image with a ``pad``-pixel margin, so that
    mass just outside the image still blurs into it (one ``bincount`` for all four corners).
    """
    P = R + 2 * pad
    pix = pix + pad
    base = np.floor(pix).astype(np.int64)
    f = pix - base
    fy, fx = f[:, 0], f[:, 1]
    iy = base[:, 0] + np.array([0, 0, 1, 1])[:, None]  # (4, m)
    ix = base[:, 1] + np.array([0, 1, 0, 1])[:, None]
    w = integral * np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx])
    ok = (iy >= 0) & (iy < P) & (ix >= 0) & (ix < P)
    flat = np.where(ok, iy * P + ix, 0)
    return np.bincount(flat.ravel(), (w * ok).ravel(), minlength=P * P).reshape(P, P)


def _blur(padded: np.ndarray, s: float, k: int) -> np.ndarray:
    """``(R, R)``: Gaussian blur (std ``s`` px, ``k`` taps each side) of a ``k``-padded image.

    ``scipy.ndimage.gaussian_filter`` with ``radius=k`` and zeros beyond the padding, cropped
    to the image.
    """
    from scipy.ndimage import gaussian_filter

    R = padded.shape[0] - 2 * k
    return gaussian_filter(padded, s, radius=k, mode="constant")[k : k + R, k : k + R]


def polyline_points(nodes: np.ndarray, resolution: int, step_px: float = 0.8) -> np.ndarray:
    """Dense points along polylines, about ``step_px`` pixels apart, for :func:`stamp`.

    Args:
        nodes: ``(f, k, 2)`` vertices of ``f`` polylines with ``k`` vertices each, roughly evenly
            spaced along each line (field coordinates).
        resolution: R (sets the density).
        step_px: spacing of the returned points in pixels.

    Returns:
        ``(f, s, 2)`` points; ``s`` grows with the longest segment and with ``R``.
    """
    seg = np.linalg.norm(np.diff(nodes, axis=1), axis=2)  # (f, k-1)
    per_seg = max(1, int(np.ceil(seg.max(initial=0.0) * resolution / step_px)))
    t = np.arange(per_seg, dtype=DTYPE) / per_seg
    a, b = nodes[:, :-1, None, :], nodes[:, 1:, None, :]
    pts = a + (b - a) * t[None, None, :, None]  # (f, k-1, per_seg, 2)
    return pts.reshape(len(nodes), -1, 2)
