"""``micro-bench data info STORE``: what a store holds (samples, channels, classes, pixel type,
resolutions, label counts per class, the layout it was converted from)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.store import (
    DONE,
    open_store,
    read_array,
    resolutions_of,
    store_dtype,
    strings_attr,
)

__all__ = ["describe_store", "info_lines"]


def describe_store(path: str | Path) -> dict[str, Any]:
    """One JSON-ready object: ``n`` (written samples), ``channels``, ``classes``, ``dtype``,
    ``resolutions``, ``label_counts`` (``{class: samples carrying it}``, written samples only),
    and ``samples`` (rows of the store), ``bad`` (skipped at conversion), ``pending``,
    ``format_version``, ``source``, ``intensity_rule``, ``fit``, ``layout`` when recorded, and from
    the store's ``convert_report.json`` (when there is one): ``skipped`` (every input the conversion
    skipped, those kept as ``bad`` rows included) and ``problems`` (``{kind: count}``).

    A store whose arrays or attributes cannot be read (damaged chunks or metadata, a class list
    of another length than the labels) is one :class:`~micro_bench_hpa.errors.StoreError` line
    naming it and pointing at ``data verify``."""
    from micro_bench.errors import MicroBenchError
    from micro_bench_hpa.errors import StoreError

    try:
        return _describe(path)
    except MicroBenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - zarr, numcodecs and json raise many types for damaged files
        raise StoreError(f"{path}: cannot be read ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); "
                         f"run `micro-bench data verify {path}` to list what is damaged") from None


def _describe(path: str | Path) -> dict[str, Any]:
    group = open_store(path)
    status = read_array(group, "status")
    labels = np.asarray(read_array(group, "labels"), dtype=bool)
    classes = strings_attr(group, "classes")
    written = status == DONE
    if labels.ndim != 2 or labels.shape[1] != len(classes) or len(labels) != len(status):
        raise ValueError(f"array labels is {labels.shape} but the store has {len(status)} samples and attribute "
                         f"classes names {len(classes)}")
    counts = labels[written].sum(axis=0)
    attrs = dict(group.attrs)
    out: dict[str, Any] = {
        "store": str(path),
        "n": int(written.sum()),
        "channels": strings_attr(group, "channels"),
        "classes": classes,
        "dtype": store_dtype(group),
        "resolutions": resolutions_of(group),
        "label_counts": {c: int(k) for c, k in zip(classes, counts, strict=True)},
        "samples": int(len(status)),
        "bad": int((status == 2).sum()),
        "pending": int((status == 0).sum()),
        "format_version": attrs.get("format_version"),
        "source": attrs.get("source", ""),
    }
    for key in ("intensity_rule", "layout", "resize"):
        if key in attrs:
            out[key] = attrs[key]
    report = _convert_report(path)
    if report is not None:
        out["skipped"] = len(report.get("skipped", []))
        out["problems"] = dict(report.get("problems", {}))
    return out


def _convert_report(path: str | Path) -> dict[str, Any] | None:
    """The store's ``convert_report.json``, or ``None`` (none, unreadable, or a remote store)."""
    import json

    from micro_bench_hpa.location import is_remote, local_path

    if is_remote(path):
        return None
    try:
        report = json.loads((local_path(path) / "convert_report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def info_lines(info: dict[str, Any]) -> list[str]:
    """The human-readable form of :func:`describe_store`."""
    skipped = info.get("skipped", info["bad"])
    why = ", ".join(f"{k} {v}" for k, v in sorted(info.get("problems", {}).items()))
    lines = [
        f"{info['store']}: {info['n']} samples"
        + (f" ({skipped} skipped at conversion" + (f": {why}" if why else "")
           + (f"; {info['bad']} of them kept as zero rows, status 2" if info["bad"] else "") + ")" if skipped else "")
        + (f", {info['pending']} pending (conversion unfinished)" if info["pending"] else ""),
        f"  channels ({len(info['channels'])}): {', '.join(info['channels'])}",
        f"  pixels: {info['dtype']}" + (f" ({info['intensity_rule']})" if info.get("intensity_rule") else ""),
        f"  resolutions: {', '.join(str(r) for r in info['resolutions'])}",
        f"  classes ({len(info['classes'])}), samples carrying each:",
    ]
    width = max((len(c) for c in info["classes"]), default=0)
    lines += [f"    {i:3d}  {c:<{width}}  {k}" for i, (c, k) in enumerate(info["label_counts"].items())]
    return lines
