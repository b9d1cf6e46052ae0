"""The ``flips`` policy: the 8 views of the dihedral group D4 (rotations by 90 degrees and flips).

Microscopy fields have no preferred orientation, so every element of D4 is a valid view; the
transforms are exact pixel permutations (no interpolation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from micro_bench_tta.reduce import ViewPolicy

__all__ = ["Flips", "dihedral_views"]


def dihedral_views(batch: Tensor) -> Iterator[Tensor]:
    """Yield the 8 D4 views of ``batch (B, C, H, W)``.

    Order: identity, rot90, rot180, rot270 (counter-clockwise in the ``(H, W)`` plane), then the
    horizontal flip (of W) of each. For non-square images the odd rotations are ``(B, C, W, H)``.
    """
    for k in range(4):
        rotated = torch.rot90(batch, k, dims=(-2, -1)) if k else batch
        yield rotated
    for k in range(4):
        yield torch.flip(torch.rot90(batch, k, dims=(-2, -1)), dims=(-1,))


class Flips(ViewPolicy):
    """All 8 dihedral views; predictions reduced by ``reduce`` (optionally blended with the plain one)."""

    name = "flips"

    def views(self, batch: Tensor, generator: torch.Generator | None = None, *,
              transform: Any = None) -> Iterator[Tensor]:
        """Yield the 8 ``(B, C, H, W)`` views, the plain batch first (``generator`` and
        ``transform`` are unused)."""
        self._check_batch(batch)
        yield from dihedral_views(batch)
