"""Per-channel mean and std of the training part, computed chunk by chunk with dask."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["channel_mean_std"]


def channel_mean_std(images: Any) -> tuple[np.ndarray, np.ndarray]:
    """Population mean and std per channel over samples and pixels.

    Args:
        images: ``(n, C, R, R) uint8`` dask (or numpy) array; read one chunk at a time.

    Returns:
        ``(mean (C,) float64, std (C,) float64)`` on the 0-255 scale.
    """
    import dask.array as da

    x = da.asarray(images)
    if x.shape[0] == 0:
        raise ValueError("channel statistics need at least one sample, got an empty selection")
    x = x.astype(np.float64)
    n = x.shape[0] * x.shape[2] * x.shape[3]
    s, s2 = da.compute(x.sum(axis=(0, 2, 3)), (x * x).sum(axis=(0, 2, 3)))
    mean = s / n
    var = np.maximum(s2 / n - mean * mean, 0.0)
    return mean, np.sqrt(var)
