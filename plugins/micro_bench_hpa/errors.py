"""The hpa plugin's store error, in its own module so that the store and its fast reader both use
it without importing each other."""

from __future__ import annotations

from micro_bench.errors import MicroBenchError

__all__ = ["StoreError"]


class StoreError(MicroBenchError, ValueError):
    """A path is not a micro-bench/hpa store, or does not match what the caller asked for."""
