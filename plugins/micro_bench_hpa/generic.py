"""``data convert`` of any layout: a label table, a class list, channels and a file pattern
(:mod:`~micro_bench_hpa.labels`, :mod:`~micro_bench_hpa.layouts`, :mod:`~micro_bench_hpa.formats`).

Every input is checked before the store is made (headers only, in threads): a missing file, a
refused pixel type, a non-square image without ``--fit``, an image smaller than the largest
resolution, channel files of different sizes or a dataset of mixed bit depths stops the
conversion with one line naming the file and the id. Files that fail only when decoded are
skipped and listed in ``convert_report.json``, as in the Kaggle path. The store, its blocks,
resuming, the manifest and ``data verify`` are those of :mod:`micro_bench_hpa.convert`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.formats import Header, inspect_file
from micro_bench_hpa.labels import LabelSpec, LabelTable, read_label_table
from micro_bench_hpa.layouts import FITS, PERCENTILE_SAMPLES, PERCENTILES, TO_UINT8, Layout
from micro_bench_hpa.readers import ReadError, SourceError

__all__ = ["RESIZE", "GenericOptions", "GenericPlan", "create_generic_store", "plan_generic"]

RESIZE = "box"


@dataclass(frozen=True)
class GenericOptions:
    """What ``data convert`` was asked for (see :mod:`micro_bench_hpa.labels` and
    :class:`~micro_bench_hpa.layouts.Layout`).

    Attributes:
        labels: the label table (relative paths: inside the source folder first).
        spec: how to read it.
        layout: the pattern, channels, fit and 16-bit rule.
        preset: the ``--layout`` preset used, if any (recorded).
    """

    labels: Path
    spec: LabelSpec
    layout: Layout
    preset: str | None = None


@dataclass
class GenericPlan:
    """The checked inputs: ids, ``(N, K) bool`` labels, classes, the layout completed with its
    channel names, each sample's files, and the store's pixel type."""

    table: LabelTable
    layout: Layout
    files: list[list[Path]]
    dtype: str
    source_dtype: str
    channels: list[str]


def _fail(err: ReadError, sid: str) -> SourceError:
    detail = err.detail if f"id {sid}" in err.detail else f"id {sid}: {err.detail}"
    return SourceError(f"{err.path}: {detail}")


def _headers(root: Path, table: LabelTable, layout: Layout, threads: int) -> tuple[list[list[Path]], list[list[Header]]]:
    files: list[list[Path]] = []
    for sid in table.ids:
        try:
            files.append(layout.files(root, sid))
        except ReadError as err:
            raise _fail(err, sid) from None

    def one(i: int) -> list[Header] | tuple[ReadError, str]:
        try:
            return [inspect_file(f) for f in files[i]]
        except ReadError as err:
            return err, table.ids[i]

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, range(len(files))))
    headers: list[list[Header]] = []
    for result in results:
        if isinstance(result, tuple):
            raise _fail(*result) from None
        headers.append(result)
    return files, headers


def _check_sample(sid: str, files: list[Path], heads: list[Header], layout: Layout, min_side: int) -> tuple[int, int]:
    """``(H, W)`` of a sample whose headers agree, else a :class:`SourceError`."""
    if layout.per_channel:
        for f, head in zip(files, heads, strict=True):
            if head.shape[0] != 1:
                raise SourceError(f"{f}: id {sid}: {head.shape[0]} channels in one channel's file; expected one grey plane")
        sizes = {head.shape[1:] for head in heads}
        if len(sizes) > 1:
            raise SourceError(f"{files[0]}: id {sid}: channel files of different sizes: "
                              + ", ".join(f"{f.name} {x.shape[2]}x{x.shape[1]}" for f, x in zip(files, heads, strict=True)))
        depths = {head.dtype for head in heads}
        if len(depths) > 1:
            raise SourceError(f"{files[0]}: id {sid}: channel files of different bit depths "
                              + ", ".join(f"{f.name} {x.dtype}" for f, x in zip(files, heads, strict=True)))
    h, w = int(heads[0].shape[1]), int(heads[0].shape[2])
    if h != w and layout.fit is None:
        raise SourceError(f"{files[0]}: id {sid}: {w}x{h} px is not square (mixed sizes); choose --fit pad, crop or resize")
    side = max(h, w) if layout.fit == "pad" else min(h, w)
    if side < min_side:
        raise SourceError(f"{files[0]}: id {sid}: {w}x{h} px is below the largest resolution {min_side}; "
                          "convert at smaller --resolutions")
    return h, w


def _channels(layout: Layout, files: list[list[Path]], headers: list[list[Header]], ids: list[str]) -> Layout:
    """The layout with its channel names settled (multi-channel files: OME names or ``ch<i>``)."""
    if layout.per_channel:
        return layout
    first = headers[0][0]
    names = first.channel_names
    for f, heads, sid in zip(files, headers, ids, strict=True):
        if heads[0].shape[0] != first.shape[0]:
            raise SourceError(f"{f[0]}: id {sid}: {heads[0].shape[0]} channels, but {files[0][0].name} has {first.shape[0]}")
        if heads[0].channel_names != names:
            raise SourceError(f"{f[0]}: id {sid}: channel names {heads[0].channel_names} differ from "
                              f"{files[0][0].name}'s {names}")
    if names is None:
        if layout.channels and len(layout.channels) != first.shape[0]:
            raise SourceError(f"{files[0][0]}: {first.shape[0]} channels without names in its metadata; "
                              f"--channels names {len(layout.channels)} ({', '.join(layout.channels)})")
        names = list(layout.channels) if layout.channels else [f"ch{i}" for i in range(first.shape[0])]
    layout = layout.with_(file_channels=tuple(names), channels=tuple(layout.channels or names))
    try:
        layout.channel_index(first.shape[0], files[0][0])
    except ReadError as err:
        raise _fail(err, ids[0]) from None
    return layout


def plan_generic(src: str | Path, options: GenericOptions, *, min_side: int = 1, threads: int = 8) -> GenericPlan:
    """Read the label table and check every sample's files (headers only)."""
    root = Path(src)
    if not root.is_dir():
        raise SourceError(f"{root}: source folder not found")
    layout = options.layout
    if "{id}" not in layout.pattern:
        raise SourceError(f"--pattern {layout.pattern!r}: needs an {{id}} placeholder, e.g. {{id}}_{{channel}}.png")
    if layout.per_channel and not layout.channels:
        raise SourceError(f"--pattern {layout.pattern!r} has {{channel}}: name the channels with --channels a,b,c")
    if layout.fit not in (None, *FITS):
        raise SourceError(f"--fit {layout.fit!r}: expected one of {', '.join(FITS)}")
    if layout.to_uint8 not in (None, *TO_UINT8):
        raise SourceError(f"--to-uint8 {layout.to_uint8!r}: expected one of {', '.join(TO_UINT8)}")
    labels = options.labels if options.labels.is_absolute() or not (root / options.labels).is_file() else root / options.labels
    table = read_label_table(labels, options.spec)
    if not table.ids:
        raise SourceError(f"{labels}: no rows; nothing to convert")
    files, headers = _headers(root, table, layout, threads)
    for sid, f, h in zip(table.ids, files, headers, strict=True):
        _check_sample(sid, f, h, layout, min_side)
    depths = {h[0].dtype for h in headers}
    if len(depths) > 1:
        other = next(i for i, h in enumerate(headers) if h[0].dtype != headers[0][0].dtype)
        raise SourceError(f"{files[other][0]}: id {table.ids[other]}: {headers[other][0].dtype} pixels, but "
                          f"{files[0][0].name} is {headers[0][0].dtype}; one bit depth per dataset")
    source_dtype = depths.pop()
    layout = _channels(layout, files, headers, table.ids)
    dtype = "uint8" if layout.to_uint8 or source_dtype == "uint8" else "uint16"
    if layout.to_uint8 == "percentile" and source_dtype == "uint16":
        layout = layout.with_(percentiles=_percentiles(table, layout, files))
    return GenericPlan(table=table, layout=layout, files=files, dtype=dtype, source_dtype=source_dtype,
                       channels=list(layout.channels or ()))


def _percentiles(table: LabelTable, layout: Layout, files: list[list[Path]]) -> dict[str, tuple[float, float]]:
    """Per channel ``(low, high)`` percentiles (:data:`~micro_bench_hpa.layouts.PERCENTILES`) of
    up to :data:`~micro_bench_hpa.layouts.PERCENTILE_SAMPLES` training images (the default split,
    ``multilabel_stratified`` 0.8/0.1/0.1 seed 0), evenly spaced, each subsampled to at most
    256 x 256 pixels."""
    from micro_bench_hpa.split import stratified_split

    train = np.flatnonzero(stratified_split(table.labels, (0.8, 0.1, 0.1), 0) == 0)
    pick = train[np.linspace(0, len(train) - 1, min(PERCENTILE_SAMPLES, len(train))).round().astype(int)] if len(train) else []
    values: list[list[np.ndarray]] = []
    for i in pick:
        try:
            a = layout.read(files[int(i)])
        except ReadError as err:
            raise _fail(err, table.ids[int(i)]) from None
        step = max(1, max(a.shape[1:]) // 256)
        values.append([a[c, ::step, ::step].ravel() for c in range(a.shape[0])])
    names = list(layout.channels or ())
    out = {}
    for c, name in enumerate(names):
        pooled = np.concatenate([v[c] for v in values])
        lo, hi = np.percentile(pooled, PERCENTILES)
        out[name] = (float(lo), float(hi) if hi > lo else float(lo) + 1.0)
    return out


def intensity_rule(plan: GenericPlan) -> str:
    """The store's ``intensity_rule`` attribute for this plan."""
    if plan.source_dtype == "uint8":
        return "uint8 as is"
    if plan.layout.to_uint8 == "257":
        return "uint16 -> round(x / 257)"
    if plan.layout.to_uint8 == "percentile":
        lo, hi = PERCENTILES
        return (f"uint16 -> per channel, [p{lo:g}, p{hi:g}] of {PERCENTILE_SAMPLES} training images onto 0-255 "
                "(layout.percentiles)")
    return "uint16 as is"


def create_generic_store(src: str | Path, dest: Path, options: GenericOptions, resolutions: Sequence[int],
                         block_size: int) -> tuple[Any, GenericPlan, list[int]]:
    """Plan a generic layout and create its store at a local ``dest`` (under the conversion's lock):
    ``(group, plan, resolutions largest first)``; :func:`~micro_bench_hpa.convert.convert` then
    converts its blocks."""
    from micro_bench_hpa.store import create_store

    res = sorted({int(r) for r in resolutions}, reverse=True)
    plan = plan_generic(src, options, min_side=res[0])
    layout_attrs = {**plan.layout.to_attrs(), "labels": plan.table.path.name, "preset": options.preset,
                    "source_dtype": plan.source_dtype}
    group = create_store(
        dest,
        ids=plan.table.ids,
        labels=plan.table.labels,
        resolutions=res,
        source=str(Path(src).resolve().name),
        attrs={"label_csv": plan.table.path.name, "intensity_rule": intensity_rule(plan), "resize": RESIZE,
               "layout": layout_attrs},
        block_size=block_size,
        digest="xxh3-64",
        classes=plan.table.classes,
        channels=plan.channels,
        dtype=plan.dtype,
    )
    return group, plan, res
