"""``micro-bench data split``: split a store or a label CSV, write the manifest, report duplicates."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from micro_bench_hpa.split import (
    PARTS,
    duplicate_report,
    make_split,
    read_label_csv,
    split_name,
    write_manifest,
)

__all__ = ["run_split"]


def run_split(source: str | Path, *, out: str | Path | None, seed: int, fractions: Sequence[float],
              method: str = "multilabel_stratified") -> Iterator[str]:
    """Split ``source`` (a store directory or an ``Id,Target`` CSV); yield report lines.

    A store gets ``splits/<name>`` (via :class:`~micro_bench_hpa.dataset.HPADataset`) and a
    manifest ``<store>.<name>.csv`` beside it; a CSV gets ``<csv stem>_<name>.csv`` beside it, unless
    ``out`` is given.
    """
    source = Path(source)
    name = split_name(fractions, seed, method)
    if source.is_dir():
        from micro_bench_hpa.dataset import HPADataset
        from micro_bench_hpa.store import open_store, resolutions_of

        ds = HPADataset(source, resolutions_of(open_store(source))[-1])
        ids, labels = list(ds.ids), ds.labels
        parts = ds.split_codes(fractions=fractions, seed=seed, method=method)
        dups = duplicate_report(ids, ds.digests, parts)
        manifest = Path(out) if out else source.with_name(f"{source.name}.{name}.csv")
    else:
        ids, labels = read_label_csv(source)
        parts = make_split(labels, fractions, seed, method)
        dups = None
        manifest = Path(out) if out else source.with_name(f"{source.stem}_{name}.csv")
    write_manifest(manifest, ids, parts)
    counts = np.stack([labels[parts == p].sum(0) for p in range(len(PARTS))], axis=1)
    ideal = np.outer(labels.sum(0), fractions)
    yield f"split {name}: " + ", ".join(f"{p} {int((parts == k).sum())}" for k, p in enumerate(PARTS))
    yield f"largest per-class deviation from the ideal count: {np.abs(counts - ideal).max():.2f} samples"
    yield f"manifest: {manifest}"
    if dups is None:
        yield "duplicate check: needs a store (pixel hashes); skipped for a CSV"
    else:
        yield f"exact-duplicate images across parts: {len(dups)} group(s)"
        for group in dups:
            yield "  " + " ".join(group)
