"""``data convert`` of any layout: a label table, a class list, channels and a file pattern
(:mod:`~micro_bench_hpa.labels`, :mod:`~micro_bench_hpa.layouts`, :mod:`~micro_bench_hpa.formats`).

Every sample's files are checked before the store is made (headers only, in threads), and a
sample with a problem is skipped and listed in ``convert_report.json`` with its reason, as in the
Kaggle path (:mod:`~micro_bench_hpa.validate`; the same kinds): ``missing_channel``,
``duplicate_channel`` (two files for one channel), ``unreadable``, ``wrong_dtype`` (a refused
pixel type), ``wrong_size`` (not square without ``--fit``, below the largest resolution, channel
files of different sizes), ``mixed_bit_depth`` (8- and 16-bit files in one sample),
``channel_mismatch`` (a multi-channel file whose channel count or names differ from the dataset's:
those of most files, the first such file on a tie) and ``not_in_csv`` (files the pattern matches
for an id the label table lacks). Files that fail only when decoded are kept as zero rows with
status 2 and listed too (``truncated``, ``8bit_in_16bit``, ...).

Problems of the dataset as a whole stay one line, before anything is written: the label table
(an unknown class, an index out of range, a duplicated id, ...; :mod:`~micro_bench_hpa.labels`),
options that cannot work (a pattern without ``{id}``, ``--channels`` that the files do not have),
samples of different bit depths, and no valid sample at all. The store, its blocks, resuming, the
manifest and ``data verify`` are those of :mod:`micro_bench_hpa.convert`.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.formats import Header, inspect_file
from micro_bench_hpa.labels import LabelSpec, LabelTable, read_label_table
from micro_bench_hpa.layouts import FITS, PERCENTILE_SAMPLES, PERCENTILES, TO_UINT8, Layout
from micro_bench_hpa.readers import ReadError, SourceError

__all__ = ["RESIZE", "GenericOptions", "GenericPlan", "create_generic_store", "plan_generic"]

RESIZE = "box"
Issue = tuple[str, str, str]  # (kind, id, detail), as micro_bench_hpa.validate.Issue


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
    """The checked inputs: the good samples' ids and ``(N, K) bool`` labels (``table``), classes,
    the layout completed with its channel names, each good sample's files, the store's pixel
    type, and ``(kind, id, detail)`` of every skipped sample (``issues``, sorted)."""

    table: LabelTable
    layout: Layout
    files: list[list[Path]]
    dtype: str
    source_dtype: str
    channels: list[str]
    issues: list[Issue] = field(default_factory=list)


def _detail(err: ReadError, sid: str) -> str:
    """A report line's detail: the file's name and what is wrong with it (the id is its own field)."""
    detail = err.detail
    for prefix in (f"id {sid}: ", f"id {sid}, "):
        if detail.startswith(prefix):
            detail = detail[len(prefix):]
    return f"{err.path.name}: {detail}"


def _issue(err: ReadError, sid: str) -> Issue:
    return (err.kind, sid, _detail(err, sid))


def _fail(err: ReadError, sid: str) -> SourceError:
    detail = err.detail if f"id {sid}" in err.detail else f"id {sid}: {err.detail}"
    return SourceError(f"{err.path}: {detail}")


def _check_sample(sid: str, files: list[Path], heads: list[Header], layout: Layout, min_side: int) -> Issue | None:
    """``None`` for a sample whose headers agree and fit, else its report line."""
    if layout.per_channel:
        for f, head in zip(files, heads, strict=True):
            if head.shape[0] != 1:
                return ("wrong_dtype", sid, f"{f.name}: {head.shape[0]} channels in one channel's file; "
                        "expected one grey plane")
        sizes = {head.shape[1:] for head in heads}
        if len(sizes) > 1:
            return ("wrong_size", sid, f"{files[0].name}: channel files of different sizes: "
                    + ", ".join(f"{f.name} {x.shape[2]}x{x.shape[1]}" for f, x in zip(files, heads, strict=True)))
        depths = {head.dtype for head in heads}
        if len(depths) > 1:
            return ("mixed_bit_depth", sid, f"{files[0].name}: channel files of different bit depths: "
                    + ", ".join(f"{f.name} {x.dtype}" for f, x in zip(files, heads, strict=True)))
    h, w = int(heads[0].shape[1]), int(heads[0].shape[2])
    if h != w and layout.fit is None:
        return ("wrong_size", sid, f"{files[0].name}: {w}x{h} px is not square; choose --fit pad, crop or resize")
    side = max(h, w) if layout.fit == "pad" else min(h, w)
    if side < min_side:
        return ("wrong_size", sid, f"{files[0].name}: {w}x{h} px is below the largest resolution {min_side}; "
                "convert at smaller --resolutions")
    return None


Checked = tuple[list[Path], list[Header], Issue | None]


def _inspect(root: Path, table: LabelTable, layout: Layout, min_side: int, threads: int) -> list[Checked]:
    """Per sample of ``table``: ``(files, headers, None)``, or ``([], [], report line)`` that skips it."""

    def one(sid: str) -> Checked:
        try:
            files = layout.files(root, sid)
            heads = [inspect_file(f) for f in files]
        except ReadError as err:
            return [], [], _issue(err, sid)
        problem = _check_sample(sid, files, heads, layout, min_side)
        return ([], [], problem) if problem else (files, heads, None)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, table.ids))


def _channel_key(head: Header) -> tuple[int, tuple[str, ...] | None]:
    return head.shape[0], tuple(head.channel_names) if head.channel_names is not None else None


def _channels(layout: Layout, files: list[list[Path]], headers: list[list[Header]], ids: list[str],
              ) -> tuple[Layout, dict[int, Issue]]:
    """The layout with its channel names settled (multi-channel files: OME names or ``ch<i>``),
    and the samples whose files disagree with the dataset's channels (``{index: report line}``).

    The dataset's channels are those of most files (channel count and names; on a tie, the first
    file's); a file that differs is ``channel_mismatch``. Channel options that the files cannot
    satisfy are one line for the whole dataset."""
    if layout.per_channel:
        return layout, {}
    keys = [_channel_key(h[0]) for h in headers]
    votes = Counter(keys)
    ref = max(votes, key=lambda k: (votes[k], -keys.index(k)))
    first = keys.index(ref)
    n, names_t = ref
    skipped: dict[int, Issue] = {}
    for i, key in enumerate(keys):
        if key == ref:
            continue
        what = "channel names" if key[0] == n else "channels"
        has = (f"{key[0]} channels" + (f" named {', '.join(key[1])}" if key[1] else ""))
        want = f"{n} channels" + (f" named {', '.join(names_t)}" if names_t else "")
        skipped[i] = ("channel_mismatch", ids[i], f"{files[i][0].name}: {has}; the dataset's {what}: {want} "
                      f"({votes[ref]} of {len(keys)} files, e.g. {files[first][0].name})")
    names = list(names_t) if names_t is not None else None
    if names is None:
        if layout.channels and len(layout.channels) != n:
            raise SourceError(f"{files[first][0]}: {n} channels without names in its metadata; "
                              f"--channels names {len(layout.channels)} ({', '.join(layout.channels)})")
        names = list(layout.channels) if layout.channels else [f"ch{i}" for i in range(n)]
    layout = layout.with_(file_channels=tuple(names), channels=tuple(layout.channels or names))
    try:
        layout.channel_index(n, files[first][0])
    except ReadError as err:
        raise _fail(err, ids[first]) from None
    return layout, skipped


def _not_in_table(root: Path, layout: Layout, table: LabelTable) -> list[Issue]:
    """``not_in_csv`` lines for ids that the pattern finds in ``root`` but the label table lacks."""
    listed = set(table.ids)
    return [("not_in_csv", sid, f"files matching --pattern {layout.pattern!r} but no row in {table.path.name}")
            for sid in layout.discover(root) if sid not in listed]


def _nothing_to_convert(root: Path, table: LabelTable, issues: list[Issue]) -> str:
    rows = [i for i in issues if i[0] != "not_in_csv"]
    kinds = Counter(kind for kind, _, _ in rows)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    kind, sid, detail = rows[0]
    return (f"{root}: no valid sample to convert: all {len(table.ids)} of {table.path.name} skipped ({counts}); "
            f"first: {kind} {sid}: {detail}")


def plan_generic(src: str | Path, options: GenericOptions, *, min_side: int = 1, threads: int = 8) -> GenericPlan:
    """Read the label table and check every sample's files (headers only): the good samples and
    the report lines of the skipped ones."""
    root = Path(src)
    if not root.is_dir():
        raise SourceError(f"{root}: source folder not found")
    layout = options.layout
    if "{id}" not in layout.pattern:
        raise SourceError(f"--pattern {layout.pattern!r}: needs an {{id}} placeholder, e.g. {{id}}_{{channel}}.png")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(layout.pattern) if f is not None}
    except ValueError as exc:  # an unmatched brace
        raise SourceError(f"--pattern {layout.pattern!r}: {exc}") from None
    if Path(layout.pattern).is_absolute() or ".." in Path(layout.pattern).parts:
        raise SourceError(f"--pattern {layout.pattern!r}: must be relative to the source folder, without '..'")
    if fields - {"id", "channel"}:
        raise SourceError(f"--pattern {layout.pattern!r}: unknown placeholder {{{sorted(fields - {'id', 'channel'})[0]}}}; "
                          "only {id} and {channel}")
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
    issues: list[Issue] = _not_in_table(root, layout, table)
    good: list[int] = []
    files: list[list[Path]] = []
    headers: list[list[Header]] = []
    for i, (sample_files, heads, problem) in enumerate(_inspect(root, table, layout, min_side, threads)):
        if problem is not None:
            issues.append(problem)
        else:
            good.append(i)
            files.append(sample_files)
            headers.append(heads)
    if not good:
        raise SourceError(_nothing_to_convert(root, table, issues))
    ids = [table.ids[i] for i in good]
    depths = {h[0].dtype for h in headers}
    if len(depths) > 1:
        other = next(i for i, h in enumerate(headers) if h[0].dtype != headers[0][0].dtype)
        raise SourceError(f"{files[other][0]}: id {ids[other]}: {headers[other][0].dtype} pixels, but "
                          f"{files[0][0].name} is {headers[0][0].dtype}; one bit depth per dataset")
    source_dtype = depths.pop()
    layout, mismatched = _channels(layout, files, headers, ids)
    issues += mismatched.values()
    keep = [j for j in range(len(good)) if j not in mismatched]
    rows = table.rows or [0] * len(table.ids)
    table = LabelTable(path=table.path, ids=[ids[j] for j in keep], labels=table.labels[[good[j] for j in keep]],
                       classes=table.classes, rows=[rows[good[j]] for j in keep] if table.rows else [])
    files = [files[j] for j in keep]
    dtype = "uint8" if layout.to_uint8 or source_dtype == "uint8" else "uint16"
    if layout.to_uint8 == "percentile" and source_dtype == "uint16":
        layout = layout.with_(percentiles=_percentiles(table, layout, files))
    return GenericPlan(table=table, layout=layout, files=files, dtype=dtype, source_dtype=source_dtype,
                       channels=list(layout.channels or ()), issues=sorted(issues))


def _percentiles(table: LabelTable, layout: Layout, files: list[list[Path]]) -> dict[str, tuple[float, float]]:
    """Per channel ``(low, high)`` percentiles (:data:`~micro_bench_hpa.layouts.PERCENTILES`) of
    up to :data:`~micro_bench_hpa.layouts.PERCENTILE_SAMPLES` training images (the default split,
    ``multilabel_stratified`` 0.8/0.1/0.1 seed 0), evenly spaced, each subsampled to at most
    256 x 256 pixels."""
    from micro_bench_hpa.split import stratified_split

    train = np.flatnonzero(stratified_split(table.labels, (0.8, 0.1, 0.1), 0) == 0)
    pick = train[np.linspace(0, len(train) - 1, min(PERCENTILE_SAMPLES, len(train))).round().astype(int)] if len(train) else []
    values: list[list[np.ndarray]] = []
    failed: list[tuple[ReadError, str]] = []
    for i in pick:
        try:
            a = layout.read(files[int(i)])
        except ReadError as err:  # fails again when converted: skipped there, with its reason
            failed.append((err, table.ids[int(i)]))
            continue
        step = max(1, max(a.shape[1:]) // 256)
        values.append([a[c, ::step, ::step].ravel() for c in range(a.shape[0])])
    if not values:
        raise _fail(*failed[0]) if failed else SourceError(f"{table.path}: no training image for --to-uint8 percentile")
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
