"""The HPA zarr v3 store (DESIGN.md section 5): create, open, write blocks of samples, resume.

Layout::

    hpa.zarr/             attrs: format "micro-bench/hpa", format_version, classes, channels,
                          source, tool_version, resolutions, block_size, digest,
                          (converted stores) label_csv, intensity_rule, resize
      ids                 (N,) str
      labels              (N, K) bool (K = len(attrs["classes"]); 28 for HPA)
      images/<R>          (N, C, R, R) uint8 or uint16 (C = len(attrs["channels"]); the dtype
                          also in attrs["dtype"] from format version 4); one chunk per sample,
                          one shard per block
      status              (N,) int8: 0 pending, 1 written, 2 bad (skipped, zero pixels)
      digest              (N,) uint64: hash of the sample's pixels at every resolution, by the
                          algorithm in attrs["digest"] (see :data:`DIGESTS`)
      splits/<name>       (N,) int8 (written by :mod:`micro_bench_hpa.split`)
      stats/<split>/<R>   (2, C) float64 mean/std (written by :mod:`micro_bench_hpa.stats`)

A *block* is ``block_size`` consecutive samples: exactly one shard of every image array and one
chunk of ``status``/``digest``. Writers that run in parallel must each own whole blocks (see
:func:`blocks`), because writing two chunks of one shard from two processes is a
read-modify-write race. Every file write is atomic (zarr's ``LocalStore`` renames a
``*.partial`` file), and ``status`` is written after the pixels, so a process killed at any
moment leaves each block either marked written or pending; :func:`clean_partials` removes the
temporary files a kill leaves behind.

Format version 2 added the ``digest`` attribute; a version 1 store (no attribute) used
``blake2b-64``, and is still read and resumed with it. Format version 3: a converted store
records its ``resize`` attribute (``box``: block means; version 1 and 2 stores, which have
none, were resized ``bilinear`` and are resumed so); readers need nothing new. Format version 4
(stores of any other class list, channel list or pixel type, e.g. from ``data convert --labels``):
any K classes and C channels, ``uint16`` pixels (attribute ``dtype``), and the source layout in
attribute ``layout`` (what ``predict`` needs to read new images the same way). Stores of the HPA
classes, channels and ``uint8`` are still written as version 3, byte for byte as before.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import zarr
from zarr.codecs import BloscCodec  # noqa: F401 - the type of a compressor callers may pass

import micro_bench
from micro_bench_hpa.classes import HPA_CHANNELS, HPA_CLASSES
from micro_bench_hpa.errors import StoreError

if TYPE_CHECKING:
    import xxhash

__all__ = [
    "BAD",
    "DIGESTS",
    "DTYPES",
    "write_cache_array",
    "DONE",
    "FORMAT",
    "FORMAT_VERSION",
    "HPA_FORMAT_VERSION",
    "PENDING",
    "StoreError",
    "array_at",
    "blocks",
    "clean_partials",
    "create_store",
    "pixel_digest",
    "open_store",
    "store_digest",
    "store_dtype",
    "strings_attr",
    "pending_blocks",
    "read_array",
    "resolutions_of",
    "write_samples",
]

FORMAT = "micro-bench/hpa"
FORMAT_VERSION = 4
#: The version written for stores of the HPA classes and channels in ``uint8`` (unchanged bytes).
HPA_FORMAT_VERSION = 3
#: Pixel types a store may hold (the images arrays' dtype; ``uint8`` unless ``attrs["dtype"]``).
DTYPES = ("uint8", "uint16")
PENDING, DONE, BAD = 0, 1, 2
DEFAULT_BLOCK = 32
#: Pixel-digest algorithms a store may record: 64-bit hashes whose bytes are read little-endian.
#: ``xxh3-64`` (non-cryptographic, ~0.02 ms per 512 px sample) is what conversion writes;
#: ``blake2b-64`` (~1.2 ms, 15% of decoding the sample's PNGs) is the version-1 algorithm, which
#: ``hpa_synth`` stores keep so that their fingerprints, and run keys, stay the same.
DIGESTS = ("blake2b-64", "xxh3-64")
V1_DIGEST = "blake2b-64"


def default_compressor() -> BloscCodec | None:
    """No compression, chosen by ``benchmarks/perf/loader.py`` on real HPA PNGs at 256 (numbers in
    docs/performance.md): blosc lz4 saves only 21% of the bytes (zstd 38%), reads whole shards
    slower, and takes per-sample reads off the byte-range fast path of
    :mod:`micro_bench_hpa.fastread` (62x the PIL path per core) back to zarr calls (12x)."""
    return None


Mode = Literal["r", "r+", "a", "w", "w-"]


def array_at(group: zarr.Group, key: str) -> zarr.Array:
    """``group[key]``, which must be an array: a :class:`StoreError` naming it if it is a group."""
    node = group[key]
    if not isinstance(node, zarr.Array):
        raise StoreError(f"{group.store_path}: {key} is a zarr group, expected an array")
    return node


def read_array(group: zarr.Group, key: str) -> np.ndarray:
    """All of the array ``group[key]``, in memory."""
    return np.asarray(array_at(group, key)[:])


def resolutions_of(group: zarr.Group) -> list[int]:
    """The store's ``resolutions`` attribute: a :class:`StoreError` if it is not a list of integers."""
    value = group.attrs["resolutions"]
    if not isinstance(value, list) or not all(isinstance(r, int) for r in value):
        raise StoreError(f"{group.store_path}: attribute resolutions is {value!r}, expected a list of integers")
    return [int(r) for r in value]


def strings_attr(group: zarr.Group, key: str) -> list[str]:
    """A list-of-strings attribute (``classes``, ``channels``): a :class:`StoreError` if it is not one."""
    value = group.attrs[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StoreError(f"{group.store_path}: attribute {key} is {value!r}, expected a list of strings")
    return [str(v) for v in value]


def create_store(
    path: str | Path,
    *,
    ids: Sequence[str],
    labels: np.ndarray,
    resolutions: Sequence[int],
    source: str,
    attrs: Mapping[str, Any] | None = None,
    block_size: int = DEFAULT_BLOCK,
    overwrite: bool = False,
    compressor: Any = "default",
    digest: str = V1_DIGEST,
    classes: Sequence[str] = HPA_CLASSES,
    channels: Sequence[str] = HPA_CHANNELS,
    dtype: str = "uint8",
) -> zarr.Group:
    """Create an empty store for N samples, or reopen an unfinished one with the same content.

    Args:
        path: the ``.zarr`` directory.
        ids: N sample ids (unique).
        labels: ``(N, K) bool`` multi-hot targets, K = ``len(classes)``.
        resolutions: image side lengths to store, e.g. ``(512, 256, 64)``.
        source: where the pixels come from (a folder, ``"hpa_synth(seed=0)"``, ...).
        attrs: extra root attributes (e.g. generator parameters).
        block_size: samples per shard and per parallel write task.
        overwrite: replace whatever is at ``path``.
        compressor: a zarr codec for the image arrays, ``None`` for none, or ``"default"``
            (:func:`default_compressor`).
        digest: the pixel-digest algorithm, one of :data:`DIGESTS` (a reopened store keeps its own).
        classes: the K class names in label-column order (default: the 28 HPA classes).
        channels: the C channel names in stored order (default: red, green, blue, yellow).
        dtype: the pixel type, one of :data:`DTYPES`.

    Returns:
        The root group, open for writing. If ``path`` already holds a store with the same ids,
        labels, resolutions and block size, it is reopened so that writing can resume.
    """
    labels = np.asarray(labels)
    ids = [str(i) for i in ids]
    n = len(ids)
    classes, channels = [str(c) for c in classes], [str(c) for c in channels]
    k, c = len(classes), len(channels)
    if k < 1 or len(set(classes)) != k or not all(classes):
        raise StoreError(f"{path}: class names must be unique and non-empty, got {classes}")
    if c < 1 or len(set(channels)) != c or not all(channels):
        raise StoreError(f"{path}: channel names must be unique and non-empty, got {channels}")
    if dtype not in DTYPES:
        raise StoreError(f"{path}: pixel type {dtype!r}; expected one of {', '.join(DTYPES)}")
    if labels.shape != (n, k) or labels.dtype != bool:
        raise StoreError(f"{path}: labels must be ({n}, {k}) bool, got {labels.shape} {labels.dtype}")
    hpa_like = classes == list(HPA_CLASSES) and channels == list(HPA_CHANNELS) and dtype == "uint8"
    if len(set(ids)) != n:
        raise StoreError(f"{path}: ids must be unique ({n - len(set(ids))} duplicates)")
    res = sorted({int(r) for r in resolutions}, reverse=True)
    if not res or min(res) < 1:
        raise StoreError(f"{path}: resolutions must be positive integers, got {list(resolutions)}")
    if int(block_size) < 1:
        raise StoreError(f"{path}: block_size must be a positive integer, got {block_size}")
    if digest not in DIGESTS:
        raise StoreError(f"{path}: digest must be one of {', '.join(DIGESTS)}, got {digest!r}")
    path = Path(path)
    check_destination(path)
    if path.exists() and not overwrite:
        group = open_store(path, mode="r+")
        try:
            same = (
                group.attrs["resolutions"] == res
                and group.attrs["block_size"] == block_size
                and list(read_array(group, "ids")) == ids
                and np.array_equal(read_array(group, "labels"), labels)
                and strings_attr(group, "classes") == classes
                and strings_attr(group, "channels") == channels
                and store_dtype(group) == dtype
            )
        except Exception as exc:  # noqa: BLE001 - a missing key or array, unreadable chunk metadata
            raise StoreError(
                f"{path}: damaged store metadata ({type(exc).__name__}: {exc}); it cannot be resumed: "
                "delete it and convert again") from None
        if not same:
            raise StoreError(
                f"{path}: holds a different store (ids, labels, classes, channels, pixel type, resolutions or "
                "block size differ); "
                "delete it or choose another destination"
            )
        clean_partials(path)
        return group
    # The skeleton (attributes and every array's metadata) is built in a temporary folder and
    # renamed into place, so a kill in the first second leaves no half-made store to trip over.
    for stale in path.parent.glob(f".{path.name}.*.creating"):
        shutil.rmtree(stale, ignore_errors=True)
    final, path = path, path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.creating"
    group = zarr.open_group(path, mode="w", zarr_format=3)
    group.attrs.update(
        {
            "format": FORMAT,
            "format_version": HPA_FORMAT_VERSION if hpa_like else FORMAT_VERSION,
            "classes": classes,
            "channels": channels,
            **({} if hpa_like else {"dtype": dtype}),
            "source": source,
            "tool_version": micro_bench.__version__,
            "resolutions": res,
            "block_size": block_size,
            "digest": digest,
            **dict(attrs or {}),
        }
    )
    group.create_array("ids", shape=(n,), dtype=str, chunks=(max(n, 1),), fill_value="")
    array_at(group, "ids")[:] = np.array(ids, dtype=object)
    group.create_array("labels", data=labels, chunks=(max(n, 1), k))
    step = max(min(block_size, n), 1)
    group.create_array("status", shape=(n,), dtype="int8", chunks=(step,), fill_value=PENDING)
    group.create_array("digest", shape=(n,), dtype="uint64", chunks=(step,), fill_value=0)
    images = group.create_group("images")
    for r in res:
        images.create_array(
            str(r),
            shape=(n, c, r, r),
            dtype=dtype,
            chunks=(1, c, r, r),
            shards=(step, c, r, r),
            compressors=default_compressor() if compressor == "default" else compressor,
            fill_value=0,
            dimension_names=("sample", "channel", "y", "x"),
        )
    if final.exists():  # overwrite=True
        shutil.rmtree(final)
    os.rename(path, final)
    return zarr.open_group(final, mode="r+", zarr_format=3)


def check_destination(path: Path) -> None:
    """A :class:`StoreError` when ``path`` is a file or lies under one."""
    if path.exists() and not path.is_dir():
        raise StoreError(f"{path}: exists and is a file; expected a .zarr folder (or a new path)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StoreError(f"{path}: {parent} is a regular file, not a folder")
            break


def open_store(path: str | Path, mode: Mode = "r", storage_options: Mapping[str, Any] | None = None) -> zarr.Group:
    """Open a micro-bench/hpa store (a folder, a ``file://`` or any fsspec URL, see
    :mod:`micro_bench_hpa.location`); a clear one-line :class:`StoreError` if it is not one."""
    from micro_bench_hpa.location import filesystem, is_remote, local_path

    where: Any
    if is_remote(path):
        where = str(path)
        try:
            fs, root = filesystem(where, storage_options)
            found = fs.exists(f"{root.rstrip('/')}/zarr.json")
        except Exception as exc:  # noqa: BLE001 - fsspec backends raise their own types (credentials, ...)
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{where}: cannot open the store's location ({type(exc).__name__}: {str(exc)[:200]})") from None
    else:
        where = local_path(path)
        found = (where / "zarr.json").is_file()
    if not found:
        raise StoreError(
            f"{where}: not a micro-bench/hpa zarr store (expected a directory with zarr.json, "
            "made by `micro-bench data convert` or `micro-bench data synth`)"
        )
    path = where
    try:
        group = zarr.open_group(path, mode=mode, zarr_format=3,
                                storage_options=dict(storage_options) if storage_options and is_remote(path) else None)
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for damaged metadata
        raise StoreError(f"{path}: unreadable zarr metadata ({type(exc).__name__}: {exc}); "
                         "the store is damaged: convert again into a new folder") from None
    fmt = group.attrs.get("format")
    if fmt != FORMAT:
        raise StoreError(f"{path}: zarr attribute format is {fmt!r}, expected {FORMAT!r}")
    version = group.attrs.get("format_version", 0)
    if not isinstance(version, (int, float)):
        raise StoreError(f"{path}: zarr attribute format_version is {version!r}, expected an integer")
    if version > FORMAT_VERSION:
        raise StoreError(
            f"{path}: format_version {version} is newer than this "
            f"micro-bench reads ({FORMAT_VERSION}); upgrade micro-bench"
        )
    return group


def _group(group_or_path: zarr.Group | str | Path) -> zarr.Group:
    if isinstance(group_or_path, zarr.Group):
        return group_or_path
    return open_store(group_or_path, mode="r+")


def pixel_digest(sample: Mapping[int, np.ndarray], algorithm: str = V1_DIGEST) -> int:
    """64-bit hash of one sample's ``(C, R, R)`` pixels at each resolution, largest first: the
    bytes of ``uint8`` pixels, of ``uint16`` pixels little-endian (any other type is hashed as
    ``uint8``, as before version 4).

    ``algorithm`` is one of :data:`DIGESTS`; a store's is ``attrs.get("digest", "blake2b-64")``.
    """
    h: xxhash.xxh3_64 | hashlib.blake2b
    if algorithm == "xxh3-64":
        import xxhash

        h = xxhash.xxh3_64()
    elif algorithm == "blake2b-64":
        h = hashlib.blake2b(digest_size=8)
    else:
        raise StoreError(f"unknown pixel digest {algorithm!r}; expected one of {', '.join(DIGESTS)}")
    for r in sorted(sample, reverse=True):
        a = np.asarray(sample[r])
        h.update(np.ascontiguousarray(a, dtype="<u2" if a.dtype == np.uint16 else np.uint8).data)
    return int.from_bytes(h.digest(), "little")


def store_dtype(group: zarr.Group) -> str:
    """The pixel type of a store's images: ``attrs["dtype"]`` (format version 4), else ``uint8``."""
    value = group.attrs.get("dtype", "uint8")
    if value not in DTYPES:
        raise StoreError(f"{group.store_path}: attribute dtype is {value!r}, expected one of {', '.join(DTYPES)}")
    return str(value)


def store_digest(group: zarr.Group) -> str:
    """The pixel-digest algorithm of a store (version 1 stores: ``blake2b-64``)."""
    return str(group.attrs.get("digest", V1_DIGEST))


def write_samples(
    group_or_path: zarr.Group | str | Path,
    start: int,
    images: Mapping[int, np.ndarray],
    *,
    bad: Sequence[int] = (),
    shards: dict[str, list[int]] | None = None,
) -> None:
    """Write samples ``start .. start + n`` at every resolution, then mark them written.

    Args:
        group_or_path: the store (a group open for writing, or its path).
        start: index of the first sample.
        images: ``{R: (n, C, R, R)}`` for every resolution of the store, in its pixel type.
        bad: positions within the block (``0 .. n-1``) of samples that failed to decode: their
            pixels must be zero; they are marked bad and datasets leave them out.
        shards: if given, receives ``{file: [size, mtime_ns, crc32c]}`` of each shard file
            written whole (paths relative to the store; see :func:`~micro_bench_hpa.fastread.write_shard`).

    Parallel callers must pass whole blocks (``start`` a multiple of ``block_size``).
    """
    from micro_bench_hpa.fastread import write_shard

    group = _group(group_or_path)
    res = resolutions_of(group)
    if sorted(images) != sorted(res):
        raise StoreError(f"write_samples: got resolutions {sorted(images)}, the store has {sorted(res)}")
    sizes = {len(a) for a in images.values()}
    if len(sizes) != 1:
        raise StoreError(f"write_samples: blocks of different lengths {sorted(sizes)}")
    n = sizes.pop()
    n_total = array_at(group, "status").shape[0]
    c, dtype = len(strings_attr(group, "channels")), np.dtype(store_dtype(group))
    if start < 0 or start + n > n_total:
        raise StoreError(f"write_samples: samples {start}..{start + n} outside 0..{n_total}")
    for r, arr in images.items():
        arr = np.asarray(arr)
        if arr.shape != (n, c, r, r) or arr.dtype != dtype:
            raise StoreError(f"write_samples: images[{r}] must be ({n}, {c}, {r}, {r}) {dtype}, got {arr.shape} {arr.dtype}")
        array = array_at(group, f"images/{r}")
        if not write_shard(array, start, arr, shards):  # same bytes as zarr writes, without its pipeline
            array[start : start + n] = arr
    bad_set = {int(b) for b in bad}
    algorithm = store_digest(group)
    digests = [0 if i in bad_set else pixel_digest({r: images[r][i] for r in images}, algorithm) for i in range(n)]
    status = np.full(n, DONE, dtype=np.int8)
    status[sorted(bad_set)] = BAD
    array_at(group, "digest")[start : start + n] = np.array(digests, dtype=np.uint64)
    array_at(group, "status")[start : start + n] = status


def blocks(group: zarr.Group) -> list[tuple[int, int]]:
    """Shard-aligned ``(start, stop)`` ranges covering all samples."""
    status = array_at(group, "status")
    n = status.shape[0]
    step = status.chunks[0]
    return [(s, min(s + step, n)) for s in range(0, n, step)]


def pending_blocks(group: zarr.Group) -> list[tuple[int, int]]:
    """The blocks that still hold a pending sample."""
    status = read_array(group, "status")
    return [(a, b) for a, b in blocks(group) if (status[a:b] == PENDING).any()]


def clean_partials(path: str | Path) -> int:
    """Delete ``*.partial`` files an interrupted atomic write left behind; returns how many."""
    stale = list(Path(path).rglob("*.partial"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def write_cache_array(path: str | Path, key: str, data: np.ndarray, attrs: Mapping[str, Any] | None = None) -> bool:
    """Write a derived array (a split, channel statistics) at ``key`` so that no reader ever sees
    it half-written, even when several processes (torchrun ranks, parallel runs) write it at once.

    The array is written under a temporary name beside its final place and its folder is renamed
    into place (one atomic ``rename``); if another process got there first, its identical copy is
    kept. Returns whether this call wrote it; ``False`` also for a read-only store.
    """
    from micro_bench_hpa.location import is_remote, local_path

    if is_remote(path):  # runs treat remote stores as read-only; the caller recomputes
        return False
    root = local_path(path)
    parent, _, name = key.rpartition("/")
    tmp_key = f"{parent}/.tmp-{name}-{uuid.uuid4().hex}" if parent else f".tmp-{name}-{uuid.uuid4().hex}"
    try:
        group = open_store(root, mode="r+")
        group.create_array(tmp_key, data=data)
        if attrs:
            group[tmp_key].attrs.update(dict(attrs))
        os.rename(root / tmp_key, root / key)
    except OSError:  # read-only store, or another process renamed its copy into place first
        shutil.rmtree(root / tmp_key, ignore_errors=True)
        return False
    return True
