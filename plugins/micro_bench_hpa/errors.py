"""The hpa plugin's errors, in their own module so that the store, its fast reader, the file
readers and the format checks use them without importing each other."""

from __future__ import annotations

from pathlib import Path

from micro_bench.errors import MicroBenchError

__all__ = ["ReadError", "SourceError", "StoreError", "require_regular"]


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


def require_regular(path: Path) -> None:
    """A :class:`ReadError` for a path that is not a regular file (a FIFO would block the reader
    forever; a device or folder is no image): checked with ``stat``, which never blocks."""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing: the caller's own check names it
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise ReadError("unreadable", path, f"{kind}, not an image file; refused without reading it")
