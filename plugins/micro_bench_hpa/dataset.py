"""``HPADataset``: the :class:`micro_bench.components.Dataset` over an HPA zarr store."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.integrity import check_open
from micro_bench_hpa.location import is_remote, local_path
from micro_bench_hpa.split import PARTS, make_split, split_name
from micro_bench_hpa.store import (
    DONE,
    PENDING,
    StoreError,
    array_at,
    open_store,
    read_array,
    resolutions_of,
    store_digest,
    store_dtype,
    strings_attr,
    write_cache_array,
)

__all__ = ["HPADataset", "hpa", "images"]

#: A child of ``micro_bench``: the command line shows its records (on standard error).
_log = logging.getLogger("micro_bench.hpa")


class HPADataset:
    """Samples of a store at one resolution; samples marked bad at conversion are left out.

    Attributes:
        classes: the K class names of the store (HPA: the 28); channels: the C channel names
            (HPA: ``("red", "green", "blue", "yellow")``).
        ids: N ids; labels: ``(N, K) bool``; resolution: R.
        dtype: the pixel type, ``"uint8"`` or ``"uint16"``; max_value: its largest value (255 or
            65535): ``images``, ``reader`` and ``channel_stats`` are on the 0..max_value scale.
        fingerprint: sha256 over ids, labels, per-sample pixel digests, R and the sizes of the
            shard files at R (see :mod:`micro_bench_hpa.integrity`).
        rows: ``(N,) int64`` store row of each sample.
    """

    def __init__(self, store_path: str | Path, resolution: int, *, name: str = "hpa",
                 storage_options: Mapping[str, Any] | None = None, stats_resolution: str | int = "largest") -> None:
        # A folder, or any fsspec URL (micro_bench_hpa.location): the same code reads both.
        self.path: Path | str = str(store_path) if is_remote(store_path) else local_path(store_path)
        self.storage_options = dict(storage_options or {})
        self.name = name
        group = open_store(self.path, storage_options=self.storage_options)
        resolutions = resolutions_of(group)
        if int(resolution) not in resolutions:
            raise StoreError(f"{self.path}: no images at resolution {resolution}; it holds {resolutions}")
        status = read_array(group, "status")
        if (status == PENDING).any():
            raise StoreError(
                f"{self.path}: conversion unfinished ({int((status == PENDING).sum())} samples pending); "
                "run the same `micro-bench data convert` command again to resume"
            )
        self.resolution = int(resolution)
        #: The resolution whose pixels give the channel statistics (:meth:`channel_stats`).
        self.stats_resolution = _stats_resolution(stats_resolution, resolutions, self.resolution, self.path)
        self.rows = np.flatnonzero(status == DONE).astype(np.int64)
        self.classes: Sequence[str] = tuple(strings_attr(group, "classes"))
        self.channels: Sequence[str] = tuple(strings_attr(group, "channels"))
        self.dtype: str = store_dtype(group)
        self.max_value: int = int(np.iinfo(self.dtype).max)
        all_ids = read_array(group, "ids")
        self.ids: Sequence[str] = [str(i) for i in all_ids[self.rows]]
        self.labels: np.ndarray = np.asarray(read_array(group, "labels"), dtype=bool)[self.rows]
        all_digests = read_array(group, "digest")
        self.digests: np.ndarray = all_digests[self.rows]
        self.attrs: dict[str, Any] = dict(group.attrs)
        # Refuses missing or changed shard files (one stat per shard); their sizes are hashed
        # into the fingerprint, so a replaced shard changes the run key.
        shard_sizes = check_open(self.path, self.resolution, status, all_digests, all_ids,
                                 int(array_at(group, "status").chunks[0]), resolutions, store_digest(group),
                                 storage_options=self.storage_options, channels=len(self.channels),
                                 dtype=self.dtype)
        h = hashlib.sha256()
        for part in ("\n".join(self.ids).encode(), self.labels.tobytes(), self.digests.tobytes(), str(self.resolution).encode(),
                     np.asarray(shard_sizes, np.int64).tobytes()):
            h.update(part)
        if self.stats_resolution != self.resolution:  # other statistics standardize the pixels: another key
            h.update(f"stats@{self.stats_resolution}".encode())
        self.fingerprint = h.hexdigest()[:16]
        self._splits: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"HPADataset({str(self.path)!r}, resolution={self.resolution}, n={len(self)})"

    # --- splits -----------------------------------------------------------------------------
    def split_codes(self, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                    method: str = "multilabel_stratified") -> np.ndarray:
        """``(N,) int8`` part codes (0 train, 1 val, 2 test) by ``method``
        (:data:`micro_bench_hpa.split.METHODS`), cached in ``splits/<name>``."""
        key = split_name(fractions, seed, method)
        if key in self._splits:
            return self._splits[key]
        group = open_store(self.path, storage_options=self.storage_options)
        n_store = array_at(group, "status").shape[0]
        cached = f"splits/{key}"
        if cached in group:
            codes = read_array(group, cached)[self.rows]
        else:
            codes = make_split(self.labels, fractions, seed, method)
            full = np.full(n_store, -1, dtype=np.int8)
            full[self.rows] = codes
            # Atomic: a read-only store recomputes it (deterministically) next time.
            if write_cache_array(self.path, cached, full,
                                 {"method": method, "fractions": list(fractions), "seed": seed, "parts": list(PARTS)}):
                _log.info(f"added the split {cached} to {self.path}")
        self._splits[key] = codes
        return codes

    def split_indices(self, part: str, *, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                      method: str = "multilabel_stratified") -> np.ndarray:
        """Sorted ``(n,) int64`` dataset indices of ``part`` (``"train"``, ``"val"`` or ``"test"``)."""
        if part not in PARTS:
            raise ValueError(f"unknown split part {part!r}; expected one of {', '.join(PARTS)}")
        codes = self.split_codes(fractions=fractions, seed=seed, method=method)
        return np.flatnonzero(codes == PARTS.index(part)).astype(np.int64)

    # --- pixels -----------------------------------------------------------------------------
    def images(self, indices: np.ndarray | None = None, *, resolution: int | None = None) -> Any:
        """Lazy ``(n, C, R, R)`` dask array (the store's dtype) of the given dataset indices (all if
        None), at the served R (or another stored ``resolution``)."""
        import dask.array as da

        res = self.resolution if resolution is None else int(resolution)
        arr = array_at(open_store(self.path, storage_options=self.storage_options), f"images/{res}")
        block = arr.shards[0] if arr.shards else arr.chunks[0]
        lazy = da.from_zarr(arr, chunks=(block, *arr.shape[1:]))
        rows = self.rows if indices is None else self.rows[np.asarray(indices, dtype=np.int64)]
        if len(rows) == arr.shape[0] and np.array_equal(rows, np.arange(arr.shape[0])):
            return lazy
        return lazy[rows]

    def channel_stats(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel ``(mean (C,), std (C,))`` float64 on the stored scale (0-255 for uint8,
        0-65535 for uint16) over ``indices``, from their pixels at :attr:`stats_resolution` (by
        default the largest stored resolution, as the paper standardized its 512x512x4 arrays "with
        respect to the training set" before resizing; ``stats_resolution: served`` computes them at
        the served resolution).

        Cached in ``stats/rows_<hash of the store rows>/<resolution>`` as a ``(2, C) float64`` array
        when the store is writable: one entry per split's train part, shared by every served
        resolution.
        """
        from micro_bench_hpa.stats import channel_mean_std

        idx = np.asarray(indices, dtype=np.int64)
        digest = hashlib.sha256(np.ascontiguousarray(self.rows[idx]).tobytes()).hexdigest()[:16]
        key = f"stats/rows_{digest}/{self.stats_resolution}"
        group = open_store(self.path, storage_options=self.storage_options)
        if key in group:
            ms = read_array(group, key)
            return ms[0].astype(np.float64), ms[1].astype(np.float64)
        mean, std = channel_mean_std(self.images(idx, resolution=self.stats_resolution))
        if write_cache_array(self.path, key, np.stack([mean, std])):  # atomic; read-only: recomputed
            _log.info(f"added channel statistics {key} to {self.path}")
        return mean, std

    def reader(self) -> Any:
        """A picklable ``reader(indices) -> (n, C, R, R)`` (the store's dtype) of dataset indices (byte-range
        reads; the torch trainer's input path)."""
        from micro_bench_hpa.torch_data import StoreReader

        return StoreReader(self.path, self.resolution, self.rows, storage_options=self.storage_options)

    def describe(self) -> Mapping[str, Any]:
        """``{"name", "n", "resolution", "source", "fingerprint", "store", "classes", "channels"}``."""
        synthetic = "generator_version" in self.attrs.get("synth", {})
        return {
            # a store converted from `data synth --png` folders holds hpa_synth's pixels: say so
            "name": "hpa_synth" if synthetic and self.name == "hpa" else self.name,
            "n": len(self),
            "resolution": self.resolution,
            "source": self.attrs.get("source", ""),
            "fingerprint": self.fingerprint,
            "store": str(self.path),
            "classes": len(self.classes),
            "class_names": list(self.classes),
            "channels": list(self.channels),
            **({"dtype": self.dtype} if self.dtype != "uint8" else {}),
            **({"layout": self.attrs["layout"]} if "layout" in self.attrs else {}),
            "tool_version": self.attrs.get("tool_version", ""),
            "stats_resolution": self.stats_resolution,
            **({"generator_version": self.attrs["synth"]["generator_version"],
                "about": "hpa_synth is the embedded synthetic data (real HPA label sets on rendered cells, "
                         "not HPA images): these values are not the paper's (docs/data.md)."}
               if "generator_version" in self.attrs.get("synth", {}) else {}),
        }


def _stats_resolution(rule: str | int, resolutions: Sequence[int], served: int, path: Any) -> int:
    """The resolution ``stats_resolution`` names: ``largest`` (stored), ``served``, or a stored one."""
    if rule == "largest":
        return max(int(r) for r in resolutions)
    if rule == "served":
        return served
    if isinstance(rule, int) and not isinstance(rule, bool) and rule in resolutions:
        return int(rule)
    raise StoreError(f"{path}: stats_resolution must be 'largest', 'served' or a stored resolution "
                     f"({', '.join(str(r) for r in resolutions)}), got {rule!r}")


def hpa(store: str = "data/hpa.zarr", resolution: int = 256,
        storage_options: Mapping[str, Any] | None = None, external: str | None = None,
        stats_resolution: str | int = "largest") -> Any:
    """The real HPA data, from a store made by ``micro-bench data convert``.

    Args:
        store: the zarr store: a path, a ``file://`` URL or any fsspec URL (``s3://bucket/hpa.zarr``).
        resolution: image side to serve (one the store was converted at: 512, 256 or 64 by default).
        storage_options: passed to fsspec for a URL (credentials, endpoint_url, ...).
        external: a second store (the HPA v18 external data, converted the same way) added to the
            training part only, without images that duplicate the main store's
            (:class:`~micro_bench_hpa.external.WithExternal`).
        stats_resolution: whose pixels give the channel statistics: ``largest`` (the store's
            largest resolution, applied at every served one: the paper's standardization before
            resizing), ``served`` (the served resolution's own pixels, the behaviour before this option),
            or one stored resolution.
    """
    if external is not None:
        from micro_bench_hpa.external import WithExternal

        return WithExternal(hpa(store, resolution, storage_options, stats_resolution=stats_resolution),
                            hpa(external, resolution, storage_options, stats_resolution=stats_resolution),
                            name=str(external))
    if is_remote(store):
        return HPADataset(store, resolution, name="hpa", storage_options=storage_options,
                          stats_resolution=stats_resolution)
    path = local_path(store)
    if not path.exists():
        raise StoreError(
            f"HPA store not found at {path.resolve()}: download the Kaggle 'Human Protein Atlas Image "
            f"Classification' train set (see data/README.md), then run `micro-bench data convert "
            f"<download folder> {store}`; or use `--profile smoke`, which runs on the embedded hpa_synth dataset"
        )
    return HPADataset(path, resolution, name="hpa", stats_resolution=stats_resolution)


def images(store: str, resolution: int = 256, storage_options: Mapping[str, Any] | None = None,
           stats_resolution: str | int = "largest") -> HPADataset:
    """Any store made by ``micro-bench data convert`` (any channels, classes and pixel type).

    Args:
        store: the zarr store: a path, a ``file://`` URL or any fsspec URL.
        resolution: image side to serve (one the store was converted at).
        storage_options: passed to fsspec for a URL (credentials, endpoint_url, ...).
        stats_resolution: whose pixels give the channel statistics (as :func:`hpa`'s: ``largest``,
            ``served`` or a stored resolution).

    The class names, channel names and pixel type come from the store (``micro-bench data info
    STORE`` lists them).
    """
    if not is_remote(store) and not local_path(store).exists():
        raise StoreError(f"store not found at {local_path(store).resolve()}: make it with "
                         f"`micro-bench data convert SRC {store} --labels LABELS.csv ...` (docs/data.md, "
                         "\"Your own data\")")
    return HPADataset(store, resolution, name="images", storage_options=storage_options,
                      stats_resolution=stats_resolution)
