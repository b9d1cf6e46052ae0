"""The Asymmetric Loss (ASL) for multi-label classification.

Ridnik, Ben-Baruch, Zamir, Noy, Friedman, Protter, Zelnik-Manor: "Asymmetric Loss For Multi-Label
Classification", ICCV 2021 (arXiv:2009.14119), equations (1)-(4). With ``p = sigmoid(z)`` and the
shifted probability ``p_m = max(p - m, 0)``::

    L+ = (1 - p) ** gamma_pos * log(p)                     # positives: focal down-weighting
    L- = p_m ** gamma_neg * log(1 - p_m)                   # negatives: stronger focusing, and
                                                           # "easy" negatives (p <= m) discarded
    loss = -(y * L+ + (1 - y) * L-)

Reduction: micro-bench's loss contract is the **mean over all B x K elements** (so losses are
comparable across batch sizes and class counts and ``focal(gamma=0) == bce``). The paper's
reference implementation returns the **sum**; multiply by ``B * K`` to get it, or equivalently
scale the learning rate. Consequences by construction: ``gamma_neg = gamma_pos = 0, clip = 0``
is exactly BCE with logits, and ``gamma_neg = gamma_pos = gamma, clip = 0`` is the focal loss
without alpha (torchvision's ``sigmoid_focal_loss(alpha=-1, reduction="mean")``).

Unlike the reference code (which clamps probabilities at 1e-8) the logarithms are taken in
log-sigmoid form, so saturated logits give finite values and gradients; the focusing weights
are differentiated through (as in torchvision's focal loss).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["AsymmetricLoss", "asymmetric_loss"]


def _power(base: torch.Tensor, gamma: float) -> torch.Tensor:
    """``base ** gamma`` for ``base >= 0`` with a finite gradient at 0 (``0 ** 0 == 1``)."""
    if gamma == 0:
        return torch.ones_like(base)
    tiny = torch.finfo(base.dtype).tiny
    return torch.where(base > 0, base.clamp(min=tiny).pow(gamma), torch.zeros_like(base))


def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma_neg: float = 4.0,
    gamma_pos: float = 0.0,
    clip: float = 0.05,
) -> torch.Tensor:
    """Element-wise ASL.

    Args:
        logits: ``(B, K)`` float, any real values.
        targets: ``(B, K)`` float (or bool) in ``{0, 1}``.
        gamma_neg, gamma_pos: focusing exponents for negatives and positives, ``>= 0``.
        clip: probability margin ``m`` in ``[0, 1)`` for shifting negatives.

    Returns:
        ``(B, K)`` float loss per element, ``>= 0``.
    """
    targets = targets.to(logits.dtype)
    log_p = F.logsigmoid(logits)  # log p
    one_minus_p = torch.sigmoid(-logits)  # 1 - p, exact for large logits
    if clip > 0:
        p_shift = (torch.sigmoid(logits) - clip).clamp(min=0)
        log_one_minus_shift = torch.log1p(-p_shift)  # p_shift <= 1 - clip: finite
    else:
        p_shift = torch.sigmoid(logits)
        log_one_minus_shift = F.logsigmoid(-logits)
    positive = _power(one_minus_p, gamma_pos) * log_p
    negative = _power(p_shift, gamma_neg) * log_one_minus_shift
    return -(targets * positive + (1 - targets) * negative)


class AsymmetricLoss(torch.nn.Module):
    """micro-bench loss ``asl``: ``(logits (B, K), targets (B, K)) -> 0-d tensor``, the mean of
    :func:`asymmetric_loss` over all elements.

    Defaults are the paper's recommended setting (``gamma_neg=4, gamma_pos=0, clip=0.05``).
    """

    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05) -> None:
        super().__init__()
        for key, value in (("gamma_neg", gamma_neg), ("gamma_pos", gamma_pos)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"loss 'asl': {key} must be a finite number >= 0, got {value!r}")
        if not (isinstance(clip, int | float) and 0 <= clip < 1):
            raise ValueError(f"loss 'asl': clip must be a number in [0, 1), got {clip!r}")
        self.gamma_neg, self.gamma_pos, self.clip = float(gamma_neg), float(gamma_pos), float(clip)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return asymmetric_loss(logits, targets, self.gamma_neg, self.gamma_pos, self.clip).mean()

    def extra_repr(self) -> str:
        return f"gamma_neg={self.gamma_neg}, gamma_pos={self.gamma_pos}, clip={self.clip}"
