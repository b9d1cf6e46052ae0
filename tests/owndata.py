"""A non-HPA dataset made in the test (issue 23): N samples, C named channels, K named classes,
16-bit pixels whose intensity in one channel depends on the labels, written in every layout
``data convert`` reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ["mitotic", "apoptotic", "ciliated", "polarised", "senescent", "migrating", "fused", "stressed", "quiescent"]
CHANNELS5 = ["dapi", "gfp", "tubulin", "actin", "er"]
CHANNELS3 = ["dapi", "gfp", "tubulin"]


def make_pixels(n: int = 12, channels: int = 5, side: int = 48, seed: int = 0, classes: list[str] = CLASSES,
                signal: int = 2500):
    """``(ids, labels (n, K) bool, pixels (n, C, side, side) uint16)``; 12-bit camera values, the
    green channel brighter for each class a sample carries (so a classifier can learn)."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    labels = rng.random((n, k)) < 0.3
    labels[np.arange(n), np.arange(n) % k] = True
    pixels = rng.integers(0, 1500, (n, channels, side, side)).astype(np.uint16)
    for i in range(n):
        for c in np.flatnonzero(labels[i]):
            y, x = divmod(int(c), 3)
            pixels[i, 1, y * 16:(y + 1) * 16, x * 16:(x + 1) * 16] += np.uint16(signal)
    ids = [f"cell-{i:03d}" for i in range(n)]
    return ids, labels, pixels


def write_labels(path: Path, ids, labels, classes=CLASSES, sep=";", id_col="sample", label_col="labels"):
    rows = [f"{id_col},{label_col}"]
    rows += [f"{sid},{sep.join(classes[c] for c in np.flatnonzero(row))}" for sid, row in zip(ids, labels, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_png_per_channel(folder: Path, ids, pixels, channels):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for sid, sample in zip(ids, pixels, strict=True):
        for name, plane in zip(channels, sample, strict=True):
            Image.fromarray(plane).save(folder / f"{sid}_{name}.png")


def write_tiff(folder: Path, ids, pixels, channels=None, ome=False):
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    for sid, sample in zip(ids, pixels, strict=True):
        if ome:
            tifffile.imwrite(folder / f"{sid}.ome.tif", sample, metadata={"axes": "CYX", "Channel": {"Name": list(channels)}})
        else:
            tifffile.imwrite(folder / f"{sid}.tif", sample, photometric="minisblack")


def write_ome_zarr(folder: Path, ids, pixels, channels):
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image

    folder.mkdir(parents=True, exist_ok=True)
    for sid, sample in zip(ids, pixels, strict=True):
        root = zarr.group(store=parse_url(str(folder / f"{sid}.ome.zarr"), mode="w").store)
        write_image(sample, group=root, axes="cyx", scale_factors=[], storage_options={"chunks": sample.shape},
                    omero={"channels": [{"label": c, "color": "FFFFFF",
                                         "window": {"start": 0, "end": 65535, "min": 0, "max": 65535}} for c in channels]})
