"""The ``random`` policy: the plain view plus ``n`` random training-style augmentations.

As fastai 0.7's ``learn.TTA(n_aug=4)`` with its ``transforms_side_on`` (``RandomRotate(10)``,
``RandomLighting(0.05, 0.05)``, flips); the paper averaged the plain and the augmented predictions.
Each sample of each view draws its own parameters from a seeded generator:

* rotation by ``U(-degrees, degrees)`` with bilinear interpolation on a reflect-padded image
  (fastai rotated with ``cv2.BORDER_REFLECT``), cropped back to ``(H, W)``;
* horizontal and vertical flips, each with probability 1/2;
* lighting ``(x - mean) * c + mean + b`` with ``mean`` over the sample's pixels,
  ``b ~ U(-brightness, brightness)`` (in the units of the input, i.e. standard deviations for
  standardized images) and ``c`` from ``u ~ U(-contrast, contrast)``: ``1 + u`` or ``1 / (1 - u)``
  (fastai 0.7's ``RandomLighting``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from micro_bench.errors import ParameterError
from micro_bench_tta.reduce import ViewPolicy

__all__ = ["RandomViews"]

#: Reflect padding, as a fraction of the longer side, that covers a rotation by any angle:
#: a square's corner moves out by at most (sqrt(2) - 1) / 2 ~ 0.207 of its side.
_PAD_FRACTION = 0.21


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


class RandomViews(ViewPolicy):
    """``1 + n`` views: the plain batch, then ``n`` randomly augmented copies.

    Args:
        n: number of augmented views (``>= 1``).
        seed: seed of the generator used when :meth:`views` gets none.
        reduce: ``"mean"`` or ``"max"``.
        blend: optional weight of the plain view's prediction.
        degrees: maximum absolute rotation angle (``0`` disables rotation).
        flips: draw random horizontal and vertical flips.
        brightness: maximum absolute brightness offset ``b``.
        contrast: maximum contrast change ``u`` (``[0, 1)``).
    """

    name = "random"

    def __init__(self, n: int = 4, seed: int = 0, reduce: str = "mean", blend: float | None = None,
                 degrees: float = 10.0, flips: bool = True, brightness: float = 0.05,
                 contrast: float = 0.05) -> None:
        super().__init__(reduce=reduce, blend=blend)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(f"tta 'random': n must be an integer >= 1, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ParameterError(f"tta 'random': seed must be an integer, got {seed!r}")
        for key, value, high in (("degrees", degrees, 180.0), ("brightness", brightness, math.inf),
                                 ("contrast", contrast, 1.0)):
            closed = key != "contrast"  # contrast 1 would allow a zero or infinite factor
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                0 <= value <= high if closed else 0 <= value < high
            ):
                interval = f"[0, {high}]" if closed else f"[0, {high})"
                raise ParameterError(f"tta 'random': {key} must be a number in {interval}, got {value!r}")
        self.n, self.seed, self.flips = n, seed, bool(flips)
        self.degrees, self.brightness, self.contrast = float(degrees), float(brightness), float(contrast)

    def views(self, batch: Tensor, generator: torch.Generator | None = None, *,
              transform: Any = None) -> Iterator[Tensor]:
        """Yield ``batch (B, C, H, W)`` itself, then ``n`` augmented ``(B, C, H, W)`` views.

        ``generator`` is a CPU ``torch.Generator``; without one a fresh generator seeded with
        ``seed`` is used, so a batch's views do not depend on the batches before it.
        """
        self._check_batch(batch)
        if generator is None:
            generator = torch.Generator().manual_seed(self.seed)
        yield batch
        for _ in range(self.n):
            yield self._augment(batch, generator)

    def _augment(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        size = batch.shape[0]
        angles = _uniform(size, -self.degrees, self.degrees, generator)
        hflip = torch.rand(size, generator=generator) < 0.5
        vflip = torch.rand(size, generator=generator) < 0.5
        offsets = _uniform(size, -self.brightness, self.brightness, generator)
        u = _uniform(size, -self.contrast, self.contrast, generator)
        contrasts = torch.where(u < 0, 1.0 / (1.0 - u), 1.0 + u)

        out = self._rotate(batch, angles) if self.degrees > 0 else batch
        if self.flips:
            shape = (size, 1, 1, 1)
            out = torch.where(hflip.to(batch.device).view(shape), out.flip(-1), out)
            out = torch.where(vflip.to(batch.device).view(shape), out.flip(-2), out)
        if self.brightness > 0 or self.contrast > 0:
            mean = out.mean(dim=(1, 2, 3), keepdim=True)
            c = contrasts.to(device=batch.device, dtype=batch.dtype).view(-1, 1, 1, 1)
            b = offsets.to(device=batch.device, dtype=batch.dtype).view(-1, 1, 1, 1)
            out = (out - mean) * c + mean + b
        return out

    @staticmethod
    def _rotate(batch: Tensor, angles: Tensor) -> Tensor:
        """Rotate each sample of ``batch (B, C, H, W)`` by its angle (degrees, counter-clockwise)."""
        height, width = batch.shape[-2:]
        pad = min(math.ceil(_PAD_FRACTION * max(height, width)), height - 1, width - 1)
        padded = TF.pad(batch, [pad], padding_mode="reflect") if pad > 0 else batch
        rotated = [
            TF.rotate(image, float(angle), interpolation=InterpolationMode.BILINEAR)
            for image, angle in zip(padded, angles.tolist(), strict=True)
        ]
        return TF.center_crop(torch.stack(rotated), [height, width])

    def __repr__(self) -> str:
        return (
            f"RandomViews(n={self.n}, seed={self.seed}, reduce={self.how!r}, blend={self.blend}, "
            f"degrees={self.degrees}, flips={self.flips}, brightness={self.brightness}, "
            f"contrast={self.contrast})"
        )
