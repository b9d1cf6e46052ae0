"""Splits and label parsing, on the real HPA train.csv (31,072 rows, shipped in data/hpa/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from micro_bench_hpa.split import duplicate_report, read_label_csv, stratified_split, write_manifest

TRAIN_CSV = Path(__file__).resolve().parents[3] / "data" / "hpa" / "train.csv"
# data/README.md (from the Kaggle data): per-class counts of classes 0..27.
README_COUNTS = [12885, 1254, 3621, 1561, 1858, 2513, 1008, 2822, 53, 45, 28, 1093, 688, 537, 1066,
                 21, 530, 210, 902, 1482, 172, 3777, 802, 2965, 322, 8228, 328, 11]


@pytest.fixture(scope="module")
def real_labels() -> tuple[list[str], np.ndarray]:
    return read_label_csv(TRAIN_CSV)


def test_real_train_csv_parses_to_multi_hot(real_labels):
    ids, labels = real_labels
    assert len(ids) == 31072 == len(set(ids))
    assert labels.shape == (31072, 28) and labels.dtype == bool
    assert labels.sum(0).tolist() == README_COUNTS
    assert labels.any(1).all()
    assert ids[1] == "000a6c98-bb9b-11e8-b2b9-ac1f6b6435d0"
    assert np.flatnonzero(labels[1]).tolist() == [0, 1, 2, 7]  # "7 1 2 0"


def test_real_split_per_class_counts_within_one_of_ideal(real_labels):
    _, labels = real_labels
    fractions = np.array([0.8, 0.1, 0.1])
    parts = stratified_split(labels, fractions, seed=0)
    assert parts.dtype == np.int8 and set(np.unique(parts)) == {0, 1, 2}
    counts = np.stack([labels[parts == p].sum(0) for p in range(3)], axis=1)
    ideal = np.outer(labels.sum(0), fractions)
    assert np.abs(counts - ideal).max() < 1.0
    # class 27 (Rods & rings) has 11 samples: 8.8 / 1.1 / 1.1 ideal
    assert counts[27].tolist() in ([9, 1, 1], [8, 2, 1], [8, 1, 2])
    assert np.abs(np.bincount(parts) / len(parts) - fractions).max() < 0.002
    assert np.array_equal(parts, stratified_split(labels, fractions, seed=0))
    assert not np.array_equal(parts, stratified_split(labels, fractions, seed=1))


@settings(max_examples=40, deadline=None)
@given(
    labels=arrays(bool, st.tuples(st.integers(1, 60), st.integers(1, 6))),
    seed=st.integers(0, 2**31),
    val=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
)
def test_split_assigns_every_sample_and_respects_totals(labels, seed, val):
    fractions = (1.0 - 2 * val, val, val) if val < 0.5 else (0.0, 0.5, 0.5)
    parts = stratified_split(labels, fractions, seed)
    assert parts.shape == (len(labels),) and ((parts >= 0) & (parts <= 2)).all()
    for p, f in enumerate(fractions):
        if f == 0.0:
            assert not (parts == p).any()
    # the part sizes can miss the ideal only because multi-label samples are dealt label-first
    sizes = np.bincount(parts, minlength=3)
    assert np.abs(sizes - np.array(fractions) * len(labels)).max() <= labels.shape[1] + 1


def test_bad_fractions_are_a_clear_error():
    with pytest.raises(ValueError, match="summing to 1"):
        stratified_split(np.ones((4, 2), bool), (0.5, 0.1, 0.1))


@pytest.mark.parametrize(
    ("target", "message"),
    [("3 28", "must be 1\\+ class indices in 0-27"), ("", "must be 1\\+ class"), ("a b", "not space-separated integers")],
)
def test_read_label_csv_names_file_and_line(tmp_path, target, message):
    p = tmp_path / "labels.csv"
    p.write_text(f"Id,Target\nok,1\nbad,{target}\n")
    with pytest.raises(ValueError, match=rf"labels.csv:3: .*{message}"):
        read_label_csv(p)


def test_manifest_and_duplicate_report(tmp_path):
    ids = ["a", "b", "c", "d"]
    parts = np.array([0, 1, 0, 2], dtype=np.int8)
    out = write_manifest(tmp_path / "m.csv", ids, parts)
    assert out.read_text().splitlines() == ["Id,split", "a,train", "b,val", "c,train", "d,test"]
    digests = np.array([7, 7, 9, 9], dtype=np.uint64)  # a/b identical across parts; c/d too
    assert duplicate_report(ids, digests, parts) == [("a:train", "b:val"), ("c:train", "d:test")]
    assert duplicate_report(ids, np.array([7, 8, 7, 0], np.uint64), parts) == []  # same part only


# --- split: {method: random} (the paper's "randomly split ... 24858 / 3107 / 3107") ------------------


def test_random_split_of_the_real_labels_has_the_papers_sizes(real_labels):
    from micro_bench_hpa.split import make_split, part_sizes, random_split

    _, labels = real_labels
    assert part_sizes(len(labels), (0.8, 0.1, 0.1)).tolist() == [24858, 3107, 3107]
    parts = make_split(labels, (0.8, 0.1, 0.1), seed=0, method="random")
    assert parts.dtype == np.int8 and np.bincount(parts).tolist() == [24858, 3107, 3107]
    assert np.array_equal(parts, random_split(len(labels), (0.8, 0.1, 0.1), 0))  # same seed, same split
    assert not np.array_equal(parts, random_split(len(labels), (0.8, 0.1, 0.1), 1))
    # the permutation numpy's Generator draws, cut at the sizes: train is its first 24858 samples
    order = np.random.default_rng(0).permutation(len(labels))
    assert set(np.flatnonzero(parts == 0)) == set(order[:24858].tolist())
    assert set(np.flatnonzero(parts == 2)) == set(order[24858 + 3107:].tolist())
    # not the stratified split, which gives other sizes on the same labels
    assert np.bincount(stratified_split(labels, (0.8, 0.1, 0.1), 0)).tolist() != [24858, 3107, 3107]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 5000), cuts=st.lists(st.integers(0, 1000), min_size=3, max_size=3).filter(any),
       seed=st.integers(0, 2**31))
def test_random_split_sizes_are_largest_remainder_rounding(n, cuts, seed):
    from micro_bench_hpa.split import part_sizes, random_split

    fractions = np.array(cuts, float) / sum(cuts)
    sizes = part_sizes(n, fractions)
    assert sizes.sum() == n and (np.abs(sizes - n * fractions) < 1).all()
    parts = random_split(n, fractions, seed)
    assert np.bincount(parts, minlength=3).tolist() == sizes.tolist()


def test_split_method_selects_the_method_and_unknown_is_refused(real_labels):
    from micro_bench_hpa.split import make_split, split_name

    _, labels = real_labels
    assert split_name((0.8, 0.1, 0.1), 0) == "ms_0.8_0.1_0.1_seed0"
    assert split_name((0.8, 0.1, 0.1), 0, "random") == "random_0.8_0.1_0.1_seed0"
    assert np.array_equal(make_split(labels[:500], seed=3), stratified_split(labels[:500], (0.8, 0.1, 0.1), 3))
    with pytest.raises(ValueError, match="unknown split method 'kfold'.*multilabel_stratified, random"):
        make_split(labels[:10], method="kfold")
