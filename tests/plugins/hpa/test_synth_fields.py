"""hpa_synth drawing primitives: the fast splat and blur equal scipy's reference filter."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from micro_bench_hpa.synth.fields import _blur, _splat, stamp
from micro_bench_hpa.synth.heap import retain_freed_buffers


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), s=st.floats(0.5, 3.0), R=st.integers(8, 48))
def test_blur_equals_scipy_gaussian_filter(seed: int, s: float, R: int) -> None:
    k = int(np.ceil(2.5 * s))
    rng = np.random.default_rng(seed)
    padded = np.zeros((R + 2 * k, R + 2 * k))
    padded[k:-k, k:-k] = rng.uniform(0, 1, (R, R))
    ref = ndimage.gaussian_filter(padded[k:-k, k:-k], s, truncate=(k + 0.4) / s, mode="constant")
    np.testing.assert_allclose(_blur(padded, s, k), ref, atol=1e-12)


def test_splat_keeps_mass_and_position() -> None:
    pix = np.array([[3.25, 4.5], [-0.5, 2.0], [10.0, 10.0]])
    img = _splat(pix, np.array([1.0, 2.0, 4.0]), R=8, pad=2)
    assert img.shape == (12, 12)
    assert img.sum() == 3.0  # the last point is outside even the margin
    assert img[5, 6] == 0.75 * 0.5 and img[6, 7] == 0.25 * 0.5
    assert img[1, 4] == 1.0 and img[2, 4] == 1.0


def test_stamp_many_points_keeps_integral_inside() -> None:
    pts = np.random.default_rng(0).uniform(0.3, 0.7, (4000, 2))
    img = stamp(pts, 1.0, 0.0, 64)
    np.testing.assert_allclose(img.sum(), 4000 * 2 * np.pi * 0.25, rtol=1e-9)


def test_retain_freed_buffers_is_idempotent() -> None:
    assert retain_freed_buffers() == retain_freed_buffers()
