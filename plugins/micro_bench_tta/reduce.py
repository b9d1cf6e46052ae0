"""Reducing the predictions of V views of a batch to one, with an optional blend.

Without ``blend`` the V views' probabilities are averaged (or max-pooled) together, as fastai
0.7's ``learn.TTA``. With ``blend = beta`` the plain view (the first) is kept apart, as fastai
1's ``TTA(beta=...)``: ``out = beta * plain + (1 - beta) * reduce(the other views)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from micro_bench.errors import ParameterError

__all__ = ["REDUCTIONS", "ViewPolicy", "reduce_views"]

REDUCTIONS = ("mean", "max")


def reduce_views(probabilities: Tensor, how: str = "mean", blend: float | None = None) -> Tensor:
    """``(V, B, K)`` probabilities (view 0 the plain one) -> ``(B, K)``.

    Args:
        probabilities: ``(V, B, K)`` float, V >= 1.
        how: ``"mean"`` or ``"max"`` over the views.
        blend: ``None``, or the weight in ``[0, 1]`` of the plain view against the reduction of
            views ``1..V-1`` (with V == 1 the plain view is returned).
    """
    if probabilities.ndim != 3 or probabilities.shape[0] < 1:
        raise ParameterError(
            f"tta reduce: expected (V, B, K) probabilities with V >= 1, got shape {tuple(probabilities.shape)}"
        )
    if how not in REDUCTIONS:
        raise ParameterError(f"tta reduce: must be one of {', '.join(REDUCTIONS)}, got {how!r}")
    views = probabilities if blend is None else probabilities[1:]
    if views.shape[0] == 0:
        return probabilities[0]
    reduced = views.mean(dim=0) if how == "mean" else views.amax(dim=0)
    if blend is None:
        return reduced
    return blend * probabilities[0] + (1.0 - blend) * reduced


class ViewPolicy:
    """Base of the bundled policies: validated ``reduce``/``blend`` and the reduction itself.

    Subclasses implement :meth:`views`, yielding the plain batch first.

    Args:
        reduce: ``"mean"`` or ``"max"`` over the views' probabilities.
        blend: optional weight in ``[0, 1]`` of the plain view's prediction (see :func:`reduce_views`).
    """

    name = "tta"

    def __init__(self, reduce: str = "mean", blend: float | None = None) -> None:
        if reduce not in REDUCTIONS:
            raise ParameterError(f"tta {self.name!r}: reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        if blend is not None and (
            isinstance(blend, bool) or not isinstance(blend, (int, float))
            or not math.isfinite(blend) or not 0.0 <= blend <= 1.0
        ):
            raise ParameterError(f"tta {self.name!r}: blend must be null or a number in [0, 1], got {blend!r}")
        self.how = reduce
        self.blend = None if blend is None else float(blend)

    def views(self, batch: Tensor, generator: torch.Generator | None = None, *,
              transform: Any = None) -> Iterator[Tensor]:
        """Yield ``(B, C, H, W)`` views of ``batch (B, C, H, W)`` (0-1 scale, not standardized),
        the plain batch first; random policies draw with ``transform`` and ``generator``."""
        raise NotImplementedError

    def reduce(self, probabilities: Any) -> Any:
        """``(V, B, K)`` probabilities (tensor or numpy array) -> ``(B, K)`` of the same kind."""
        if isinstance(probabilities, Tensor):
            return reduce_views(probabilities, self.how, self.blend)
        return reduce_views(torch.as_tensor(probabilities), self.how, self.blend).numpy()

    def _check_batch(self, batch: Tensor) -> None:
        if not isinstance(batch, Tensor) or batch.ndim != 4:
            shape = tuple(batch.shape) if isinstance(batch, Tensor) else type(batch).__name__
            raise ParameterError(f"tta {self.name!r}: views expects a (B, C, H, W) tensor, got {shape}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduce={self.how!r}, blend={self.blend})"
