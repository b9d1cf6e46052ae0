"""The ``none`` transform: no training augmentation (imports nothing heavy)."""

from __future__ import annotations

from typing import Any

__all__ = ["NoTransform"]


class NoTransform:
    """Returns the batch unchanged."""

    name = "none"

    def __call__(self, images: Any, *, generator: Any = None) -> Any:
        return images

    def __repr__(self) -> str:
        return "NoTransform()"
