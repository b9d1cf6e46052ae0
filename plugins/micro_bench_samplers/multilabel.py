"""The ``multilabel`` sampler: per-sample draw weights from the labels' frequencies.

For train labels ``Y (n, K)`` with class frequencies ``f[k] = mean(Y[:, k])``, a sample's weight
is ``(1 / f[k*]) ** power`` where ``k*`` is its rarest label (``mode: rarest``), or the mean of
``(1 / f[k]) ** power`` over its labels (``mode: mean``); a sample without labels weighs like the
commonest class. ``undersample`` (in ``(0, 1]``) then multiplies the weight of the samples whose
only label is the commonest class (Nucleoplasm in HPA). ``power: 0`` and ``undersample: 1`` draw
uniformly. The class frequencies an epoch then shows are, in expectation,
``sum_i w_i Y[i, k] / sum_i w_i`` (:meth:`expected_frequencies`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["MODES", "MultiLabelSampler"]

MODES = ("rarest", "mean")


class MultiLabelSampler:
    """Args:
        mode: ``rarest`` (the rarest label of each sample decides) or ``mean``.
        power: exponent of the inverse frequency, ``>= 0`` (1: full, 0.5: square root, 0: none).
        undersample: factor in ``(0, 1]`` for samples labelled with the commonest class alone.
        epoch_size: samples drawn per epoch (with replacement), ``None``: the train split's size.
    """

    def __init__(self, mode: str = "rarest", power: float = 1.0, undersample: float = 1.0,
                 epoch_size: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"sampler 'multilabel': mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not (math.isfinite(power) and power >= 0):
            raise ValueError(f"sampler 'multilabel': power must be a finite number >= 0, got {power!r}")
        if isinstance(undersample, bool) or not isinstance(undersample, (int, float)) or not 0 < undersample <= 1:
            raise ValueError(f"sampler 'multilabel': undersample must be in (0, 1], got {undersample!r}")
        if epoch_size is not None and (isinstance(epoch_size, bool) or not isinstance(epoch_size, int) or epoch_size < 1):
            raise ValueError(f"sampler 'multilabel': epoch_size must be an integer >= 1 or null, got {epoch_size!r}")
        self.mode, self.power, self.undersample, self.epoch_size = mode, float(power), float(undersample), epoch_size

    def weights(self, labels: Any) -> np.ndarray:
        """``(n,) float64`` draw weights of the ``(n, K)`` bool train labels (they sum to 1)."""
        y = np.asarray(labels, dtype=bool)
        if y.ndim != 2 or not len(y):
            raise ValueError(f"sampler 'multilabel': labels must be a non-empty (n, K) array, got shape {y.shape}")
        freq = y.mean(axis=0)
        common = int(np.argmax(freq))
        inv = np.where(freq > 0, 1.0 / np.where(freq > 0, freq, 1.0), 0.0) ** self.power
        if self.mode == "rarest":
            w = np.where(y, inv[None, :], 0.0).max(axis=1)
        else:
            counts = y.sum(axis=1)
            w = np.where(counts > 0, (y * inv[None, :]).sum(axis=1) / np.maximum(counts, 1), 0.0)
        w = np.where(y.any(axis=1), w, inv[common] if freq[common] > 0 else 1.0)  # no label: like the commonest
        alone = y[:, common] & (y.sum(axis=1) == 1)
        w = np.where(alone, w * self.undersample, w)
        return w / w.sum()

    def expected_frequencies(self, labels: Any) -> np.ndarray:
        """``(K,)`` class frequencies an epoch drawn with these weights shows in expectation."""
        y = np.asarray(labels, dtype=bool)
        return self.weights(y) @ y.astype(np.float64)
