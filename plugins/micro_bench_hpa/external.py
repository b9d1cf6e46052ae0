"""An extra training source: the HPA v18 external data (or any second store) appended to a dataset.

The Kaggle competition's best solutions trained on the HPA v18 external images as well
(``HPAv18RBGY_wodpl.csv``, converted by ``micro-bench data convert`` like the competition's own
data). :class:`WithExternal` puts them beside a dataset under the paper's protocol:

* external samples get the indices after the main ones and belong to the training part of every
  split; validation and test are the main dataset's own parts, unchanged;
* an external sample whose pixels equal a main sample's (same pixel digest; the external set is
  known to overlap the competition's images) is left out, so no validation or test image is
  trained on; how many were left out is recorded;
* channel statistics over a mixed index set pool the two stores' (cached) statistics exactly
  (same pixel count per sample);
* the fingerprint covers both stores and the kept external rows, so the run key changes with
  either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from micro_bench.errors import ParameterError

__all__ = ["ExternalReader", "WithExternal"]


class ExternalReader:
    """``reader(indices) -> (n, C, R, R) uint8`` over the main reader then the external one."""

    def __init__(self, main: Any, external: Any, n_main: int, keep: np.ndarray) -> None:
        self.main, self.external, self.n_main, self.keep = main, external, int(n_main), np.asarray(keep, np.int64)

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        is_ext = idx >= self.n_main
        if not is_ext.any():
            return np.asarray(self.main(idx))
        if is_ext.all():
            return np.asarray(self.external(self.keep[idx - self.n_main]))
        first = np.asarray(self.main(idx[~is_ext]))
        out = np.empty((len(idx), *first.shape[1:]), dtype=first.dtype)
        out[~is_ext] = first
        out[is_ext] = self.external(self.keep[idx[is_ext] - self.n_main])
        return out


class WithExternal:
    """``main`` plus the samples of ``external`` that do not duplicate a main image (training only).

    Both must be HPA datasets of one resolution with the same classes, channels and pixel digest.
    """

    def __init__(self, main: Any, external: Any, *, name: str = "external") -> None:
        for attr in ("classes", "channels", "resolution"):
            if list(np.atleast_1d(getattr(main, attr))) != list(np.atleast_1d(getattr(external, attr))):
                raise ParameterError(f"dataset external: {attr} of {external.path} differ from the main store's")
        algo = (main.attrs.get("digest"), external.attrs.get("digest"))
        if algo[0] != algo[1]:
            raise ParameterError(f"dataset external: {external.path} digests pixels with {algo[1] or 'blake2b-64'}, "
                                 f"the main store with {algo[0] or 'blake2b-64'}: duplicates cannot be found; "
                                 "convert both with the same micro-bench version")
        duplicate = np.isin(external.digests, main.digests)
        self.main, self.external, self.name = main, external, name
        self.keep = np.flatnonzero(~duplicate).astype(np.int64)
        self.duplicates_removed = int(duplicate.sum())
        self.n_main = len(main.ids)
        self.classes: Sequence[str] = main.classes
        self.channels: Sequence[str] = main.channels
        self.resolution = main.resolution
        self.ids: Sequence[str] = [*main.ids, *(external.ids[i] for i in self.keep)]
        self.labels: np.ndarray = np.concatenate([main.labels, external.labels[self.keep]])
        h = hashlib.sha256(f"{main.fingerprint}|{external.fingerprint}|".encode())
        h.update(self.keep.tobytes())
        self.fingerprint = h.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.ids)

    def is_external(self, indices: np.ndarray) -> np.ndarray:
        """``(n,) bool``: which of ``indices`` are external samples."""
        return np.asarray(indices, dtype=np.int64) >= self.n_main

    def split_indices(self, part: str, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                      method: str = "multilabel_stratified") -> np.ndarray:
        """The main dataset's part; ``train`` also holds every kept external sample."""
        idx = self.main.split_indices(part, fractions=fractions, seed=seed, method=method)
        if part == "train":
            idx = np.concatenate([idx, self.n_main + np.arange(len(self.keep), dtype=np.int64)])
        return idx

    def images(self, indices: np.ndarray | None = None) -> Any:
        """Lazy ``(n, C, R, R) uint8`` dask array (main samples, then the kept external ones)."""
        import dask.array as da

        both = da.concatenate([self.main.images(), self.external.images(self.keep)], axis=0)
        return both if indices is None else both[np.asarray(indices, dtype=np.int64)]

    def channel_stats(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(mean, std)`` over ``indices``, pooled exactly from each store's statistics."""
        idx = np.asarray(indices, dtype=np.int64)
        ext = self.is_external(idx)
        parts: list[tuple[int, tuple[np.ndarray, np.ndarray]]] = []
        if (~ext).any():
            parts.append((int((~ext).sum()), self.main.channel_stats(idx[~ext])))
        if ext.any():
            parts.append((int(ext.sum()), self.external.channel_stats(self.keep[idx[ext] - self.n_main])))
        n = sum(k for k, _ in parts)
        mean = np.sum([k * np.asarray(m, np.float64) for k, (m, _) in parts], axis=0) / n
        second = np.sum([k * (np.asarray(s, np.float64) ** 2 + np.asarray(m, np.float64) ** 2) for k, (m, s) in parts],
                        axis=0) / n
        return mean, np.sqrt(np.maximum(second - mean**2, 0.0))

    def reader(self) -> ExternalReader:
        """The torch trainer's uint8 reader over both stores."""
        return ExternalReader(self.main.reader(), self.external.reader(), self.n_main, self.keep)

    def describe(self) -> Mapping[str, Any]:
        out = dict(self.main.describe())
        ext = dict(self.external.describe())
        out.update(n=len(self), fingerprint=self.fingerprint, external={
            "name": self.name, "source": ext.get("source", ""), "store": ext.get("store", ""),
            "n": len(self.keep), "duplicates_removed": self.duplicates_removed, "fingerprint": self.external.fingerprint})
        return out
