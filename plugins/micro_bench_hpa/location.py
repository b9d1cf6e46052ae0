"""Where a store lives: a local folder (a path or a ``file://`` URL), or any fsspec URL.

Remote stores (``s3://``, ``gs://``, ``az://``, ``memory://`` in tests, ...) are read through zarr's
own storage layer (``FsspecStore``), by the same dataset code as local ones; ``storage_options``
(credentials, endpoint, ...) go to fsspec unchanged. Runs treat a remote store as read-only:
derived arrays (splits, channel statistics) are recomputed (deterministically) instead of being
cached in it, and the shard check at open compares sizes with the store's manifest (the full
checksum check is ``micro-bench data verify``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["filesystem", "is_remote", "local_path", "remote_shard_sizes"]


def is_remote(store: str | Path) -> bool:
    """Whether ``store`` is a URL other than ``file://`` (a plain path is local)."""
    text = str(store)
    return "://" in text and not text.startswith("file://")


def local_path(store: str | Path) -> Path:
    """The folder of a local store given as a path or a ``file://`` URL."""
    text = str(store)
    return Path(text[len("file://"):]) if text.startswith("file://") else Path(store)


def filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` of a URL."""
    from fsspec.core import url_to_fs

    return url_to_fs(url, **dict(storage_options or {}))


def remote_shard_sizes(url: str, resolution: int, storage_options: Mapping[str, Any] | None = None) -> dict[int, int]:
    """``{block: size in bytes}`` of the shard files of ``images/<resolution>`` in one listing."""
    fs, root = filesystem(url, storage_options)
    base = f"{root.rstrip('/')}/images/{resolution}/c"
    if not fs.exists(base):
        return {}
    sizes = {}
    for path, info in fs.find(base, detail=True).items():
        parts = str(path)[len(base):].strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["0", "0", "0"] and parts[0].isdigit():
            sizes[int(parts[0])] = int(info["size"])
    return sizes
