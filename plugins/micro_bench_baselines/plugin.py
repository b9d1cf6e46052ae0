"""Entry module of the bundled baselines plugin: the paper's logistic regression and random
forest (Tables I and II) and the ``sklearn`` trainer that fits them on flattened pixels.

Imports only the standard library and micro_bench; scikit-learn loads when a factory is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import ComponentSpec, Param, hookimpl
from micro_bench.params import seed_param

if TYPE_CHECKING:  # pragma: no cover - typing only
    from collections.abc import Iterable

__all__ = ["micro_bench_models", "micro_bench_trainers"]

#: scikit-learn's ``n_jobs``: ``null`` (the trainer's), -1 (all cores), -2 ..., or n >= 1; never 0.
_N_JOBS = Param("int", nullable=True, exclude=(0,), ge=-1024, le=1024, doc="joblib workers, not 0")


@hookimpl
def micro_bench_models() -> Iterable[ComponentSpec]:
    """``logreg`` and ``random_forest``, each one-vs-rest over the K classes."""
    return [
        ComponentSpec(
            "logreg",
            "micro_bench_baselines.models:logreg",
            "Logistic regression, L2, one-vs-rest (paper Table I)",
            {"paper": "Zhao & Tang, Table I", "trainer": "sklearn", "requires": ["scikit-learn"],
             "params": {"C": Param("float", gt=0), "max_iter": Param("int", ge=1), "tol": Param("float", gt=0),
                        "solver": Param("str", choices=("liblinear", "lbfgs", "saga", "newton-cg",
                                                        "newton-cholesky", "sag")),
                        "seed": seed_param("random_state")}},
        ),
        ComponentSpec(
            "random_forest",
            "micro_bench_baselines.models:random_forest",
            "Random forest, Gini, one-vs-rest (paper Table II)",
            {"paper": "Zhao & Tang, Table II", "trainer": "sklearn", "requires": ["scikit-learn"],
             "params": {"n_estimators": Param("int", ge=1), "min_samples_leaf": Param("int", ge=1),
                        "max_features": Param("float", gt=0, le=1, also=("sqrt", "log2"), nullable=True,
                                              doc="a fraction of the features, sqrt, log2 or null (all)"),
                        "n_jobs": _N_JOBS, "seed": seed_param("random_state")}},
        ),
    ]


@hookimpl
def micro_bench_trainers() -> Iterable[ComponentSpec]:
    """``sklearn``: fits scikit-learn estimators on standardized 64x64x4 pixels, flattened."""
    return [
        ComponentSpec(
            "sklearn",
            "micro_bench_baselines.trainer:SklearnTrainer",
            "Fit/predict scikit-learn estimators on standardized flattened pixels",
            {"requires": ["scikit-learn"],
             "params": {"n_jobs": _N_JOBS, "resolution": Param("int", ge=1, le=4096)}},
        )
    ]
