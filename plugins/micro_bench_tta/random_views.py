"""The ``random`` policy: the plain view plus ``n`` views drawn with the run's training transform.

As fastai 0.7's ``learn.TTA(n_aug=4)``: the original image and 4 augmented copies made by the
training transforms, the 5 sigmoid scores averaged (``reduce: mean``). The views come from the
run's ``transform`` component itself, called exactly as the trainer calls it on a training
batch, so a TTA view *is* a training augmentation: for the same generator state the view and
the training batch are the same tensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from micro_bench.errors import ParameterError
from micro_bench_tta.reduce import ViewPolicy

__all__ = ["RandomViews"]


class RandomViews(ViewPolicy):
    """``1 + n`` views: the plain batch, then ``n`` outputs of ``transform(batch, generator=...)``.

    Args:
        n: number of augmented views (``>= 1``; fastai 0.7's ``n_aug``: 4).
        seed: seed of the generator used when :meth:`views` gets none.
        reduce: ``"mean"`` (fastai) or ``"max"``.
        blend: optional weight of the plain view's prediction.
    """

    name = "random"

    def __init__(self, n: int = 4, seed: int = 0, reduce: str = "mean", blend: float | None = None) -> None:
        super().__init__(reduce=reduce, blend=blend)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(f"tta 'random': n must be an integer >= 1, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ParameterError(f"tta 'random': seed must be an integer, got {seed!r}")
        self.n, self.seed = n, seed

    def views(self, images: Tensor, generator: torch.Generator | None = None, *,
              transform: Any = None) -> Iterator[Tensor]:
        """Yield ``images (B, C, H, W)`` (0-1 scale, not standardized) itself, then ``n`` views
        ``transform(images, generator=generator)``.

        Without ``generator`` a fresh one seeded with ``seed`` is used, so a batch's views do
        not depend on the batches before it.
        """
        self._check_batch(images)
        if transform is None:
            raise ValueError(
                "tta 'random' draws its views with the run's training transform, but the run has "
                "none; set the config key 'transform' (e.g. transform: {name: fastai})"
            )
        if generator is None:
            generator = torch.Generator().manual_seed(self.seed)
        yield images
        for _ in range(self.n):
            yield transform(images, generator=generator)

    def __repr__(self) -> str:
        return f"RandomViews(n={self.n}, seed={self.seed}, reduce={self.how!r}, blend={self.blend})"
