"""The ``none`` transform: no augmentation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["NoAugment"]


class NoAugment:
    """Returns ``images`` itself; draws nothing from ``generator``."""

    name = "none"

    def __call__(self, images: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return images

    def settings(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return "NoAugment()"
