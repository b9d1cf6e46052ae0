"""The metric set against scikit-learn, with invariances and bounds (hypothesis)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from micro_bench_metrics.catalog import Metric, compute_metrics, metric_ids
from micro_bench_metrics.formulas import MetricInputs

SCALARS = [m for m in metric_ids() if not m.startswith("per_class_")]


@st.composite
def multilabel(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random ``(y_true, y_score, y_pred)``; scores on a coarse grid so ties happen; some label
    columns forced all-zero (HPA's rare classes)."""
    n = draw(st.integers(1, 25))
    k = draw(st.integers(2, 6))  # sklearn reads a single column as binary, not multilabel
    y_true = draw(arrays(bool, (n, k)))
    zero_cols = draw(arrays(bool, (k,)))
    y_true[:, zero_cols] = False
    if draw(st.booleans()):
        y_score = draw(arrays(np.int64, (n, k), elements=st.integers(0, 8))) / 8.0
    else:
        y_score = draw(arrays(np.float64, (n, k), elements=st.floats(0, 1)))
    y_pred = draw(arrays(bool, (n, k)))
    return y_true, y_score, y_pred


def _sklearn_reference(y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    ref: dict[str, float] = {}
    for avg in ("macro", "micro"):
        ref[f"precision_{avg}"] = skm.precision_score(y_true, y_pred, average=avg, zero_division=0)
        ref[f"recall_{avg}"] = skm.recall_score(y_true, y_pred, average=avg, zero_division=0)
        ref[f"f1_{avg}"] = skm.f1_score(y_true, y_pred, average=avg, zero_division=0)
    n_pos = y_true.sum(axis=0)
    roc_defined = (n_pos > 0) & (n_pos < y_true.shape[0])
    ap_defined = n_pos > 0
    nan = float("nan")
    ref["roc_auc_macro"] = skm.roc_auc_score(y_true[:, roc_defined], y_score[:, roc_defined]) if roc_defined.any() else nan
    ref["pr_auc_macro"] = (
        skm.average_precision_score(y_true[:, ap_defined], y_score[:, ap_defined]) if ap_defined.any() else nan
    )
    flat_true, flat_score = y_true.ravel(), y_score.ravel()
    ref["roc_auc_micro"] = skm.roc_auc_score(flat_true, flat_score) if 0 < flat_true.sum() < flat_true.size else nan
    ref["pr_auc_micro"] = skm.average_precision_score(flat_true, flat_score) if flat_true.any() else nan
    ref["hamming_loss"] = skm.hamming_loss(y_true, y_pred)
    ref["auc_excluded_classes"] = float((~roc_defined).sum())
    return ref


@settings(max_examples=80, deadline=None)
@given(multilabel())
def test_scalar_metrics_equal_sklearn(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y_true, y_score, y_pred = data
    ours = compute_metrics(SCALARS, y_true, y_score, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _sklearn_reference(y_true, y_score, y_pred)
    for name, value in ref.items():
        np.testing.assert_allclose(ours[name], value, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=name)


@settings(max_examples=60, deadline=None)
@given(multilabel())
def test_per_class_metrics_equal_sklearn(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y_true, y_score, y_pred = data
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    for name, ref in (("precision", p), ("recall", r), ("f1", f), ("support", s)):
        ours = Metric(f"per_class_{name}")(y_true, y_score, y_pred)
        assert list(ours) == [str(i) for i in range(y_true.shape[1])]
        np.testing.assert_allclose(list(ours.values()), ref, atol=1e-12, err_msg=name)


@settings(max_examples=60, deadline=None)
@given(multilabel(), st.randoms(use_true_random=False))
def test_invariant_to_sample_and_class_permutations(data, rnd) -> None:  # type: ignore[no-untyped-def]
    y_true, y_score, y_pred = data
    rows = np.array(rnd.sample(range(y_true.shape[0]), y_true.shape[0]))
    cols = np.array(rnd.sample(range(y_true.shape[1]), y_true.shape[1]))
    base = compute_metrics(metric_ids(), y_true, y_score, y_pred)
    by_rows = compute_metrics(metric_ids(), y_true[rows], y_score[rows], y_pred[rows])
    by_cols = compute_metrics(metric_ids(), y_true[:, cols], y_score[:, cols], y_pred[:, cols])
    for name in metric_ids():
        if name.startswith("per_class_"):
            assert by_rows[name] == pytest.approx(base[name], nan_ok=True)
            permuted = [base[name][str(c)] for c in cols]
            assert list(by_cols[name].values()) == pytest.approx(permuted, nan_ok=True)
        else:
            assert by_rows[name] == pytest.approx(base[name], rel=1e-12, nan_ok=True), name
            assert by_cols[name] == pytest.approx(base[name], rel=1e-12, nan_ok=True), name


@settings(max_examples=60, deadline=None)
@given(multilabel())
def test_bounds_and_hamming_is_mean_mismatch(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    y_true, y_score, y_pred = data
    values = compute_metrics(SCALARS, y_true, y_score, y_pred)
    for name, value in values.items():
        if name != "auc_excluded_classes" and not np.isnan(value):
            assert 0.0 <= value <= 1.0, name
    assert values["hamming_loss"] == np.mean(y_true != y_pred)
    assert 0 <= values["auc_excluded_classes"] <= y_true.shape[1]


def test_perfect_and_inverted_scores() -> None:
    y_true = np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=bool)
    score = y_true.astype(float)
    perfect = compute_metrics(SCALARS, y_true, score, y_true)
    for name in ("f1_macro", "roc_auc_macro", "pr_auc_micro", "precision_micro"):
        assert perfect[name] == 1.0
    assert perfect["hamming_loss"] == 0.0
    assert compute_metrics(["roc_auc_macro"], y_true, 1 - score, ~y_true)["roc_auc_macro"] == 0.0


def test_class_without_positives_counts_as_zero_in_f1_and_is_excluded_from_auc() -> None:
    y_true = np.array([[1, 0], [0, 0], [1, 0], [0, 0]], dtype=bool)
    y_score = np.array([[0.9, 0.1], [0.2, 0.3], [0.8, 0.2], [0.1, 0.4]])
    inputs = MetricInputs(y_true, y_score, y_score >= 0.5)
    assert inputs.f1().tolist() == [1.0, 0.0]
    assert Metric("f1_macro")(y_true, y_score, y_score >= 0.5) == 0.5
    assert Metric("roc_auc_macro")(y_true, y_score, y_score >= 0.5) == 1.0
    assert Metric("auc_excluded_classes")(y_true, y_score, y_score >= 0.5) == 1.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((3, 2)), np.zeros((3, 3)), np.zeros((3, 2))), "one \\(N, K\\) shape"),
        ((np.full((3, 2), 2), np.zeros((3, 2)), np.zeros((3, 2))), "y_true must be bool or 0/1"),
        ((np.zeros((3, 2)), np.full((3, 2), np.nan), np.zeros((3, 2))), "nan or inf"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple[np.ndarray, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Metric("f1_macro")(*args)


def test_unknown_metric_id_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown metric id 'f1'.*f1_macro"):
        Metric("f1")


def test_consecutive_calls_see_in_place_changes() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.random((20, 3)) < 0.5
    y_score = rng.random((20, 3))
    y_pred = y_score >= 0.5
    before = Metric("roc_auc_macro")(y_true, y_score, y_pred)
    y_score[:] = 1 - y_score  # same objects, new values
    after = Metric("roc_auc_macro")(y_true, y_score, y_pred)
    assert after == pytest.approx(1 - before)
    y_pred[:] = ~y_pred
    assert Metric("hamming_loss")(y_true, y_score, y_pred) == np.mean(y_true != y_pred)
