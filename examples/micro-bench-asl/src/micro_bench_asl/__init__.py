"""micro-bench-asl: the Asymmetric Loss for multi-label classification as a micro-bench plugin."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
