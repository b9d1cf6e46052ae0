"""The training path's sample reader: uint8 samples of a store by dataset index, for any process.

:class:`StoreReader` is what ``HPADataset.reader()`` returns and what the torch trainer's
DataLoader workers call with a batch of dataset indices: ``(n, 4, R, R) uint8``, read with
:class:`~micro_bench_hpa.fastread.SampleReader` (byte-range reads of one sample, about 10x
cheaper than a ``zarr.Array`` call) straight into one batch array. Nothing else happens on the
host: float conversion, augmentation and standardization run batched on the device
(``micro_bench_torch.inputs``). The reader pickles without its open store; each worker reopens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.fastread import SampleReader

__all__ = ["StoreReader"]


class StoreReader:
    """``reader(indices) -> (n, C, R, R) uint8``: dataset indices to pixels.

    Args:
        store: path or fsspec URL of the zarr store (opened lazily, in the process that reads).
        resolution: image side R (an ``images/<R>`` array of the store).
        rows: ``(N,) int64`` store row of each dataset index.
        storage_options: fsspec options of a remote store.
    """

    def __init__(self, store: str | Path, resolution: int, rows: np.ndarray, *,
                 storage_options: Mapping[str, Any] | None = None) -> None:
        self.store, self.resolution = str(store), int(resolution)
        self.storage_options = dict(storage_options or {})
        self.rows = np.asarray(rows, dtype=np.int64)
        self._reader: SampleReader | None = None

    def sample_reader(self) -> SampleReader:
        """The store's :class:`SampleReader` (opened on first use)."""
        if self._reader is None:
            import zarr

            from micro_bench_hpa.store import StoreError, open_store

            array = open_store(self.store, storage_options=self.storage_options).get(f"images/{self.resolution}")
            if not isinstance(array, zarr.Array):
                raise StoreError(f"{self.store}: no array images/{self.resolution}")
            self._reader = SampleReader(array)
        return self._reader

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        return self.sample_reader().read_many(self.rows[np.asarray(indices, dtype=np.int64)])

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_reader"] = None  # reopened in the worker
        return state
