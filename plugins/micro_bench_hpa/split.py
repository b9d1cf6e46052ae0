"""Train/val/test splits (iterative stratification, or a seeded random permutation) and their manifests.

Two methods (the config's ``split.method``; :data:`METHODS`):

* ``multilabel_stratified`` (:func:`stratified_split`, the default and the recommendation for new
  benchmarks): every class, rare ones included, lands in each part in about its share. The
  algorithm is Sechidis, Tsoumakas & Vlahavas (2011), "On the stratification of multi-label
data" (the one ``iterative-stratification`` implements for k folds), generalised to unequal
fractions: labels are handled rarest first; each sample carrying the label goes to the part
that still wants most of that label (ties: most wanted samples overall, then a seeded draw).
Per class, every part ends within about one sample of ``count * fraction`` whenever the class's
samples are not pinned elsewhere by rarer labels they also carry.
* ``random`` (:func:`random_split`): what Zhao & Tang did ("randomly split the labeled data
  (31072 samples) by 80%/10%/10% into training (24858), validation (3107) and test (3107)"):
  one seeded permutation cut at sizes rounded by largest remainder (:func:`part_sizes`), which
  gives the paper's 24858 / 3107 / 3107 for 31,072 labels. A rare class may then be missing
  from, or over-represented in, the validation or test part (on the real labels, seed 0:
  see docs/reproducing.md).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from micro_bench_hpa.classes import N_CLASSES

__all__ = [
    "METHODS",
    "PARTS",
    "duplicate_report",
    "make_split",
    "part_sizes",
    "random_split",
    "read_label_csv",
    "split_name",
    "stratified_split",
    "write_manifest",
]

#: Part names by their int8 code in ``splits/<name>``.
PARTS: tuple[str, ...] = ("train", "val", "test")
#: Split methods by config name, with the prefix of their store key.
METHODS: dict[str, str] = {"multilabel_stratified": "ms", "random": "random"}


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`METHODS`, else a ``ValueError`` listing them."""
    if method not in METHODS:
        raise ValueError(f"unknown split method {method!r}; the HPA datasets implement: {', '.join(METHODS)}")
    return method


def split_name(fractions: Sequence[float], seed: int, method: str = "multilabel_stratified") -> str:
    """Store key of a split, e.g. ``"ms_0.8_0.1_0.1_seed0"`` (``"random_..."`` for ``random``)."""
    return METHODS[check_method(method)] + "_" + "_".join(f"{f:g}" for f in fractions) + f"_seed{seed}"


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (len(PARTS),) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1 (train, val, test), got {list(fractions)}")
    return f


def stratified_split(labels: np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """Assign each sample to a part.

    Args:
        labels: ``(N, K) bool`` multi-hot targets.
        fractions: wanted share of train, val, test (sum 1).
        seed: seeds the tie-breaking and the order in which samples are dealt.

    Returns:
        ``(N,) int8`` codes: 0 train, 1 val, 2 test.
    """
    frac = _check_fractions(fractions)
    y = np.asarray(labels, dtype=bool)
    n, k = y.shape
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)  # deal samples in a seeded order
    want_total = frac * n
    want_label = np.outer(y.sum(0), frac)  # (K, P) samples each part still wants per label
    part = np.full(n, -1, dtype=np.int8)
    remaining = y.copy()
    for _ in range(k):
        counts = remaining.sum(0)
        live = np.flatnonzero(counts)
        if live.size == 0:
            break
        label = live[np.argmin(counts[live])]
        for i in order[remaining[order, label]]:
            w = want_label[label]
            best = np.flatnonzero(w == w.max())
            if best.size > 1:
                wt = want_total[best]
                best = best[wt == wt.max()]
            p = best[0] if best.size == 1 else rng.choice(best)
            part[i] = p
            want_label[y[i], p] -= 1
            want_total[p] -= 1
            remaining[i] = False
    for i in order[part[order] < 0]:  # samples without any label
        best = np.flatnonzero(want_total == want_total.max())
        p = best[0] if best.size == 1 else rng.choice(best)
        part[i] = p
        want_total[p] -= 1
    return part


def part_sizes(n: int, fractions: Sequence[float]) -> np.ndarray:
    """``(3,) int64`` sizes of train, val, test for ``n`` samples: ``floor(n * f)``, and the samples
    left over go one each to the parts with the largest remainders (ties: the earlier part).
    ``part_sizes(31072, (0.8, 0.1, 0.1))`` is the paper's ``[24858, 3107, 3107]``."""
    frac = _check_fractions(fractions)
    exact = frac * n
    sizes = np.floor(exact + 1e-9).astype(np.int64)
    left = int(n - sizes.sum())
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:left]] += 1
    return sizes


def random_split(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """``(n,) int8`` part codes from one seeded permutation (``numpy.random.default_rng(seed)``):
    its first ``sizes[0]`` samples train, the next ``sizes[1]`` val, the rest test
    (:func:`part_sizes`)."""
    sizes = part_sizes(n, fractions)
    order = np.random.default_rng(seed).permutation(n)
    part = np.empty(n, dtype=np.int8)
    for code, rows in enumerate(np.split(order, np.cumsum(sizes)[:-1])):
        part[rows] = code
    return part


def make_split(labels: np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
               method: str = "multilabel_stratified") -> np.ndarray:
    """``(N,) int8`` part codes of ``labels (N, K) bool`` by ``method`` (:data:`METHODS`)."""
    if check_method(method) == "random":
        return random_split(len(labels), fractions, seed)
    return stratified_split(labels, fractions, seed)


def read_label_csv(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a Kaggle label CSV (``Id,Target``, Target = space-separated class indices).

    Returns:
        ``(ids, labels)`` with ``labels (N, 28) bool``. Raises ``ValueError`` naming the file and
        line for a missing column, a non-integer or out-of-range label or an empty target.
    """
    path = Path(path)
    ids: list[str] = []
    rows: list[list[int]] = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"Id", "Target"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected a CSV with columns Id,Target, got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                targets = [int(t) for t in (row["Target"] or "").split()]
            except ValueError:
                raise ValueError(f"{path}:{line}: Target {row['Target']!r} is not space-separated integers") from None
            if not targets or any(not 0 <= t < N_CLASSES for t in targets):
                raise ValueError(f"{path}:{line}: Target {row['Target']!r} must be 1+ class indices in 0-{N_CLASSES - 1}")
            ids.append(row["Id"])
            rows.append(targets)
    labels = np.zeros((len(ids), N_CLASSES), dtype=bool)
    for i, t in enumerate(rows):
        labels[i, t] = True
    return ids, labels


def write_manifest(path: str | Path, ids: Sequence[str], parts: np.ndarray) -> Path:
    """Write ``Id,split`` rows (``train``/``val``/``test``; rows with code < 0 are left out)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Id", "split"])
        for i, p in zip(ids, parts, strict=True):
            if p >= 0:
                w.writerow([i, PARTS[p]])
    return path


def duplicate_report(ids: Sequence[str], digests: np.ndarray, parts: np.ndarray) -> list[tuple[str, ...]]:
    """Groups of ids whose pixels are identical (equal digest) and that sit in different parts.

    Args:
        ids: N ids.
        digests: ``(N,) uint64`` pixel hashes (0 = no pixels, ignored).
        parts: ``(N,) int8`` split codes.

    Returns:
        One tuple ``("id:part", ...)`` per group spanning more than one part.
    """
    groups: dict[int, list[int]] = {}
    for i, d in enumerate(np.asarray(digests).tolist()):
        if d:
            groups.setdefault(d, []).append(i)
    out = []
    for members in groups.values():
        if len(members) > 1 and len({int(parts[m]) for m in members}) > 1:
            out.append(tuple(f"{ids[m]}:{PARTS[parts[m]]}" for m in members))
    return out
