"""A torch ``Dataset`` over the store: standardized float tensors with the paper's augmentation.

Augmentation (training only, as in the paper and fastai 0.7's ``transforms_top_down``): a random
horizontal and vertical flip, a random rotation by ``U(-max_rotate, max_rotate)`` degrees
(bilinear, zero padding outside the field, as the microscope shows nothing there), and random
lighting ``x -> (x - mean(x)) * c + mean(x) + b`` on the 0-1 scale with ``b ~ U(-lighting,
lighting)`` and ``c ~ 1 + U(-lighting, lighting)``, clipped to [0, 1], applied before
standardization. Draws come from a per-dataset ``torch.Generator`` seeded with ``seed``; inside a
``DataLoader`` worker it is reseeded from ``torch.initial_seed()``, which the loader derives
from its own seeded base seed, so runs repeat exactly.

Pixels are read with :class:`~micro_bench_hpa.fastread.SampleReader` (byte-range reads of one
sample, about 10x cheaper than a ``zarr.Array`` call); ``__getitems__`` serves a DataLoader batch
in one call with the same values and random draws as item-by-item ``__getitem__``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from micro_bench_hpa.fastread import SampleReader

__all__ = ["HPATorchDataset", "augment"]


def augment(x: torch.Tensor, gen: torch.Generator, *, max_rotate: float = 10.0, lighting: float = 0.05) -> torch.Tensor:
    """Randomly flip, rotate and relight ``x``: ``(C, R, R) float32`` in [0, 1] -> same shape."""
    u = torch.rand(5, generator=gen, dtype=torch.float64).tolist()
    if u[0] < 0.5:
        x = F.horizontal_flip(x)
    if u[1] < 0.5:
        x = F.vertical_flip(x)
    angle = (2 * u[2] - 1) * max_rotate
    if angle:
        x = F.rotate(x, angle, interpolation=v2.InterpolationMode.BILINEAR)
    b = (2 * u[3] - 1) * lighting
    c = 1 + (2 * u[4] - 1) * lighting
    mu = x.mean(dim=(1, 2), keepdim=True)
    return ((x - mu) * c + mu + b).clamp_(0.0, 1.0)


class HPATorchDataset(TorchDataset):
    """Items ``(image (C, R, R) float32 standardized, target (K,) float32)``.

    Args:
        store: path of the zarr store (each worker opens it itself; nothing is preloaded).
        resolution: image side R (an ``images/<R>`` array of the store).
        rows: ``(n,) int64`` store rows served, in order.
        labels: ``(n, K) bool`` targets of those rows.
        augment: apply :func:`augment` (training) or not (evaluation).
        mean, std: ``(C,)`` channel statistics on the 0-255 scale.
        seed: seeds the augmentation generator.
    """

    def __init__(
        self,
        store: str | Path,
        resolution: int,
        rows: np.ndarray,
        labels: np.ndarray,
        *,
        augment: bool,
        mean: Sequence[float] | np.ndarray | torch.Tensor,
        std: Sequence[float] | np.ndarray | torch.Tensor,
        seed: int = 0,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = str(store)
        self.storage_options = dict(storage_options or {})
        self.resolution = int(resolution)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.targets = torch.as_tensor(np.asarray(labels, dtype=np.float32))
        if len(self.targets) != len(self.rows):
            raise ValueError(f"{self.store}: {len(self.rows)} rows but {len(self.targets)} label rows")
        self.augment = bool(augment)
        self.mean = torch.as_tensor(np.asarray(mean, dtype=np.float32)).view(-1, 1, 1) / 255.0
        self.std = torch.as_tensor(np.asarray(std, dtype=np.float32)).view(-1, 1, 1) / 255.0
        if (self.std <= 0).any():
            raise ValueError(f"{self.store}: channel std must be positive, got {self.std.flatten().tolist()}")
        self.seed = int(seed)
        self._reader: SampleReader | None = None
        self._gen: torch.Generator | None = None
        self._worker: int | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def _generator(self) -> torch.Generator:
        info = torch.utils.data.get_worker_info()
        worker = None if info is None else info.id
        if self._gen is None or worker != self._worker:
            self._gen = torch.Generator().manual_seed(self.seed if info is None else torch.initial_seed() % 2**63)
            self._worker = worker
        return self._gen

    def _sample_reader(self) -> SampleReader:
        if self._reader is None:
            import zarr

            from micro_bench_hpa.store import StoreError, open_store

            array = open_store(self.store, storage_options=self.storage_options).get(f"images/{self.resolution}")
            if not isinstance(array, zarr.Array):
                raise StoreError(f"{self.store}: no array images/{self.resolution}")
            self._reader = SampleReader(array)
        return self._reader

    def raw(self, i: int) -> np.ndarray:
        """Item ``i`` as stored: ``(C, R, R) uint8``."""
        return self._sample_reader().read(int(self.rows[i]))

    def raw_many(self, indices: Sequence[int]) -> np.ndarray:
        """Items ``indices`` as stored: ``(n, C, R, R) uint8``."""
        return self._sample_reader().read_many(self.rows[np.asarray(indices, dtype=np.int64)])

    def _item(self, raw: np.ndarray, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(raw).to(torch.float32).div_(255.0)
        if self.augment:
            x = augment(x, self._generator())
        return x.sub_(self.mean).div_(self.std), self.targets[i]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._item(self.raw(i), i)

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[self[i] for i in indices]``, reading the batch's samples in one pass.

        torch's ``DataLoader`` calls this with a whole batch of indices when it exists; the
        augmentation draws happen in the same order as item by item, so results are identical.
        """
        raw = self.raw_many(indices)
        return [self._item(raw[k], int(i)) for k, i in enumerate(indices)]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_reader"] = None  # reopened in the worker
        state["_gen"] = None
        return state
