"""Images to predict, from any layout the converter reads, as ``(C, R, R) uint8`` at the run's R.

* a folder of ``<id>_<color>.<png|tif|tiff|jpg>`` files (the Kaggle test folder; 8-bit 512 px or
  16-bit full-size fields), flat or in ``test/`` or ``train/`` below it;
* a micro-bench zarr store (``micro-bench data convert`` / ``data synth``): its ids at the
  resolution the run used (or, when the store lacks it, the next larger one, resized);
* an in-memory ``(n, C, S, S) uint8`` array (the Python API; ``uint16`` for a run on a 16-bit store);
* for a run on a store converted from another layout (``data convert --labels ... --pattern ...``):
  a folder of that layout, read by the store's recorded pattern, channels, fit rule and 16-bit
  rule (``--pattern`` overrides the pattern), with the converter's pixel-type rules
  (:class:`LayoutSource`).

Decoding and resizing are the converter's (:mod:`micro_bench_hpa.readers`): 16-bit maps to 8-bit
by ``round(x / 257)``, RGB-coloured channel files use their own colour plane, and each channel is
resized as new stores are (``box``: block means, :func:`micro_bench_hpa.readers.resize`). A sample that cannot be used (missing channel,
unreadable or truncated file, channels of unequal or non-square shape, or smaller than R) is not
predicted: it is returned as a :class:`Problem` for the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.readers import ReadError, index_images, read_channels, resize

__all__ = ["ArraySource", "FolderSource", "LayoutSource", "Problem", "StoreSource", "card_input", "open_source"]


@dataclass(frozen=True)
class Problem:
    """One sample left out: its id, the report category, the file concerned and what was wrong."""

    id: str
    kind: str
    path: str
    detail: str


def _fit(channels: list[np.ndarray], resolution: int, sample_id: str, where: str) -> np.ndarray | Problem:
    shapes = {c.shape for c in channels}
    side = channels[0].shape[0] if len(shapes) == 1 else 0
    if len(shapes) != 1 or channels[0].shape != (side, side) or side < resolution:
        got = ", ".join(f"{s[0]}x{s[1]}" if len(s) == 2 else str(s) for s in sorted(shapes))
        return Problem(sample_id, "wrong_size", where,
                       f"channel sizes {got}; expected equal squares of at least {resolution}x{resolution}")
    return np.stack([resize(c, resolution) for c in channels])


class FolderSource:
    """``<id>_<color>.<ext>`` files; items ``(id, (C, R, R) uint8 | Problem)``."""

    def __init__(self, folder: str | Path, channels: Sequence[str], resolution: int) -> None:
        folder = Path(folder)
        self._duplicates: dict[str, list[Path]] = {}
        index = index_images(folder, self._duplicates)
        for sub in ("test", "train"):
            if not index and (folder / sub).is_dir():
                folder, index = folder / sub, index_images(folder / sub, self._duplicates)
        if not index:
            raise FileNotFoundError(
                f"{folder}: no images named <id>_<color>.png|tif (colors {', '.join(channels)}); expected "
                "the Kaggle test folder, a folder of 16-bit PNG/TIFF fields, or a micro-bench zarr store")
        self.folder, self.channels, self.resolution = folder, list(channels), int(resolution)
        self.ids = sorted(index)
        self._files = [index[i] for i in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | Problem]:
        sample_id, files = self.ids[i], self._files[i]
        if sample_id in self._duplicates:
            dup = self._duplicates[sample_id]
            return sample_id, Problem(sample_id, "duplicate_channel", str(dup[0]),
                                      f"two files for one channel: {', '.join(p.name for p in dup)}; keep one")
        missing = [c for c in self.channels if c not in files]
        if missing:
            return sample_id, Problem(sample_id, "missing_channel", str(self.folder / f"{sample_id}_{missing[0]}.png"),
                                      f"no {', '.join(missing)} channel file")
        try:
            planes = read_channels([(files[c], c) for c in self.channels])
        except ReadError as error:
            return sample_id, Problem(sample_id, error.kind, str(error.path), error.detail)
        return sample_id, _fit(planes, self.resolution, sample_id, str(files[self.channels[0]]))


class StoreSource:
    """The samples of a micro-bench zarr store; items ``(id, (C, R, R) uint8)``."""

    def __init__(self, path: str | Path, channels: Sequence[str], resolution: int) -> None:
        from micro_bench_hpa.dataset import HPADataset
        from micro_bench_hpa.store import open_store

        attrs: dict[str, Any] = dict(open_store(path).attrs)
        stored = sorted(int(r) for r in attrs["resolutions"])
        if list(attrs["channels"]) != list(channels):
            raise ValueError(f"{path}: channels {list(attrs['channels'])}; the model takes {list(channels)}")
        larger = [r for r in stored if r >= resolution]
        if not larger:
            raise ValueError(f"{path}: images at {stored} px only; the model needs {resolution} px or larger")
        self.path, self.resolution, self.stored = Path(path), int(resolution), larger[0]
        dataset = HPADataset(self.path, self.stored)
        self.ids, self._rows = list(dataset.ids), dataset.rows
        self._reader: Any = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | Problem]:
        if self._reader is None:  # opened lazily, in each DataLoader worker
            import zarr

            from micro_bench_hpa.fastread import SampleReader
            from micro_bench_hpa.store import open_store

            array = open_store(self.path)[f"images/{self.stored}"]
            if not isinstance(array, zarr.Array):
                raise ValueError(f"{self.path}: images/{self.stored} is not an array")
            self._reader = SampleReader(array)
        image = self._reader.read(int(self._rows[i]))
        if self.stored != self.resolution:
            from micro_bench_hpa.layouts import resize_any

            image = np.stack([resize_any(c, self.resolution) for c in image])
        return self.ids[i], image

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_reader": None}


class LayoutSource:
    """A folder in the layout a generic store was converted from (its ``layout`` attribute, kept
    in the run's model card); items ``(id, (C, R, R) | Problem)`` in the store's pixel type."""

    def __init__(self, folder: str | Path, layout: Any, resolution: int, dtype: str) -> None:
        from micro_bench_hpa.layouts import Layout

        self.folder, self.resolution, self.dtype = Path(folder), int(resolution), str(dtype)
        self.layout = layout if isinstance(layout, Layout) else Layout.from_attrs(layout)
        self.ids = self.layout.discover(self.folder)
        if not self.ids:
            raise FileNotFoundError(f"{self.folder}: no images matching the pattern {self.layout.pattern!r} "
                                    "(the run's store's; another with --pattern)")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | Problem]:
        sample_id = self.ids[i]
        try:
            files = self.layout.files(self.folder, sample_id)
            image = self.layout.pixels(files, [self.resolution], self.dtype)[self.resolution]
        except ReadError as error:
            return sample_id, Problem(sample_id, error.kind, str(error.path), error.detail)
        return sample_id, image


class ArraySource:
    """An in-memory ``(n, C, S, S)`` uint8 (or the run's uint16) array (resized to R when ``S > R``)."""

    def __init__(self, images: Any, ids: Sequence[str] | None, channels: Sequence[str], resolution: int,
                 dtype: str = "uint8") -> None:
        arr = np.asarray(images)
        if arr.dtype != np.dtype(dtype) or arr.ndim != 4 or arr.shape[1] != len(channels):
            raise ValueError(f"images: expected {dtype} (n, {len(channels)}, S, S) in channel order "
                             f"{', '.join(channels)}, got {arr.dtype} {arr.shape}")
        self.images, self.resolution = arr, int(resolution)
        self.ids = [str(i) for i in ids] if ids is not None else [str(i) for i in range(len(arr))]
        if len(self.ids) != len(arr) or len(set(self.ids)) != len(self.ids):
            raise ValueError(f"ids: expected {len(arr)} distinct ids, got {len(self.ids)} ({len(set(self.ids))} distinct)")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray | Problem]:
        return self.ids[i], _fit(list(self.images[i]), self.resolution, self.ids[i], f"images[{i}]")


def card_input(card: Any) -> dict[str, Any]:
    """The :func:`open_source` keywords a run's model card fixes: its store's source ``layout``
    (when converted from one) and pixel ``dtype``."""
    given = card["input"]
    return {"layout": given.get("files"), "dtype": str(given.get("dtype", "uint8"))}


def open_source(src: Any, channels: Sequence[str], resolution: int, ids: Sequence[str] | None = None, *,
                layout: Any = None, dtype: str = "uint8", pattern: str | None = None) -> Any:
    """The source for ``src``: an array, a zarr store folder (with ``zarr.json``) or an image folder
    (in the run's store's ``layout`` when it has one, its pattern replaced by ``pattern``)."""
    if not isinstance(src, (str, Path)):
        return ArraySource(src, ids, channels, resolution, dtype)
    path = Path(src)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if (path / "zarr.json").is_file():
        return StoreSource(path, channels, resolution)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: expected a folder of <id>_<color> images or a zarr store")
    if layout is not None or pattern is not None:
        from micro_bench_hpa.layouts import Layout

        found = Layout.from_attrs(layout) if layout is not None else Layout(pattern=str(pattern), channels=tuple(channels))
        if pattern is not None:
            if Path(str(pattern)).is_absolute() or ".." in Path(str(pattern)).parts:
                raise ValueError(f"--pattern {pattern!r}: must be relative to {path}, without '..'")
            found = found.with_(pattern=str(pattern))
        if list(found.channels or ()) != list(channels):
            raise ValueError(f"{path}: the layout's channels {list(found.channels or ())} differ from the model's "
                             f"{list(channels)}")
        return LayoutSource(path, found, resolution, dtype)
    return FolderSource(path, channels, resolution)
