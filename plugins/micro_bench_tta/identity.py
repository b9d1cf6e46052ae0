"""The ``none`` policy: the plain view only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from micro_bench_tta.reduce import ViewPolicy

__all__ = ["NoTTA"]


class NoTTA(ViewPolicy):
    """One view, the batch itself; :meth:`reduce` of ``(1, B, K)`` returns ``probabilities[0]``."""

    name = "none"

    def views(self, batch: Tensor, generator: torch.Generator | None = None, *,
              transform: Any = None) -> Iterator[Tensor]:
        """Yield ``batch (B, C, H, W)`` unchanged."""
        self._check_batch(batch)
        yield batch

