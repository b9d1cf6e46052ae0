"""Bootstrap intervals and paired tests of the metric set (micro_bench_metrics.bootstrap/paired)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.stats
from scipy.special import ndtr
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from micro_bench_metrics.bootstrap import (
    PER_CLASS,
    SCALAR,
    distributions,
    intervals,
    percentile_interval,
    resample_indices,
)
from micro_bench_metrics.catalog import compute_metrics
from micro_bench_metrics.paired import bootstrap_p_value, holm


def _data(n=150, k=5, seed=1, ties=True):
    rng = np.random.default_rng(seed)
    y_true = rng.random((n, k)) < np.linspace(0.5, 0.03, k)
    y_score = np.clip(0.3 * y_true + 0.8 * rng.random((n, k)), 0, 1)
    if ties:
        y_score = np.round(y_score, 1)  # many tied scores, within and across classes
    return y_true, y_score, y_score > 0.5


def test_every_resample_equals_the_formulas_on_the_resampled_samples():
    y_true, y_score, y_pred = _data()
    idx = resample_indices(len(y_true), 25, seed=3)
    ids = SCALAR + PER_CLASS
    dist = distributions(ids, y_true, y_score, y_pred, idx)
    for b in range(len(idx)):
        ref = compute_metrics(ids, y_true[idx[b]], y_score[idx[b]], y_pred[idx[b]])
        for m in ids:
            want = ref[m]
            want = np.array([want[str(k)] for k in range(y_true.shape[1])]) if isinstance(want, dict) else want
            np.testing.assert_allclose(dist[m][b], want, rtol=1e-12, atol=1e-12, err_msg=f"{m}, resample {b}")
    # and directly against scikit-learn on one resample
    yt, ys, yp = y_true[idx[0]], y_score[idx[0]], y_pred[idx[0]]
    assert dist["f1_macro"][0] == pytest.approx(f1_score(yt, yp, average="macro", zero_division=0))
    assert dist["roc_auc_micro"][0] == pytest.approx(roc_auc_score(yt.ravel(), ys.ravel()))
    assert dist["pr_auc_micro"][0] == pytest.approx(average_precision_score(yt.ravel(), ys.ravel()))


@pytest.mark.parametrize("metric", ["f1_macro", "roc_auc_macro"])
def test_interval_equals_scipy_bootstrap_on_the_same_resamples(metric):
    y_true, y_score, y_pred = _data(n=80, k=4)

    def statistic(i):
        i = np.asarray(i, int)
        return compute_metrics([metric], y_true[i], y_score[i], y_pred[i])[metric]

    seed_arg = "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"
    res = scipy.stats.bootstrap((np.arange(len(y_true)),), statistic, n_resamples=400, vectorized=False,
                                method="percentile", confidence_level=0.9,
                                **{seed_arg: np.random.default_rng(7)})
    ours = intervals([metric], y_true, y_score, y_pred, n_resamples=400, level=0.9, seed=7)[metric]
    assert (ours.low, ours.high) == pytest.approx((res.confidence_interval.low, res.confidence_interval.high),
                                                  abs=1e-12)
    dist = distributions([metric], y_true, y_score, y_pred, resample_indices(len(y_true), 400, 7))[metric]
    np.testing.assert_allclose(dist, res.bootstrap_distribution, atol=1e-12)


def test_95_interval_covers_the_population_value_in_93_to_97_percent_of_400_trials():
    """Scores N(mu * y, 1), prediction at mu / 2: population ROC-AUC Phi(mu / sqrt 2), and F1 per
    class 2a / (2a + b + c) from the confusion probabilities."""
    rng = np.random.default_rng(2024)
    prevalence, mu, n = np.array([0.4, 0.25, 0.15]), np.array([1.0, 1.5, 2.0]), 300
    recall, fpr = ndtr(mu / 2), 1 - ndtr(mu / 2)
    a, b, c = prevalence * recall, (1 - prevalence) * fpr, prevalence * (1 - recall)
    truth = {"f1_macro": float(np.mean(2 * a / (2 * a + b + c))), "roc_auc_macro": float(np.mean(ndtr(mu / np.sqrt(2))))}
    covered = dict.fromkeys(truth, 0)
    for trial in range(400):
        y_true = rng.random((n, 3)) < prevalence
        y_score = y_true * mu + rng.standard_normal((n, 3))
        found = intervals(list(truth), y_true, y_score, y_score > mu / 2, n_resamples=500, seed=trial)
        for m, value in truth.items():
            covered[m] += found[m].low <= value <= found[m].high
    for m, hits in covered.items():
        assert 0.93 <= hits / 400 <= 0.97, (m, hits / 400)


def test_identical_rows_have_delta_zero_and_p_one():
    y_true, y_score, y_pred = _data()
    idx = resample_indices(len(y_true), 500, 0)
    a = distributions(["f1_macro", "roc_auc_macro"], y_true, y_score, y_pred, idx)
    b = distributions(["f1_macro", "roc_auc_macro"], y_true, y_score.copy(), y_pred.copy(), idx)
    for m in a:
        d = a[m] - b[m]
        assert np.all(d == 0) and bootstrap_p_value(d) == 1.0
        assert percentile_interval(d, 0.95) == (0.0, 0.0)


def test_clearly_better_row_has_p_below_001():
    rng = np.random.default_rng(5)
    n, k = 200, 4
    y_true = rng.random((n, k)) < 0.3
    good = y_true * 2.0 + rng.standard_normal((n, k))
    bad = y_true * 0.3 + rng.standard_normal((n, k))
    idx = resample_indices(n, 1000, 0)
    a = distributions(["f1_macro", "roc_auc_macro"], y_true, good, good > 1.0, idx)
    b = distributions(["f1_macro", "roc_auc_macro"], y_true, bad, bad > 0.15, idx)
    for m in a:
        assert bootstrap_p_value(a[m] - b[m]) < 0.01
        assert bootstrap_p_value(b[m] - a[m]) < 0.01
    assert bootstrap_p_value(np.array([1.0, -1.0, 2.0, np.nan])) == pytest.approx(min(1, 2 * 2 / 4))


def test_holm_against_a_hand_computation():
    # sorted: 0.01 * 4 = 0.04; 0.03 * 3 = 0.09; 0.04 * 2 = 0.08 -> running max 0.09; 0.20 * 1 = 0.20
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.20]), [0.04, 0.09, 0.09, 0.20])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    got = holm([0.02, float("nan"), 0.01])  # nan is not a test: m = 2
    assert got[0] == pytest.approx(0.02) and np.isnan(got[1]) and got[2] == pytest.approx(0.02)
    try:
        from statsmodels.stats.multitest import multipletests
    except ImportError:
        return
    p = np.random.default_rng(0).random(12) ** 3
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])


def test_undefined_resamples_are_left_out_of_the_interval():
    values = np.array([[0.1, np.nan], [0.2, np.nan], [0.3, np.nan], [np.nan, np.nan]])
    low, high = percentile_interval(values, 0.5)
    assert low[0] == pytest.approx(0.15) and high[0] == pytest.approx(0.25) and np.isnan(low[1])
