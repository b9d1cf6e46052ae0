"""Validate an HPA source folder before conversion: which samples are good, and why others are not.

Every check that needs no pixel decoding runs here (headers only); decoding failures
(truncated files) are found by the conversion itself and added to the same report.
Report categories: ``missing_channel``, ``unreadable``, ``truncated``, ``wrong_size``,
``wrong_dtype``, ``mixed_bit_depth`` (8- and 16-bit channels in one sample), ``duplicate_channel`` (two files for one
channel, e.g. ``_red.png`` and ``_red.tif``), ``not_in_csv`` (images whose id the CSV lacks), ``no_images`` (CSV ids without
any image), ``duplicate_id``, ``bad_label`` (outside 0-27 or not an integer), ``empty_target``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from micro_bench_hpa.classes import HPA_CHANNELS, N_CLASSES
from micro_bench_hpa.readers import (
    ALLOWED_SIZES,
    ReadError,
    SourceError,
    find_label_csv,
    image_folder,
    index_images,
    inspect_image,
    parse_label_rows,
)

__all__ = ["Issue", "Plan", "plan_conversion"]

Issue = tuple[str, str, str]  # (kind, id, detail)


@dataclass
class Plan:
    """What a conversion will write.

    Attributes:
        source: the SRC folder; label_csv: the label file used.
        ids: N good ids in CSV order; labels: ``(N, 28) bool``.
        paths: per good id, ``{color: file}``.
        issues: ``(kind, id, detail)`` of every rejected input, sorted.
    """

    source: Path
    label_csv: Path
    ids: list[str]
    labels: np.ndarray
    paths: list[dict[str, Path]]
    issues: list[Issue] = field(default_factory=list)


def _check_headers(sid: str, files: dict[str, Path], min_side: int) -> Issue | None:
    sizes, depths = set(), {}
    for color in HPA_CHANNELS:
        try:
            w, h, dtype = inspect_image(files[color])
        except ReadError as err:
            return (err.kind, sid, f"{files[color].name}: {err.detail}")
        sizes.add((w, h))
        depths[color] = dtype
    if len(set(depths.values())) > 1:
        return ("mixed_bit_depth", sid, "channels of different bit depths: "
                + ", ".join(f"{c} {d}" for c, d in depths.items()) + "; expected one depth per sample")
    (w, h), n = next(iter(sizes)), len(sizes)
    if n > 1 or w != h or w not in ALLOWED_SIZES or w < min_side:
        return ("wrong_size", sid, f"channel sizes {sorted(sizes)}; expected equal squares, one of {ALLOWED_SIZES}, >= {min_side}")
    return None


def plan_conversion(src: str | Path, *, min_side: int = 1, threads: int = 8) -> Plan:
    """Scan ``src`` (see :mod:`micro_bench_hpa.readers` for layouts) and validate every input.

    Args:
        src: source folder.
        min_side: the largest output resolution; smaller inputs are ``wrong_size``.
        threads: header reads in parallel (I/O bound).
    """
    src = Path(src)
    if not src.is_dir():
        raise SourceError(f"{src}: source folder not found (expected the unpacked Kaggle HPA train set)")
    csv_path = find_label_csv(src)
    rows, issues = parse_label_rows(csv_path)
    duplicates: dict[str, list[Path]] = {}
    files = index_images(image_folder(src), duplicates)
    listed = {sid for sid, _ in rows} | {i[1] for i in issues}
    issues += [("not_in_csv", sid, f"{len(f)} channel file(s) but no row in {csv_path.name}") for sid, f in files.items() if sid not in listed]
    candidates = []
    for sid, classes in rows:
        have = files.get(sid, {})
        missing = [c for c in HPA_CHANNELS if c not in have]
        if sid in duplicates:
            issues.append(("duplicate_channel", sid, f"two files for one channel: "
                           f"{', '.join(p.name for p in duplicates[sid])}; keep one"))
        elif len(missing) == len(HPA_CHANNELS):
            issues.append(("no_images", sid, f"listed in {csv_path.name} but no channel file found"))
        elif missing:
            issues.append(("missing_channel", sid, f"no {', '.join(missing)} file"))
        else:
            candidates.append((sid, classes, have))
    with ThreadPoolExecutor(threads) as pool:
        checks = list(pool.map(lambda c: _check_headers(c[0], c[2], min_side), candidates))
    good = []
    for cand, problem in zip(candidates, checks, strict=True):
        if problem is None:
            good.append(cand)
        else:
            issues.append(problem)
    labels = np.zeros((len(good), N_CLASSES), dtype=bool)
    for i, (_, classes, _) in enumerate(good):
        labels[i, classes] = True
    return Plan(
        source=src,
        label_csv=csv_path,
        ids=[g[0] for g in good],
        labels=labels,
        paths=[g[2] for g in good],
        issues=sorted(issues),
    )
