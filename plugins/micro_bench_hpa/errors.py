"""The hpa plugin's errors, in their own module so that the store, its fast reader, the file
readers and the format checks use them without importing each other."""

from __future__ import annotations

from pathlib import Path

from micro_bench.errors import MicroBenchError

__all__ = ["ReadError", "SourceError", "StoreError"]


class StoreError(MicroBenchError, ValueError):
    """A path is not a micro-bench/hpa store, or does not match what the caller asked for."""


class SourceError(MicroBenchError, ValueError):
    """The source folder or its label CSV cannot be converted at all (one line for the CLI)."""


class ReadError(ValueError):
    """A channel file that cannot be used; ``kind`` is the report category."""

    def __init__(self, kind: str, path: Path, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.kind = kind
        self.path = path
        self.detail = detail
