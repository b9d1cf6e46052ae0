"""Paired comparisons of two models on the same evaluated samples, and Holm's adjustment.

Both models are scored on the same bootstrap resamples of the samples (the same index rows), so
the distribution of ``metric(A) - metric(B)`` keeps the pairing: a sample that is hard for both
moves both values together. The two-sided p-value inverts the percentile interval: it is the
smallest ``1 - level`` at which the percentile interval of the difference still excludes 0,
``p = min(1, 2 * min(#(d <= 0) + 1, #(d >= 0) + 1) / (B + 1))`` (the ``+ 1`` counts the
observed data as one resample, so p is never 0; with ``B = 1000`` the smallest p is 0.002). Two
identical models give ``d = 0`` on every resample, hence p = 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bootstrap_p_value", "holm"]


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided paired-bootstrap p-value of ``differences (B,)`` (see the module docstring);
    resamples where the difference is undefined (nan) are left out; nan if none is defined."""
    d = np.asarray(differences, np.float64)
    d = d[~np.isnan(d)]
    if not d.size:
        return float("nan")
    below, above = int(np.count_nonzero(d <= 0)), int(np.count_nonzero(d >= 0))
    return float(min(1.0, 2 * (min(below, above) + 1) / (d.size + 1)))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of ``m`` p-values (family-wise error): sorted ascending,
    ``p_(i) * (m - i + 1)``, made monotone with a running maximum and capped at 1. nan entries
    stay nan and do not count in ``m``."""
    p = np.asarray(p_values, np.float64)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(~np.isnan(p))
    m = defined.size
    if not m:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    out[order] = np.maximum.accumulate(scaled)
    return out
