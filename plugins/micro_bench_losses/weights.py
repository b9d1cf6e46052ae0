"""Per-class positive weights (``pos_weight``) from the training labels.

A loss built with ``pos_weight`` multiplies the positive term of class ``k`` by ``w[k]``, as
``torch.nn.BCEWithLogitsLoss(pos_weight=w)`` does. The rules, for ``n`` training samples of
which ``n_k`` are positive for class ``k``:

* ``inverse_frequency``: ``w[k] = (n - n_k) / n_k``, the negatives-to-positives ratio (torch's
  documented choice: the positive and negative terms then weigh the same in total).
* ``sqrt_inverse``: its square root, a milder correction.
* ``effective_number`` (Cui, Jia, Lin, Song, Belongie: *Class-Balanced Loss Based on Effective
  Number of Samples*, CVPR 2019): a class with ``m`` samples counts as
  ``E(m) = (1 - beta**m) / (1 - beta)``; each term is weighted by ``1 / E``, so
  ``w[k] = E(n - n_k) / E(n_k) = (1 - beta**(n - n_k)) / (1 - beta**n_k)``. ``beta -> 0`` gives 1
  (no weighting), ``beta -> 1`` gives ``inverse_frequency``.
* a list of K numbers: given explicitly.

A class without positives in the training labels gets weight 1 (nothing to weigh); a class
that is positive in every sample gets weight 1 too. ``max_weight`` caps every weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["RULES", "check_rule", "pos_weights"]

RULES = ("inverse_frequency", "sqrt_inverse", "effective_number")


def check_rule(rule: Any, beta: float, max_weight: float | None, who: str) -> None:
    """Raise ``ValueError`` (a located config error, through the registry) for a bad setting."""
    if isinstance(rule, str):
        if rule not in RULES:
            raise ValueError(f"loss {who!r}: pos_weight must be one of {', '.join(RULES)} or a list of numbers, "
                             f"got {rule!r}")
    elif rule is not None and (not isinstance(rule, Sequence) or not rule or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in rule)):
        raise ValueError(f"loss {who!r}: an explicit pos_weight must be a list of numbers > 0, got {rule!r}")
    if not (isinstance(beta, (int, float)) and 0 < beta < 1):
        raise ValueError(f"loss {who!r}: beta must be in (0, 1), got {beta!r}")
    if max_weight is not None and not (isinstance(max_weight, (int, float)) and max_weight >= 1):
        raise ValueError(f"loss {who!r}: max_weight must be null or a number >= 1, got {max_weight!r}")


def pos_weights(labels: np.ndarray, rule: str | Sequence[float], *, beta: float = 0.999,
                max_weight: float | None = None) -> np.ndarray:
    """``(K,) float64`` positive weights of the ``(n, K)`` bool training ``labels`` under ``rule``."""
    labels = np.asarray(labels, dtype=bool)
    n, k = labels.shape
    if not isinstance(rule, str):
        weights = np.asarray(rule, dtype=np.float64)
        if weights.shape != (k,):
            raise ValueError(f"pos_weight has {weights.size} values for {k} classes")
    else:
        pos = labels.sum(axis=0).astype(np.float64)
        neg = n - pos
        defined = (pos > 0) & (neg > 0)
        weights = np.ones(k, dtype=np.float64)
        p, q = pos[defined], neg[defined]
        if rule == "inverse_frequency":
            weights[defined] = q / p
        elif rule == "sqrt_inverse":
            weights[defined] = np.sqrt(q / p)
        elif rule == "effective_number":
            # (1 - beta**q) / (1 - beta**p) with expm1/log for precision when beta is near 1.
            log_beta = math.log(beta)
            weights[defined] = np.expm1(q * log_beta) / np.expm1(p * log_beta)
        else:
            raise ValueError(f"unknown pos_weight rule {rule!r}; expected one of {', '.join(RULES)}")
    if max_weight is not None:
        weights = np.minimum(weights, float(max_weight))
    return weights
