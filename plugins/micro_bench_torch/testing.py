"""An in-memory :class:`~micro_bench.components.Dataset` for tests and performance benchmarks.

Not for real data (everything lives in RAM): it lets the trainer, ``lr_find`` and
``benchmarks/perf/trainer.py`` run without a zarr store. Labels leave a learnable trace: class
``k`` brightens its own horizontal band of the green channel.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["InMemoryDataset", "synthetic_dataset"]


class _ArrayReader:
    """``indices -> (n, C, R, R) uint8`` from an in-memory array (picklable)."""

    def __init__(self, images: np.ndarray) -> None:
        self.images = images

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        return self.images[np.asarray(indices, dtype=np.int64)]


class InMemoryDataset:
    """A multi-label dataset held as numpy arrays.

    Args:
        images: ``(N, C, R, R) uint8``.
        labels: ``(N, K) bool``.
        classes: K names (default ``"0".."K-1"``).
        channels: C names (default red, green, blue, yellow, ...).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: Sequence[str] | None = None,
                 channels: Sequence[str] | None = None) -> None:
        if images.ndim != 4 or images.dtype != np.uint8 or images.shape[2] != images.shape[3]:
            raise ValueError(f"images must be (N, C, R, R) uint8, got {images.shape} {images.dtype}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels {labels.shape} and images {images.shape} disagree on N")
        self._images, self.labels = images, labels.astype(bool)
        self.classes = list(classes) if classes is not None else [str(k) for k in range(labels.shape[1])]
        names = ("red", "green", "blue", "yellow")
        self.channels = list(channels) if channels is not None else [
            names[c] if c < 4 else f"c{c}" for c in range(images.shape[1])]
        self.ids = [f"s{i:05d}" for i in range(len(images))]
        self.resolution = images.shape[-1]
        self._stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.fingerprint = hashlib.sha256(images.tobytes() + self.labels.tobytes()).hexdigest()[:16]

    def split_indices(self, part: str, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
        """Sorted ``int64`` indices of ``part`` from a seeded permutation cut by ``fractions``."""
        order = np.random.default_rng(seed).permutation(len(self.ids))
        cuts = np.round(np.cumsum(fractions) * len(order)).astype(int)
        parts = dict(zip(("train", "val", "test"), np.split(order, cuts[:2]), strict=True))
        return np.sort(parts[part]).astype(np.int64)

    def images(self, indices: np.ndarray | None = None) -> Any:
        """``(n, C, R, R) uint8`` dask array."""
        import dask.array as da

        data = self._images if indices is None else self._images[np.asarray(indices)]
        return da.from_array(data, chunks=(1, *data.shape[1:]))

    def channel_stats(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(mean (C,), std (C,))`` float64 over ``indices``, on the 0-255 scale
        (computed once per index set, like the stats a real store keeps)."""
        idx = np.asarray(indices, dtype=np.int64)
        key = hashlib.sha256(idx.tobytes()).hexdigest()
        if key not in self._stats:
            train = self._images[idx]
            mean = train.mean(axis=(0, 2, 3), dtype=np.float64)
            std = train.std(axis=(0, 2, 3), dtype=np.float64) + 1e-6
            self._stats[key] = (mean, std)
        return self._stats[key]

    def reader(self) -> _ArrayReader:
        """``reader(indices) -> (n, C, R, R) uint8`` (the torch trainer's input path)."""
        return _ArrayReader(self._images)

    def describe(self) -> Mapping[str, Any]:
        return {"name": "in_memory", "n": len(self.ids), "resolution": self.resolution}


def synthetic_dataset(n: int = 32, k: int = 3, resolution: int = 32, channels: int = 4, seed: int = 0) -> InMemoryDataset:
    """``n`` noisy images; class ``k`` (present with probability 0.4) brightens band ``k`` of green."""
    rng = np.random.default_rng(seed)
    labels = rng.random((n, k)) < 0.4
    images = rng.normal(60, 20, (n, channels, resolution, resolution))
    band = resolution // k
    for j in range(k):
        images[labels[:, j], 1 % channels, j * band : (j + 1) * band] += 100
    return InMemoryDataset(np.clip(images, 0, 255).astype(np.uint8), labels)
