"""The sigmoid focal loss, written once, in log-sigmoid form.

For logits ``x``, targets ``t`` in ``[0, 1]`` and ``p = sigmoid(x)`` (Lin et al. 2017, eq. 4,
extended to soft targets)::

    loss = -[ a * t * log(p) * (1 - p)**gamma + (1 - a) * (1 - t) * log(1 - p) * p**gamma ]

with ``log(p) = logsigmoid(x)``, ``log(1 - p) = logsigmoid(-x)`` and the modulating factors
computed as ``exp(gamma * logsigmoid(-x))`` and ``exp(gamma * logsigmoid(x))``. Consequences,
true by construction and pinned by ``tests/plugins/losses/test_losses.py``:

* ``gamma == 0`` makes both factors exactly ``1``: the formula *is* binary cross-entropy, so
  :func:`bce` is ``FocalLoss(gamma=0)`` (no second implementation).
* No ``log(sigmoid(x))`` underflow for large ``|x|`` and no ``0 ** gamma`` (whose derivative is
  infinite for ``0 < gamma < 1``): gradients are finite for every finite input.
* Without ``alpha`` both terms have weight 1 (``a = 1`` and ``1 - a`` read as 1); with ``alpha``
  the positive term is weighted ``alpha`` and the negative ``1 - alpha``, as in
  :func:`torchvision.ops.sigmoid_focal_loss` (which equals this for binary targets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from micro_bench.errors import ParameterError
from micro_bench_losses.weights import check_rule, pos_weights

__all__ = ["FocalLoss", "bce", "focal_loss"]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def focal_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid focal loss of ``logits`` against ``targets``.

    Args:
        logits: ``(B, K)`` (any shape) float, raw scores. float16/bfloat16 are computed in float32.
        targets: same shape as ``logits``; bool, int or float in ``[0, 1]`` (soft labels allowed).
        gamma: focusing parameter ``>= 0``; ``0`` gives binary cross-entropy.
        alpha: weight in ``[0, 1]`` of the positive term (the negative term gets ``1 - alpha``),
            or ``None`` for no weighting.
        reduction: ``"mean"`` (over all elements: a scalar), ``"sum"`` or ``"none"`` (elementwise).
        pos_weight: ``(K,)`` factors of the positive term per class (last axis), as
            ``torch.nn.BCEWithLogitsLoss(pos_weight=...)``; ``None`` for none.

    Returns:
        A scalar tensor, or the elementwise loss (same shape as ``logits``) for ``"none"``.
    """
    if logits.shape != targets.shape:
        raise ParameterError(
            f"focal loss: logits and targets must have the same shape, got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if logits.dtype in _LOW_PRECISION:
        logits = logits.float()
    targets = targets.to(logits.dtype)
    log_p = F.logsigmoid(logits)  # log(p)
    log_q = F.logsigmoid(-logits)  # log(1 - p)
    positive = targets * log_p
    negative = (1.0 - targets) * log_q
    if gamma != 0:
        positive = positive * torch.exp(gamma * log_q)  # (1 - p) ** gamma
        negative = negative * torch.exp(gamma * log_p)  # p ** gamma
    if pos_weight is not None:
        positive = positive * pos_weight.to(device=logits.device, dtype=logits.dtype)
    if alpha is not None:
        positive = alpha * positive
        negative = (1.0 - alpha) * negative
    loss = -(positive + negative)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ParameterError(f"focal loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class FocalLoss(nn.Module):
    """The ``focal`` loss component: ``(logits (B, K), targets (B, K)) -> scalar`` mean loss.

    Args:
        gamma: focusing parameter, finite and ``>= 0`` (the paper's Tables III/IV use 0.1 ... 2).
        alpha: optional positive-class weight in ``[0, 1]``; ``None`` (default) disables it.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = None,
                 pos_weight: str | Sequence[float] | None = None, beta: float = 0.999,
                 max_weight: float | None = None) -> None:
        super().__init__()
        check_rule(pos_weight, beta, max_weight, "bce" if gamma == 0 else "focal")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (
            math.isfinite(gamma) and gamma >= 0
        ):
            raise ParameterError(f"loss 'focal': gamma must be a finite number >= 0, got {gamma!r}")
        if alpha is not None and (
            isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1
        ):
            raise ParameterError(f"loss 'focal': alpha must be null or a number in [0, 1], got {alpha!r}")
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)
        self.rule, self.beta, self.max_weight = pos_weight, float(beta), max_weight
        self.pos_weight: Tensor | None = None
        if pos_weight is not None and not isinstance(pos_weight, str):
            self.pos_weight = torch.tensor([float(v) for v in pos_weight])

    def adapt(self, labels: np.ndarray) -> dict[str, Any]:
        """Set the per-class weights from the ``(n, K)`` bool training labels (the trainer calls
        this once before training); returns what to record with the result."""
        if self.rule is None:
            return {}
        weights = pos_weights(labels, self.rule, beta=self.beta, max_weight=self.max_weight)
        self.pos_weight = torch.as_tensor(weights, dtype=torch.float32)
        rule = self.rule if isinstance(self.rule, str) else "explicit"
        return {"pos_weight_rule": rule, "pos_weight": [float(w) for w in weights],
                **({"beta": self.beta} if rule == "effective_number" else {}),
                **({"max_weight": self.max_weight} if self.max_weight is not None else {})}

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Mean focal loss over all elements of ``logits (B, K)`` and ``targets (B, K)``."""
        if isinstance(self.rule, str) and self.pos_weight is None:
            raise RuntimeError(f"loss: pos_weight {self.rule!r} needs the training labels; the trainer must "
                               "call adapt(labels) before training")
        return focal_loss(logits, targets, gamma=self.gamma, alpha=self.alpha, pos_weight=self.pos_weight)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, pos_weight={self.rule!r}"


def bce(pos_weight: str | Sequence[float] | None = None, beta: float = 0.999,
        max_weight: float | None = None) -> FocalLoss:
    """The ``bce`` loss component: binary cross-entropy on logits, i.e. ``FocalLoss(gamma=0)``,
    with optional per-class positive weights (see :mod:`micro_bench_losses.weights`)."""
    return FocalLoss(gamma=0.0, pos_weight=pos_weight, beta=beta, max_weight=max_weight)
