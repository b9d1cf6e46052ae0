"""hpa_synth label sets: the packaged HPA label file and the stratified draw."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from micro_bench_hpa.synth.labels import draw_label_sets, load_hpa_labels

REPO_CSV = Path(__file__).resolve().parents[3] / "data" / "hpa" / "train.csv"


def test_packaged_file_matches_repository_csv() -> None:
    ids, labels = load_hpa_labels()
    assert labels.shape == (31072, 28) and labels.dtype == bool
    if REPO_CSV.is_file():  # the installed package ships its own copy
        with open(REPO_CSV, newline="") as fh:
            rows = list(csv.reader(fh))[1:]
        assert list(ids) == [r[0] for r in rows]
        for i in (0, 1, 12345, len(rows) - 1):
            assert set(np.flatnonzero(labels[i])) == {int(t) for t in rows[i][1].split()}
    assert labels.any(axis=1).all()


def test_draw_is_real_rows_deterministic_and_distinct() -> None:
    rows = draw_label_sets(300, seed=3)
    assert rows.dtype == np.int64 and len(np.unique(rows)) == 300
    assert np.array_equal(rows, draw_label_sets(300, seed=3))
    assert not np.array_equal(rows, draw_label_sets(300, seed=4))


@pytest.mark.parametrize("n", [300, 600])
def test_every_class_present(n: int) -> None:
    _, labels = load_hpa_labels()
    counts = labels[draw_label_sets(n, seed=0)].sum(axis=0)
    assert (counts >= min(5, n // 56)).all()


def test_frequent_class_frequencies_follow_hpa() -> None:
    _, labels = load_hpa_labels()
    n = 3000
    drawn = labels[draw_label_sets(n, seed=1)].mean(axis=0)
    p = labels.mean(axis=0)
    frequent = labels.sum(axis=0) >= 500
    # the rare-class guarantee takes at most 28 * 5 rows; allow that plus 4 standard errors
    tol = 4 * np.sqrt(p * (1 - p) / n) + 140 / n
    assert (np.abs(drawn - p)[frequent] < tol[frequent]).all()


def test_more_than_the_table_repeats_whole_copies() -> None:
    rows = draw_label_sets(31072 + 10, seed=0)
    assert np.array_equal(np.sort(rows[:31072]), np.arange(31072))


def test_bad_n() -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        draw_label_sets(0, seed=0)
