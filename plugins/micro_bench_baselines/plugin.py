"""Entry module of the bundled baselines plugin: the paper's logistic regression and random
forest (Tables I and II) and the ``sklearn`` trainer that fits them on flattened pixels.

Imports only the standard library and micro_bench; scikit-learn loads when a factory is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import ComponentSpec, hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    from collections.abc import Iterable

__all__ = ["micro_bench_models", "micro_bench_trainers"]


@hookimpl
def micro_bench_models() -> Iterable[ComponentSpec]:
    """``logreg`` and ``random_forest``, each one-vs-rest over the K classes."""
    return [
        ComponentSpec(
            "logreg",
            "micro_bench_baselines.models:logreg",
            "Logistic regression, L2, one-vs-rest (paper Table I)",
            {"paper": "Zhao & Tang, Table I", "trainer": "sklearn", "requires": ["scikit-learn"]},
        ),
        ComponentSpec(
            "random_forest",
            "micro_bench_baselines.models:random_forest",
            "Random forest, Gini, one-vs-rest (paper Table II)",
            {"paper": "Zhao & Tang, Table II", "trainer": "sklearn", "requires": ["scikit-learn"]},
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
            {"requires": ["scikit-learn"]},
        )
    ]
