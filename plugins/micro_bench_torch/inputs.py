"""The input pipeline: uint8 batches on the host, float, augmentation and standardization on the device.

Host side (DataLoader workers or the main process): a batch of dataset indices is read in one
call as ``(b, C, R, R) uint8`` (the dataset's ``reader()`` when it has one, e.g. the HPA
store's byte-range reads, else ``np.asarray(dataset.images(indices))``), with its ``(b, K)``
float32 targets; no per-item tensors, no float conversion, no collation copies; batches are
pinned when the device is CUDA (``uint16`` batches from a 16-bit store the same way). Device side
(:class:`DevicePipeline`): ``x / 255`` (``x / 65535`` for uint16 batches) in float32,
then the run's transform (training) or the TTA policy's views (evaluation), then
standardization with the train split's channel statistics, then the memory format.

The augmentation's random parameters come from a CPU ``torch.Generator`` in the main process,
batch after batch, so the numbers depend only on the seed: not on ``num_workers`` and not on
the device (the device runs the same ops; see docs/performance.md for the tolerance).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms.v2 import functional as TF

from micro_bench_torch import distributed

__all__ = ["Batches", "DevicePipeline", "LoaderSettings", "augmentation_seed", "auto_workers", "batch_loader",
           "describe_transform", "reader_for"]

Reader = Callable[[np.ndarray], np.ndarray]
#: The pixel types a batch may have, and the largest value of each (the 0-1 scale's 1).
_SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


class _ImagesReader:
    """Fallback reader over the contract's lazy ``dataset.images(indices)`` (picklable).

    A dask array is computed with dask's synchronous scheduler: a DataLoader worker is a forked
    process, where the parent's dask thread pool would deadlock.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __call__(self, indices: np.ndarray) -> np.ndarray:
        lazy = self.dataset.images(indices)
        compute = getattr(lazy, "compute", None)
        return np.asarray(compute(scheduler="synchronous") if callable(compute) else lazy)


def reader_for(dataset: Any) -> Reader:
    """``indices -> (n, C, R, R) uint8``: ``dataset.reader()`` when the dataset offers a fast,
    picklable reader, else one over ``dataset.images``."""
    make = getattr(dataset, "reader", None)
    return make() if callable(make) else _ImagesReader(dataset)


class Batches(TorchDataset):
    """A map-style dataset whose items are whole batches.

    ``batches[positions]`` (a list of positions into ``indices``) is
    ``(images (b, C, R, R) uint8 tensor, targets (b, K) float32 tensor)``.
    """

    def __init__(self, read: Reader, indices: np.ndarray, labels: np.ndarray) -> None:
        self.read, self.indices = read, np.asarray(indices, dtype=np.int64)
        self.targets = torch.as_tensor(np.asarray(labels, dtype=np.float32))
        if len(self.targets) != len(self.indices):
            raise ValueError(f"{len(self.indices)} indices but {len(self.targets)} label rows")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, positions: Any) -> tuple[torch.Tensor, torch.Tensor]:
        pos = np.asarray(positions, dtype=np.int64)
        images = np.ascontiguousarray(self.read(self.indices[pos]))
        if images.dtype not in _SCALES or images.ndim != 4 or len(images) != len(pos):
            raise ValueError(f"dataset reader returned {images.dtype} {images.shape} for {len(pos)} "
                             "samples; expected (n, C, R, R) uint8 or uint16")
        return torch.from_numpy(images), self.targets[torch.from_numpy(pos)]


def auto_workers(device: torch.device) -> tuple[int, int | None]:
    """``(num_workers, prefetch_factor)`` chosen from the machine.

    CPU device: ``(0, None)``: the model and the augmentation use every core and a batch read
    costs ~1% of a CPU step, so workers would only compete for cores. CUDA: the usable cores of
    this process (``os.sched_getaffinity``) divided among the local ranks, minus one for the
    main process, at most 8 (one worker reads ~10,000 samples/s at 256 px, see
    docs/performance.md), prefetching 4 batches each.
    """
    if device.type != "cuda":
        return 0, None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_rank = cores // max(int(os.environ.get("LOCAL_WORLD_SIZE", "1")), 1)
    workers = max(0, min(8, per_rank - 1))
    return workers, (4 if workers else None)


class LoaderSettings:
    """Batch size, workers and prefetching of the trainer's loaders (``"auto"``: :func:`auto_workers`)."""

    def __init__(self, batch_size: int, num_workers: int | str, prefetch: int | str, device: torch.device) -> None:
        workers, factor = auto_workers(device)
        self.batch_size = batch_size
        self.num_workers = workers if num_workers == "auto" else int(num_workers)
        self.prefetch = (factor if prefetch == "auto" else int(prefetch)) if self.num_workers else None
        self.pin = device.type == "cuda"

    def describe(self) -> dict[str, Any]:
        """What the loaders resolved to (recorded in the run's history)."""
        return {"batch_size": self.batch_size, "num_workers": self.num_workers, "prefetch": self.prefetch,
                "pin_memory": self.pin}


def batch_loader(data: Batches, settings: LoaderSettings, *, shuffle_seed: int | None,
                 order: np.ndarray | None = None) -> DataLoader:
    """Batches of ``data`` in order (``shuffle_seed=None``), shuffled by the seed (torchrun: this
    rank's share), or in a given ``order`` of positions (a sampler's draw for the epoch); a
    trailing batch of one sample is dropped when training (BatchNorm)."""
    sampler: Any = None
    if order is not None:
        sampler = np.asarray(order, dtype=np.int64).tolist()
    elif shuffle_seed is not None:
        sampler = distributed.sampler(data, shuffle_seed)
        if sampler is None:
            sampler = RandomSampler(data, generator=torch.Generator().manual_seed(shuffle_seed))
    else:
        sampler = SequentialSampler(data)
    drop = shuffle_seed is not None and len(sampler) % settings.batch_size == 1
    return DataLoader(
        data, batch_size=None, sampler=BatchSampler(sampler, settings.batch_size, drop_last=drop),
        num_workers=settings.num_workers, prefetch_factor=settings.prefetch, pin_memory=settings.pin,
        persistent_workers=False,
    )


class DevicePipeline:
    """What happens to a uint8 (or uint16) batch on the device.

    Args:
        device: where batches go. mean, std: ``(C,)`` channel statistics on the stored scale
            (0-255 for uint8 batches, 0-65535 for uint16: ``max_value``).
        transform: the run's training transform (``None``: no augmentation).
        channels_last: return NHWC batches.
        max_value: the largest pixel value of the batches (255 or 65535; the dataset's
            ``max_value``); ``None``: taken from the first batch's dtype.
    """

    def __init__(self, device: torch.device, mean: Any, std: Any, *, transform: Any = None,
                 channels_last: bool = False, max_value: float | None = None) -> None:
        self._stats = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        if not bool((self._stats[1] > 0).all()):
            raise ValueError(f"channel std must be positive, got {self._stats[1].tolist()}")
        self.device, self.transform, self.channels_last = device, transform, channels_last
        self.max_value: float | None = None
        self.mean: list[float] = []
        self.std: list[float] = []
        if max_value is not None:
            self._scale(float(max_value))

    def _scale(self, max_value: float) -> None:
        """Put the statistics on the 0-1 scale of pixels whose largest value is ``max_value``."""
        if self.max_value == max_value:
            return
        if self.max_value is not None:
            raise ValueError(f"a batch of pixels up to {max_value:g} after batches up to {self.max_value:g}; "
                             "one pixel type per pipeline")
        self.max_value = max_value
        self.mean = (self._stats[0] / max_value).tolist()  # on the 0-1 scale
        self.std = (self._stats[1] / max_value).tolist()

    def unit(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) uint8`` (host) -> float32 on the 0-1 scale on the device (the copy
        moves uint8, a quarter of the float32 bytes); ``uint16``: ``x / 65535``."""
        if images.dtype == torch.uint8:
            self._scale(255.0)
            return TF.to_dtype(images.to(self.device, non_blocking=True), torch.float32, scale=True)
        if images.dtype != torch.uint16:
            raise ValueError(f"expected a uint8 or uint16 batch, got {images.dtype}")
        self._scale(65535.0)
        return images.to(self.device, non_blocking=True).to(torch.float32).div_(65535.0)

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """0-1 scale -> standardized (a new tensor), in the chosen memory format."""
        out = TF.normalize(x, self.mean, self.std)
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out

    def train(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A training batch: unit scale, the transform with ``generator``, standardization."""
        x = self.unit(images)
        if self.transform is not None:
            x = self.transform(x, generator=generator)
        return self.standardize(x)

    def eval(self, images: torch.Tensor) -> torch.Tensor:
        """An evaluation batch: unit scale and standardization only."""
        return self.standardize(self.unit(images))

    def views(self, images: torch.Tensor, tta: Any, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """The TTA policy's standardized views of a batch (the plain batch when ``tta`` is None)."""
        x = self.unit(images)
        if tta is None:
            yield self.standardize(x)
            return
        for view in tta.views(x, generator=generator, transform=self.transform):
            yield self.standardize(view)


def describe_transform(transform: Any) -> dict[str, Any] | None:
    """The transform as recorded with a run: ``{"class", **settings()}`` (every parameter, the
    defaults included), ``None`` without one."""
    if transform is None:
        return None
    settings = getattr(transform, "settings", None)
    return {"class": type(transform).__name__, **(settings() if callable(settings) else {"repr": repr(transform)})}


def augmentation_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s augmentation generator on this process (rank folded in)."""
    state = np.random.SeedSequence([seed, epoch, 1, int(os.environ.get("RANK", "0"))]).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))
