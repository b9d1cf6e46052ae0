"""The ``none`` policy (the plain view only) and the ``none`` transform (no augmentation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from micro_bench_tta.reduce import ViewPolicy

__all__ = ["NoTTA", "NoTransform"]


class NoTTA(ViewPolicy):
    """One view, the batch itself; :meth:`reduce` of ``(1, B, K)`` returns ``probabilities[0]``."""

    name = "none"

    def views(self, batch: Tensor, generator: torch.Generator | None = None, *,
              transform: Any = None) -> Iterator[Tensor]:
        """Yield ``batch (B, C, H, W)`` unchanged."""
        self._check_batch(batch)
        yield batch


class NoTransform:
    """The ``none`` transform: returns the batch unchanged (no training augmentation)."""

    name = "none"

    def __call__(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return images

    def __repr__(self) -> str:
        return "NoTransform()"
