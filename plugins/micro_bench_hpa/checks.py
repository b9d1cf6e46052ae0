"""Structural checks of a store for ``micro-bench data verify``: every array besides the pixels.

Each array is decoded in full (a flipped byte in a compressed chunk is a decode error, named here
instead of a traceback), and its shape, dtype and values are checked against the others and the
store's attributes: ``ids`` (N,) unique non-empty strings; ``labels`` (N, K) bool with K the
``classes`` attribute's length; ``status`` (N,) in {pending, done, bad}; ``digest`` (N,) uint64, 0
for every sample not written; ``images/<R>`` (N, C, R, R) of the store's pixel type with C the
``channels`` attribute's length; ``splits/<name>`` (N,) codes -1..2; ``stats/.../<R>`` (2, C)
finite, std >= 0. A store sealed as finished (``shard_manifest.json``) holds no pending sample,
and the non-pixel chunk files recorded in its manifest keep their size and CRC-32C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["array_files", "check_structure"]

#: Arrays every store has besides the pixels, checked in this order.
CORE_ARRAYS = ("ids", "labels", "status", "digest")


def _decode(group: Any, key: str, problems: list[str]) -> np.ndarray | None:
    """The whole array at ``key``, or ``None`` with a problem naming it."""
    try:
        node = group[key]
    except KeyError:
        problems.append(f"array {key} is missing")
        return None
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for damaged metadata
        problems.append(f"array {key} has unreadable metadata ({type(exc).__name__}: {exc})")
        return None
    try:
        return np.asarray(node[...])
    except Exception as exc:  # noqa: BLE001 - codecs raise many types for damaged chunks
        problems.append(f"array {key} cannot be decoded: a damaged chunk ({type(exc).__name__}: {str(exc)[:120]})")
        return None


def _strings(attrs: Mapping[str, Any], key: str, problems: list[str]) -> list[str] | None:
    value = attrs.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        problems.append(f"attribute {key} is {value!r:.80}, expected a non-empty list of names")
        return None
    if len(set(value)) != len(value):
        problems.append(f"attribute {key} names one entry twice")
    return list(value)


def _walk(group: Any, prefix: str) -> list[str]:
    """Keys of every array below ``prefix`` (e.g. ``splits``)."""
    import zarr

    try:
        node = group[prefix]
    except KeyError:
        return []
    if isinstance(node, zarr.Array):
        return [prefix]
    out = []
    for name in sorted(node.keys()):
        if not name.startswith("."):
            out += _walk(group, f"{prefix}/{name}")
    return out


def array_files(store: Path) -> dict[str, Path]:
    """``{relative path: file}`` of every chunk and metadata file of the non-pixel arrays present."""
    out = {}
    for key in CORE_ARRAYS:
        base = store / key
        if base.is_dir():
            for f in sorted(base.rglob("*")):
                if f.is_file():
                    out[f.relative_to(store).as_posix()] = f
    return out


def check_structure(group: Any, store: Path | None, sealed: Mapping[str, Any] | None,
                    crc: Callable[[Path], int]) -> tuple[list[str], dict[str, np.ndarray]]:
    """``(problems, decoded core arrays)``; ``sealed``: the manifest's ``arrays`` entries
    (``{relative path: [size, crc32c]}``), checked when the store is local (``store``)."""
    from micro_bench_hpa.store import BAD, DONE, DTYPES, PENDING

    problems: list[str] = []
    attrs = dict(group.attrs)
    classes = _strings(attrs, "classes", problems)
    channels = _strings(attrs, "channels", problems)
    resolutions = attrs.get("resolutions")
    if not isinstance(resolutions, list) or not resolutions or not all(
            isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in resolutions):
        problems.append(f"attribute resolutions is {resolutions!r:.80}, expected a non-empty list of integers")
        resolutions = []
    dtype = attrs.get("dtype", "uint8")
    if dtype not in DTYPES:
        problems.append(f"attribute dtype is {dtype!r}, expected one of {', '.join(DTYPES)}")
    if store is not None:
        for rel, entry in sorted((sealed or {}).items()):
            f = store / rel
            if not f.is_file():
                problems.append(f"file {rel} recorded in the manifest is missing")
            elif f.stat().st_size != entry[0] or crc(f) != entry[1]:
                problems.append(f"file {rel} changed since the store was written (its size or checksum differs "
                                "from shard_manifest.json)")
    arrays = {key: _decode(group, key, problems) for key in CORE_ARRAYS}
    ids, labels, status, digest = (arrays[k] for k in CORE_ARRAYS)
    n = len(status) if status is not None and status.ndim == 1 else None
    for key, value in arrays.items():
        if value is not None and value.ndim >= 1 and n is not None and value.shape[0] != n:
            problems.append(f"array {key} has {value.shape[0]} rows, status has {n}")
    if ids is not None:
        names = [str(i) for i in ids.ravel()]
        if ids.ndim != 1 or not all(names):
            problems.append(f"array ids has shape {ids.shape} or empty ids, expected (N,) non-empty strings")
        elif len(set(names)) != len(names):
            problems.append(f"array ids holds {len(names) - len(set(names))} duplicate id(s)")
    if labels is not None:
        if labels.ndim != 2 or labels.dtype != np.bool_:
            problems.append(f"array labels is {labels.dtype} {labels.shape}, expected (N, K) bool")
        elif classes is not None and labels.shape[1] != len(classes):
            problems.append(f"array labels has {labels.shape[1]} classes but attribute classes names {len(classes)}")
    if status is not None:
        unknown = sorted(set(np.unique(status).tolist()) - {PENDING, DONE, BAD})
        if unknown:
            problems.append(f"array status holds unknown codes {unknown[:5]} (expected {PENDING}, {DONE}, {BAD})")
        if sealed is not None and (status == PENDING).any():
            problems.append(f"array status marks {int((status == PENDING).sum())} sample(s) never written, but the "
                            "store was sealed as finished (a status chunk is missing or damaged)")
        if digest is not None and digest.shape == status.shape:
            odd = int(((status != DONE) & (digest != 0)).sum())
            if odd:
                problems.append(f"array status marks {odd} sample(s) not written that have a pixel digest "
                                "(a status chunk is missing or damaged)")
    for r in resolutions:
        try:
            img = group[f"images/{r}"]
            shape, kind = tuple(img.shape), str(img.dtype)
        except Exception as exc:  # noqa: BLE001 - a missing or unreadable array
            problems.append(f"array images/{r} (attribute resolutions lists {r}) is unreadable ({type(exc).__name__})")
            continue
        want = (n, len(channels) if channels else None, r, r)
        if len(shape) != 4 or any(w is not None and s != w for s, w in zip(shape, want, strict=False)):
            problems.append(f"array images/{r} has shape {shape}, expected {tuple('?' if w is None else w for w in want)}"
                            " (samples, channels attribute, R, R)")
        if kind != dtype:
            problems.append(f"array images/{r} holds {kind}, attribute dtype says {dtype}")
    for key in _walk(group, "splits"):
        codes = _decode(group, key, problems)
        if codes is not None and (codes.shape != (n,) or not set(np.unique(codes).tolist()) <= {-1, 0, 1, 2}):
            problems.append(f"array {key} is {codes.dtype} {codes.shape} with codes "
                            f"{sorted(set(np.unique(codes).tolist()))[:5]}, expected ({n},) codes -1..2")
    for key in _walk(group, "stats"):
        ms = _decode(group, key, problems)
        c = len(channels) if channels else None
        if ms is not None and (ms.ndim != 2 or ms.shape[0] != 2 or (c is not None and ms.shape[1] != c)
                               or not np.isfinite(ms).all() or (ms[1] < 0).any()):
            problems.append(f"array {key} is {ms.shape}, expected (2, {c}) finite means and std >= 0")
    return problems, {k: v for k, v in arrays.items() if v is not None}
