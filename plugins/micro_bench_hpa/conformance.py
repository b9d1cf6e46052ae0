"""Conformance parameters of the ``images`` dataset: a tiny store of one's own data, converted
by ``data convert``'s generic path (:func:`micro_bench_hpa.convert.convert`) from 16-bit (or
8-bit) PNGs, one per channel, into a temporary folder that is removed when the process exits.

Named by the ``images`` spec's ``conformance_params`` (``"micro_bench_hpa.conformance:images_params"``),
so that ``micro-bench check-plugin hpa`` and the project's conformance tests check the dataset on
a real store instead of skipping it; ``images_params("uint8")`` gives an 8-bit one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["images_params"]

#: The store: 24 samples, 3 channels, 5 classes, 32 px sources stored at 16 px.
N, CHANNELS, CLASSES, SIDE, RESOLUTION = 24, ("dna", "protein", "membrane"), ("a", "b", "c", "d", "e"), 32, 16

_STORES: dict[str, Path] = {}
_LOCK = threading.Lock()


def images_params(dtype: str = "uint16") -> dict[str, Any]:
    """``{"store": PATH, "resolution": 16}`` of a tiny ``dtype`` store (``uint8`` or ``uint16``),
    converted once per process."""
    if dtype not in ("uint8", "uint16"):
        raise ValueError(f"dtype {dtype!r}: expected uint8 or uint16")
    with _LOCK:
        if dtype not in _STORES:
            _STORES[dtype] = _build(dtype)
    return {"store": str(_STORES[dtype]), "resolution": RESOLUTION}


def _build(dtype: str) -> Path:
    import numpy as np
    from PIL import Image

    from micro_bench_hpa.convert import convert
    from micro_bench_hpa.options import generic_options

    root = Path(tempfile.mkdtemp(prefix="micro-bench-conformance-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    src = root / "src"
    src.mkdir()
    rng = np.random.default_rng(0)
    top = 4095 if dtype == "uint16" else 255  # a 12-bit camera's range in 16 bits
    labels = rng.random((N, len(CLASSES))) < 0.4
    labels[np.arange(N), np.arange(N) % len(CLASSES)] = True  # every class present
    rows = ["id,labels"]
    for i in range(N):
        sid = f"s{i:02d}"
        rows.append(f"{sid},{'|'.join(c for c, on in zip(CLASSES, labels[i], strict=True) if on)}")
        for channel in CHANNELS:
            plane = rng.integers(0, top + 1, (SIDE, SIDE)).astype(dtype)
            Image.fromarray(plane).save(src / f"{sid}_{channel}.png")
    (src / "labels.csv").write_text("\n".join(rows) + "\n")
    options = generic_options(src, labels=str(src / "labels.csv"), id_column="id", label_column="labels",
                              separator="|", classes=",".join(CLASSES), channels=",".join(CHANNELS),
                              pattern="{id}_{channel}.png")
    dest = root / f"images-{dtype}.zarr"
    convert(src, dest, resolutions=(RESOLUTION,), workers=1, block_size=8, progress=False, generic=options)
    return dest
