"""Threshold rules: constant, F1-tuned, prevalence-matched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import f1_score

from micro_bench_metrics.thresholds import (
    apply_thresholds,
    check_rule,
    describe_rule,
    fit_thresholds,
)


@st.composite
def val_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    k = draw(st.integers(1, 5))
    y_true = draw(arrays(bool, (n, k)))
    y_score = draw(arrays(np.int64, (n, k), elements=st.integers(0, 10))) / 10.0
    return y_true, y_score


def _per_class_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.array([f1_score(y_true[:, k], y_pred[:, k], zero_division=0) for k in range(y_true.shape[1])])


def test_constant_rule() -> None:
    thresholds = fit_thresholds(0.5, np.zeros((4, 3), bool), np.zeros((4, 3)))
    assert thresholds.dtype == np.float64
    assert thresholds.tolist() == [0.5, 0.5, 0.5]
    assert describe_rule(0.5) == "constant 0.5 for every class"


@settings(max_examples=80, deadline=None)
@given(val_data(), st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_tuned_f1_beats_every_constant_threshold(data: tuple[np.ndarray, np.ndarray], constants: list[float]) -> None:
    y_true, y_score = data
    tuned = _per_class_f1(y_true, apply_thresholds(y_score, fit_thresholds("tuned", y_true, y_score)))
    for c in [*constants, 0.0, 0.5, 1.0]:
        assert (tuned >= _per_class_f1(y_true, y_score > c) - 1e-12).all()


@settings(max_examples=80, deadline=None)
@given(val_data())
def test_tuned_is_the_best_cut_among_all_observed_scores(data: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_score = data
    tuned = _per_class_f1(y_true, apply_thresholds(y_score, fit_thresholds("tuned", y_true, y_score)))
    best = np.max([_per_class_f1(y_true, y_score > s) for s in [-1.0, *np.unique(y_score)]], axis=0)
    np.testing.assert_allclose(tuned, best, atol=1e-12)


def test_tuned_class_without_positives_keeps_default() -> None:
    y_true = np.array([[1, 0], [0, 0], [1, 0]], bool)
    y_score = np.array([[0.9, 0.7], [0.1, 0.8], [0.6, 0.9]])
    thresholds = fit_thresholds("tuned", y_true, y_score)
    assert 0.1 < thresholds[0] <= 0.6  # both positives in, the negative out
    assert thresholds[1] == 0.5


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 40), st.integers(1, 4), st.data())
def test_prevalence_matches_rates_with_distinct_scores(n: int, k: int, data: st.DataObject) -> None:
    y_true = data.draw(arrays(bool, (n, k)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    y_score = np.random.default_rng(seed).permutation(n * k).reshape(n, k) / (n * k)  # all distinct
    y_pred = apply_thresholds(y_score, fit_thresholds("prevalence", y_true, y_score))
    assert (y_pred.sum(axis=0) == y_true.sum(axis=0)).all()
    assert (y_pred.mean(axis=0) == y_true.mean(axis=0)).all()


def test_prevalence_with_ties_includes_the_tie() -> None:
    y_true = np.array([[1], [0], [0], [0]], bool)
    y_score = np.array([[0.7], [0.7], [0.2], [0.1]])
    assert apply_thresholds(y_score, fit_thresholds("prevalence", y_true, y_score)).sum() == 2


@pytest.mark.parametrize("rule", ["best", True, None, float("nan"), [0.5]])
def test_bad_rule_names_the_config_key(rule: object) -> None:
    with pytest.raises(ValueError, match="evaluate.threshold: expected a number, 'tuned' or 'prevalence'"):
        check_rule(rule)


def test_shape_mismatch_and_empty_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="one \\(N, K\\) shape"):
        fit_thresholds("tuned", np.zeros((3, 2), bool), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least one validation sample"):
        fit_thresholds("prevalence", np.zeros((0, 2), bool), np.zeros((0, 2)))


def test_describe_rule_texts() -> None:
    assert "F1" in describe_rule("tuned")
    assert "prevalence" in describe_rule("prevalence")


def test_a_score_equal_to_the_threshold_is_negative() -> None:
    # scikit-learn's predict (and fastai 0.7's metrics) decide positive only above 0.5.
    from sklearn.ensemble import RandomForestClassifier

    y_score = np.array([[0.5, 0.5000001, 0.4999999]])
    assert apply_thresholds(y_score, np.full(3, 0.5)).tolist() == [[False, True, False]]
    from micro_bench.evaluate import labels_from

    assert labels_from(y_score, [0.5, 0.5, 0.5]).tolist() == [[False, True, False]]
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    forest = RandomForestClassifier(n_estimators=2, bootstrap=False, random_state=0).fit(x, [0, 1, 0, 1])
    proba = forest.predict_proba(x)[:, 1]
    assert (proba == 0.5).all()  # every score a tie
    assert (apply_thresholds(proba[:, None], np.array([0.5]))[:, 0] == forest.predict(x).astype(bool)).all()


@settings(max_examples=80, deadline=None)
@given(val_data())
def test_fitted_thresholds_never_sit_on_a_score_they_should_include(data: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_score = data
    for rule in ("tuned", "prevalence"):
        thresholds = fit_thresholds(rule, y_true, y_score)
        pred = apply_thresholds(y_score, thresholds)
        for k in range(y_true.shape[1]):
            if rule == "prevalence" and y_true[:, k].any():
                # every score tied with or above the P-th highest is positive
                cut = np.sort(y_score[:, k])[::-1][y_true[:, k].sum() - 1]
                assert (pred[:, k] == (y_score[:, k] >= cut)).all()
            if rule == "prevalence" and not y_true[:, k].any():
                assert not pred[:, k].any()
