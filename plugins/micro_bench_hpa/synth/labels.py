"""Real HPA label sets for the synthetic dataset: the packaged label file and a stratified draw.

The label file is ``micro_bench_hpa/data/train.csv.gz`` (the Kaggle HPA 2018 ``train.csv``,
31,072 rows of ``Id,Target``). Whole rows are drawn, so each synthetic sample carries a real
HPA label set: class imbalance and co-occurrence are HPA's own.
"""

from __future__ import annotations

import csv
import gzip
import io
from functools import lru_cache
from importlib import resources

import numpy as np

__all__ = ["LABEL_FILE", "NUM_CLASSES", "draw_label_sets", "load_hpa_labels"]

#: Number of HPA classes (columns of the label matrix).
NUM_CLASSES = 28
#: The packaged label file, relative to the ``micro_bench_hpa`` package.
LABEL_FILE = "data/train.csv.gz"


@lru_cache(maxsize=1)
def load_hpa_labels() -> tuple[np.ndarray, np.ndarray]:
    """Read the packaged label file.

    Returns:
        ``(ids, labels)``: ids ``(31072,)`` str, labels ``(31072, 28)`` bool (read-only).

    Raises:
        ValueError: a row that is not ``Id,Target`` with class indices in ``0..27``; the message
            names the file and the line.
    """
    ref = resources.files("micro_bench_hpa").joinpath(LABEL_FILE)
    with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as text:
        rows = list(csv.reader(io.StringIO(text.read())))
    if not rows or [c.strip() for c in rows[0]] != ["Id", "Target"]:
        raise ValueError(f"{LABEL_FILE}: expected the header 'Id,Target', got {rows[:1]!r}")
    ids: list[str] = []
    labels = np.zeros((len(rows) - 1, NUM_CLASSES), dtype=bool)
    for i, row in enumerate(rows[1:]):
        try:
            sample_id, target = row
            classes = [int(t) for t in target.split()]
        except ValueError:
            raise ValueError(
                f"{LABEL_FILE}: line {i + 2}: expected 'Id,Target' with space-separated class "
                f"indices, got {row!r}"
            ) from None
        if not classes or min(classes) < 0 or max(classes) >= NUM_CLASSES:
            raise ValueError(
                f"{LABEL_FILE}: line {i + 2} (id {sample_id!r}): class indices must be 0..{NUM_CLASSES - 1}, "
                f"got {target!r}"
            )
        ids.append(sample_id)
        labels[i, classes] = True
    labels.setflags(write=False)
    id_array = np.asarray(ids, dtype=str)
    id_array.setflags(write=False)
    return id_array, labels


def default_min_per_class(n: int) -> int:
    """How many samples of each class a draw of ``n`` guarantees: ``min(5, n // 56)``, at least 1.

    With 28 classes, guaranteeing ``n // 56`` each spends at most half of the draw on rare
    classes; the other half is uniform, so frequent classes keep HPA's frequencies.
    """
    return max(1, min(5, n // (2 * NUM_CLASSES)))


def draw_label_sets(n: int, *, seed: int, min_per_class: int | None = None) -> np.ndarray:
    """A seeded stratified draw of ``n`` rows of the HPA label table.

    Classes are visited from rarest to most frequent; each gets at least
    ``min(min_per_class, rows with the class)`` rows (counting rows already drawn for rarer
    classes), drawn at random among the rows carrying it. The rest of the ``n`` rows are drawn
    uniformly from the remaining rows, without replacement. When ``n`` exceeds the table, whole
    shuffled copies of the table come first and the remainder is drawn as above.

    Args:
        n: number of label sets, ``>= 1``.
        seed: seed of the draw.
        min_per_class: guaranteed rows per class; default :func:`default_min_per_class`.

    Returns:
        ``(n,) int64`` row indices into :func:`load_hpa_labels` (in random order).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    _, labels = load_hpa_labels()
    total = len(labels)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1ABE15]))
    copies, rest = divmod(n, total)
    parts = [rng.permutation(total) for _ in range(copies)]
    if rest:
        k = default_min_per_class(rest) if min_per_class is None else min_per_class
        parts.append(_stratified(labels, rest, k, rng))
    return np.concatenate(parts).astype(np.int64)


def _stratified(labels: np.ndarray, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct row indices with >= ``min(k, count)`` rows of each class, where ``n`` allows."""
    chosen = np.zeros(len(labels), dtype=bool)
    picked: list[np.ndarray] = []
    budget = n
    for c in np.argsort(labels.sum(axis=0), kind="stable"):
        have = int(labels[chosen, c].sum())
        need = min(k, budget) - have
        if need <= 0:
            continue
        pool = np.flatnonzero(labels[:, c] & ~chosen)
        take = rng.choice(pool, size=min(need, len(pool)), replace=False)
        chosen[take] = True
        picked.append(take)
        budget -= len(take)
    fill = rng.choice(np.flatnonzero(~chosen), size=budget, replace=False)
    return rng.permutation(np.concatenate([*picked, fill]))
