"""Pixel features of the baselines: standardized ``(C, R, R)`` images flattened (paper III-A).

Images stream from the dataset's dask array straight into one preallocated ``float32`` matrix
with ``dask.array.store``, so the features exist once in memory (no concatenated copy). The store
runs on the local threaded scheduler on purpose: inside a dask.distributed worker the default
scheduler is the cluster, which would fill a copy of ``out`` in another process and leave this
one all zeros (every baseline then predicted a constant under ``--executor dask``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["pixel_features"]


def pixel_features(
    dataset: Any, indices: np.ndarray, mean: np.ndarray, std: np.ndarray, *, resolution: int
) -> np.ndarray:
    """``(n, C * resolution**2) float32`` standardized pixels of ``dataset`` samples ``indices``.

    Args:
        dataset: a :class:`micro_bench.components.Dataset`; ``images(indices)`` is a dask
            ``(n, C, R, R) uint8`` array.
        indices: ``(n,) int`` sample indices.
        mean, std: ``(C,)`` per-channel statistics on the 0-255 scale.
        resolution: side length of the features; ``R`` must equal it or be a multiple of it
            (then ``R / resolution`` pixel blocks are averaged with ``dask.array.coarsen``).

    Raises:
        ValueError: ``R`` is not a multiple of ``resolution``, or ``mean``/``std`` do not have C
            entries, or a std is not positive.
    """
    import dask.array as da

    images = dataset.images(np.asarray(indices))
    n, channels, height, width = images.shape
    mean = np.asarray(mean, dtype=np.float32).reshape(-1)
    std = np.asarray(std, dtype=np.float32).reshape(-1)
    if mean.shape != (channels,) or std.shape != (channels,):
        raise ValueError(f"sklearn trainer: channel stats must have {channels} entries, got {mean.shape} and {std.shape}")
    if not (std > 0).all():
        raise ValueError(f"sklearn trainer: channel std must be > 0, got {std.tolist()}")
    if height != width or height % resolution:
        from micro_bench.errors import ConfigError  # the user's settings, not a bug: one line

        raise ConfigError(
            f"trainer.resolution: the sklearn trainer pools to {resolution} px, but the dataset's images are "
            f"{height}x{width}; set trainer.resolution to a divisor of {height} (e.g. {_divisor(height, resolution)}) "
            f"or dataset.resolution to a multiple of {resolution}"
        )
    x = images.rechunk({1: -1, 2: -1, 3: -1}).astype(np.float32)
    factor = height // resolution
    if factor > 1:
        x = da.coarsen(np.mean, x, {2: factor, 3: factor}).astype(np.float32)
    x = (x - mean[None, :, None, None]) / std[None, :, None, None]
    out = np.empty((n, channels * resolution * resolution), dtype=np.float32)
    da.store(x.reshape(n, -1), out, lock=False, scheduler="threads")
    return out


def _divisor(side: int, wanted: int) -> int:
    """The largest divisor of ``side`` not above ``wanted`` (at least 1)."""
    return max((d for d in range(1, min(side, wanted) + 1) if side % d == 0), default=1)
