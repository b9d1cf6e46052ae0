"""The paper's baseline estimators: 28 one-vs-rest binary classifiers each (Section III-B).

Both factories return an unfitted ``sklearn.multiclass.OneVsRestClassifier`` whose
``predict_proba`` gives ``(n, K) float`` probabilities on an ``(n, K)`` indicator target. A class
that is constant in the training labels gets scikit-learn's constant predictor (probability 0 for
a class without positives). Parallelism (``n_jobs``) is left to the ``sklearn`` trainer unless set
here explicitly.
"""

from __future__ import annotations

from typing import Any

from micro_bench.errors import ParameterError

__all__ = ["LOGREG_SOLVERS", "logreg", "random_forest"]


def _check_shape(num_classes: int, in_chans: int, name: str) -> None:
    if num_classes < 1 or in_chans < 1:
        raise ParameterError(f"{name}: num_classes and in_chans must be >= 1, got {num_classes} and {in_chans}")


#: Solvers ``logreg`` accepts; ``liblinear`` was scikit-learn's default in 2018 (0.19/0.20,
#: the paper's time; ``lbfgs`` from 0.22 on).
LOGREG_SOLVERS = ("liblinear", "lbfgs", "saga", "newton-cg", "newton-cholesky", "sag")


def logreg(
    C: float = 1.0,  # noqa: N803 - scikit-learn's and the paper's name
    max_iter: int = 100,
    tol: float = 1e-4,
    solver: str = "liblinear",
    *,
    num_classes: int,
    in_chans: int,
    seed: int = 0,
) -> Any:
    """L2-regularised logistic regression, one binary model per class.

    Args:
        C: inverse regularisation strength (the paper's grid: 0.1, 0.5, 1, 10).
        max_iter: solver iterations per class (scikit-learn's default, 100); the sklearn
            trainer records ``n_iter`` per class and ``converged`` in the result.
        tol: stopping tolerance (scikit-learn's default).
        solver: ``liblinear`` (scikit-learn's default in 2018, the paper's; it also penalises the
            intercept) or any other scikit-learn solver, e.g. ``lbfgs`` (the default since 0.22).
        num_classes, in_chans: from the dataset; checked, the estimator infers them from data.
        seed: ``random_state``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    _check_shape(num_classes, in_chans, "logreg")
    if not C > 0:
        raise ParameterError(f"logreg: C must be > 0, got {C!r}")
    if solver not in LOGREG_SOLVERS:
        raise ParameterError(f"logreg: solver must be one of {', '.join(LOGREG_SOLVERS)}, got {solver!r}")
    base = LogisticRegression(C=C, l1_ratio=0.0, solver=solver, max_iter=max_iter, tol=tol, random_state=seed)
    return OneVsRestClassifier(base)


def random_forest(
    n_estimators: int = 100,
    min_samples_leaf: int = 1,
    max_features: str | float | None = "sqrt",
    n_jobs: int | None = None,
    *,
    num_classes: int,
    in_chans: int,
    seed: int = 0,
) -> Any:
    """Random forest with Gini impurity, one forest per class (the paper's grid: 10/50/100 trees
    x min leaf 1/10).

    Args:
        n_estimators: trees per class.
        min_samples_leaf: minimum samples in a leaf.
        max_features: features tried per split (scikit-learn's default ``"sqrt"``).
        n_jobs: threads per forest; ``None`` leaves it to the trainer's ``n_jobs``.
        num_classes, in_chans: from the dataset; checked.
        seed: ``random_state``.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.multiclass import OneVsRestClassifier

    _check_shape(num_classes, in_chans, "random_forest")
    if n_estimators < 1 or min_samples_leaf < 1:
        raise ParameterError(
            f"random_forest: n_estimators and min_samples_leaf must be >= 1, got {n_estimators} and {min_samples_leaf}"
        )
    base = RandomForestClassifier(
        n_estimators=n_estimators,
        criterion="gini",
        min_samples_leaf=min_samples_leaf,
        max_features=max_features,
        n_jobs=n_jobs,
        random_state=seed,
    )
    return OneVsRestClassifier(base)
