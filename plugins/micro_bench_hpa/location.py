"""Where a store lives: a local folder (a path or a ``file://`` URL), or any fsspec URL.

Remote stores (``s3://``, ``gs://``, ``az://``, ``memory://`` in tests, ...) are read through zarr's
own storage layer (``FsspecStore``), by the same dataset code as local ones; ``storage_options``
(credentials, endpoint, ...) go to fsspec unchanged. Runs treat a remote store as read-only:
derived arrays (splits, channel statistics) are recomputed (deterministically) instead of being
cached in it, and the shard check at open compares sizes with the store's manifest (the full
checksum check is ``micro-bench data verify``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["check_url", "cli_store", "filesystem", "is_remote", "local_path", "remote_shard_sizes"]


def is_remote(store: str | Path) -> bool:
    """Whether ``store`` is a URL other than ``file://`` (a plain path is local)."""
    text = str(store)
    return "://" in text and not text.startswith("file://")


def local_path(store: str | Path) -> Path:
    """The folder of a local store given as a path or a ``file://`` URL."""
    text = str(store)
    return Path(text[len("file://"):]) if text.startswith("file://") else Path(store)


def check_url(url: str) -> None:
    """A one-line :class:`~micro_bench_hpa.store.StoreError` naming ``url`` when fsspec cannot
    reach it: an unknown protocol, or one whose package is not installed (named, to install)."""
    from fsspec.registry import get_filesystem_class, known_implementations, registry

    from micro_bench_hpa.errors import StoreError

    protocol = url.split("://", 1)[0]
    if protocol not in known_implementations and protocol not in registry:
        common = ", ".join(f"{p}://" for p in ("s3", "gs", "az", "http", "file"))
        raise StoreError(f"{url}: unknown URL protocol {protocol!r} (fsspec knows {common}, ...; a local folder "
                         "needs no protocol)")
    try:
        get_filesystem_class(protocol)
    except ImportError:
        package = str(known_implementations.get(protocol, {}).get("class", protocol)).split(".")[0]
        if package == "fsspec":  # a built-in filesystem with an optional dependency (http: aiohttp, ...)
            package = str(known_implementations[protocol].get("err", "its optional dependency"))
        raise StoreError(f"{url}: the {protocol}:// filesystem needs a package that is not installed: "
                         f"pip install {package}") from None


def cli_store(store: str, storage_options: Sequence[str] = ()) -> tuple[str, dict[str, str]]:
    """A store argument of a command and its ``--storage-option KEY=VALUE`` items, checked:
    ``memory://`` refused (it lives only inside one Python process: the Python API takes it), a
    URL's protocol and package checked (:func:`check_url`), a local folder must exist."""
    from micro_bench_hpa.errors import StoreError

    options = {}
    for item in storage_options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise StoreError(f"--storage-option: expected KEY=VALUE, got {item!r}")
        options[key] = value
    if str(store).startswith("memory://"):
        raise StoreError(f"{store}: a memory:// store exists only inside one Python process and is gone when the "
                         "command exits; use a folder, or the Python API (micro_bench_hpa.convert.convert, "
                         "HPADataset) within one process")
    if is_remote(store):
        check_url(store)
    elif not local_path(store).is_dir():
        raise StoreError(f"{local_path(store)}: no such store folder")
    return store, options


def filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` of a URL; a one-line error naming the URL when
    fsspec cannot reach it (unknown protocol, missing package, refused options)."""
    from fsspec.core import url_to_fs

    from micro_bench_hpa.errors import StoreError

    check_url(url)
    try:
        return url_to_fs(url, **dict(storage_options or {}))
    except (ImportError, ValueError, TypeError, OSError) as exc:
        raise StoreError(f"{url}: cannot open the location ({type(exc).__name__}: {str(exc)[:200]})") from None


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
