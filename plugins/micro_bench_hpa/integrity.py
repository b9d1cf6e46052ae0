"""Store integrity: shard manifest, cheap checks at open, and a full ``data verify``.

Every image array keeps one shard file per block of samples at
``images/<R>/c/<block>/0/0/0`` (zarr v3 default key encoding). Three layers of protection:

* **At open** (:func:`check_open`, cheap: one ``stat`` per shard of the resolution read): a shard
  holding written samples must exist (zarr would silently read a missing one as black images);
  when the store carries a manifest, each shard's size must match it, and a shard not yet
  checksummed at its current modification time is checksummed (CRC-32C) against it. Checks that
  passed are remembered per file, size and mtime in ``$MICRO_BENCH_CACHE/verified/`` (outside the
  store, which stays byte-identical), so a store is read in full at most once per change. The
  shard sizes enter the dataset fingerprint, so a replaced shard changes the run key.
* **Manifest** (:func:`seal`): written when a conversion or synthesis finishes, as
  ``shard_manifest.json`` beside ``zarr.json``: per resolution and shard, ``[size, crc32c]``.
* **Full check** (:func:`verify`, ``micro-bench data verify STORE``): every written sample's pixels
  at every resolution against its stored digest, in parallel with dask; names each damaged
  sample and each missing shard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.location import filesystem, is_remote, local_path, remote_shard_sizes
from micro_bench_hpa.store import (
    DONE,
    StoreError,
    array_at,
    open_store,
    pixel_digest,
    resolutions_of,
    store_digest,
    store_dtype,
    strings_attr,
)

__all__ = ["MANIFEST", "check_open", "seal", "shard_path", "verify"]

MANIFEST = "shard_manifest.json"


def shard_path(store: Path, resolution: int, block: int) -> Path:
    """The file of shard ``block`` of ``images/<resolution>``."""
    return Path(store) / "images" / str(resolution) / "c" / str(block) / "0" / "0" / "0"


def _crc(path: Path) -> int:
    import google_crc32c

    crc = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            crc = google_crc32c.extend(crc, chunk)
    return int(crc)


def _digest(algorithm: str | None) -> Callable[[Any], int]:
    """The store's pixel digest (``attrs["digest"]``; stores without it use the default)."""
    return pixel_digest if not algorithm else (lambda sample: pixel_digest(sample, algorithm))


def _zero_digest(resolutions: Sequence[int], algorithm: str | None = None, channels: int = 4,
                 dtype: str = "uint8") -> int:
    """The digest of an all-zero ``(channels, R, R)`` sample of ``dtype`` (a store's shape)."""
    return _digest(algorithm)({int(r): np.zeros((channels, int(r), int(r)), dtype) for r in resolutions})


def _needed_blocks(status: np.ndarray, digests: np.ndarray, step: int, zero: int) -> list[int]:
    """Blocks holding a written sample whose pixels are not all zero (a shard file must exist)."""
    needed = (status == DONE) & (digests != np.uint64(zero))
    return sorted({int(i) // step for i in np.flatnonzero(needed)})


def _verified_cache(store: Path) -> Path:
    import hashlib

    base = os.environ.get("MICRO_BENCH_CACHE") or Path.home() / ".cache" / "micro-bench"
    key = hashlib.sha256(str(store.resolve()).encode()).hexdigest()[:16]
    return Path(base) / "verified" / f"{key}.json"


def _load_verified(store: Path) -> dict[str, list[int]]:
    try:
        return json.loads(_verified_cache(store).read_text())
    except (OSError, ValueError):
        return {}


def _save_verified(store: Path, verified: dict[str, list[int]]) -> None:
    path = _verified_cache(store)
    try:  # best effort: without it the next open checksums again
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        tmp.write_text(json.dumps(verified, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass


def seal(store: str | Path, written: Mapping[str, Sequence[int]] | None = None) -> Path:
    """Write ``shard_manifest.json`` (size and CRC-32C of every shard file); atomic, and the
    same bytes for the same store content.

    ``written``: ``{file: [size, mtime_ns, crc32c]}`` of shard files whose checksum the writer
    computed (:func:`~micro_bench_hpa.fastread.write_shard`); such a file is not read again
    while its size and modification time are still those recorded. Every other file is read."""
    store = Path(store)
    written = written or {}
    group = open_store(store)
    manifest: dict[str, dict[str, list[int]]] = {}
    verified = {}
    for r in resolutions_of(group):
        entries = {}
        base = store / "images" / str(r) / "c"
        for block_dir in sorted(base.iterdir()) if base.is_dir() else []:
            f = block_dir / "0" / "0" / "0"
            if f.is_file():
                st, rel = f.stat(), f.relative_to(store).as_posix()
                known = written.get(rel)
                same = known is not None and list(known[:2]) == [st.st_size, st.st_mtime_ns]
                entries[block_dir.name] = [st.st_size, int(known[2]) if same and known else _crc(f)]
                verified[str(f.relative_to(store))] = [st.st_size, st.st_mtime_ns]
        manifest[str(r)] = entries
    from micro_bench_hpa.checks import array_files

    # the non-pixel arrays (ids, labels, status, digest): their files' size and CRC-32C, checked by verify
    arrays = {rel: [f.stat().st_size, _crc(f)] for rel, f in array_files(store).items()}
    path = store / MANIFEST
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.partial")
    tmp.write_text(json.dumps({"format": 1, "shards": manifest, "arrays": arrays}, sort_keys=True))
    os.replace(tmp, path)
    _save_verified(store, verified)
    return path


def _manifest(store: Path) -> dict[str, dict[str, list[int]]] | None:
    path = store / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())["shards"]
    except (ValueError, KeyError, TypeError, OSError):
        raise StoreError(f"{path}: damaged shard manifest; run `micro-bench data verify {store}`") from None


def check_open(store: Path | str, resolution: int, status: np.ndarray, digests: np.ndarray, ids: Sequence[str] | np.ndarray,
               step: int, resolutions: Sequence[int], algorithm: str | None = None,
               storage_options: Mapping[str, Any] | None = None, channels: int = 4,
               dtype: str = "uint8") -> list[int]:
    """Refuse a store whose shards of ``resolution`` are missing or changed; return the shard
    sizes (``-1`` for a shard that holds only all-zero samples and has no file), for the
    fingerprint. A remote store (an fsspec URL) is checked with one listing: presence and
    sizes against its manifest (checksums: ``micro-bench data verify``). ``channels`` and
    ``dtype``: the store's (its samples' shape)."""
    zero = _zero_digest(resolutions, algorithm, channels, dtype)
    n_blocks = -(-len(status) // step) if step else 0
    needed = set(_needed_blocks(status, digests, step, zero))
    if is_remote(store):
        return _check_remote(str(store), resolution, n_blocks, needed, ids, step, storage_options)
    store = local_path(store)
    manifest = (_manifest(store) or {}).get(str(resolution))
    verified = _load_verified(store) if manifest is not None else {}
    newly = False
    sizes = []
    for block in range(n_blocks):
        f = shard_path(store, resolution, block)
        try:
            st = f.stat()
        except FileNotFoundError:
            if block in needed:
                first = ids[block * step]
                raise StoreError(
                    f"{store}: shard file {f.relative_to(store)} (samples {block * step}.. from id "
                    f"{first!r}) is missing but its samples are marked written; the store is damaged: "
                    f"run `micro-bench data verify {store}`, then convert again into a new store") from None
            sizes.append(-1)
            continue
        sizes.append(st.st_size)
        entry = manifest.get(str(block)) if manifest is not None else None
        if entry is None:
            continue
        size, crc = entry
        rel = str(f.relative_to(store))
        if st.st_size == size and verified.get(rel) == [st.st_size, st.st_mtime_ns]:
            continue
        if st.st_size != size or _crc(f) != crc:
            raise StoreError(
                f"{store}: shard file {rel} changed since the store was written "
                f"({'size' if st.st_size != size else 'checksum'} differs from {MANIFEST}); run "
                f"`micro-bench data verify {store}` to name the damaged samples")
        verified[rel], newly = [st.st_size, st.st_mtime_ns], True
    if newly:
        _save_verified(store, verified)
    return sizes


def _check_remote(url: str, resolution: int, n_blocks: int, needed: set[int], ids: Sequence[str] | np.ndarray, step: int,
                  storage_options: Mapping[str, Any] | None) -> list[int]:
    fs, root = filesystem(url, storage_options)
    found = remote_shard_sizes(url, resolution, storage_options)
    manifest_path = f"{root.rstrip('/')}/{MANIFEST}"
    try:
        manifest = (json.loads(fs.cat(manifest_path))["shards"] if fs.exists(manifest_path) else {}).get(str(resolution))
    except (ValueError, KeyError, TypeError, OSError):
        raise StoreError(f"{url}/{MANIFEST}: damaged shard manifest; run `micro-bench data verify {url}`") from None
    sizes = []
    for block in range(n_blocks):
        rel = f"images/{resolution}/c/{block}/0/0/0"
        if block not in found:
            if block in needed:
                raise StoreError(
                    f"{url}: shard file {rel} (samples {block * step}.. from id {ids[block * step]!r}) is "
                    f"missing but its samples are marked written; run `micro-bench data verify {url}`")
            sizes.append(-1)
            continue
        entry = (manifest or {}).get(str(block))
        if entry is not None and int(entry[0]) != found[block]:
            raise StoreError(f"{url}: shard file {rel} changed since the store was written (size differs "
                             f"from {MANIFEST}); run `micro-bench data verify {url}` to name the damaged samples")
        sizes.append(found[block])
    return sizes


def _verify_block(store: str, start: int, stop: int, resolutions: Sequence[int],
                  storage_options: Mapping[str, Any] | None = None) -> list[int]:
    """Rows in ``start..stop`` whose pixels do not match their digest (or cannot be read)."""
    group = open_store(store, storage_options=storage_options)
    digest = _digest(store_digest(group))
    status = np.asarray(array_at(group, "status")[start:stop])
    stored = np.asarray(array_at(group, "digest")[start:stop])
    rows = np.flatnonzero(status == DONE)
    if not len(rows):
        return []
    try:
        images = {int(r): np.asarray(array_at(group, f"images/{r}")[start:stop]) for r in resolutions}
    except Exception:  # noqa: BLE001 - an unreadable shard: every written sample in it is damaged
        return [start + int(i) for i in rows]
    return [start + int(i) for i in rows
            if digest({r: a[i] for r, a in images.items()}) != int(stored[i])]


def _remote_shards(url: str, resolutions: Sequence[int], needed: Sequence[int],
                   storage_options: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """(missing, changed) shard files of a remote store: presence, and sizes against its manifest."""
    fs, root = filesystem(url, storage_options)
    path = f"{root.rstrip('/')}/{MANIFEST}"
    try:
        shards = json.loads(fs.cat(path))["shards"] if fs.exists(path) else {}
    except (ValueError, KeyError, TypeError, OSError):
        raise StoreError(f"{url}/{MANIFEST}: damaged shard manifest") from None
    missing, changed = [], []
    for r in resolutions:
        found = remote_shard_sizes(url, r, storage_options)
        missing += [f"images/{r}/c/{b}/0/0/0" for b in needed if b not in found]
        changed += [f"images/{r}/c/{k}/0/0/0" for k, (size, _crc32) in (shards.get(str(r)) or {}).items()
                    if int(k) in found and found[int(k)] != size]
    return missing, changed


def _remote_sealed_files(url: str, storage_options: Mapping[str, Any] | None) -> list[str]:
    """The checks :func:`~micro_bench_hpa.checks.check_structure` makes of a local store's sealed
    non-pixel files (``ids``, ``labels``, ``status``, ``digest``: size and CRC-32C against the
    manifest's ``arrays``), made through fsspec: these files are small, read whole."""
    import google_crc32c

    fs, root = filesystem(url, storage_options)
    path = f"{root.rstrip('/')}/{MANIFEST}"
    try:
        sealed = dict(json.loads(fs.cat(path)).get("arrays") or {}) if fs.exists(path) else {}
    except (ValueError, TypeError, AttributeError, OSError):
        return []  # _remote_shards reports the damaged manifest
    problems = []
    for rel, entry in sorted(sealed.items()):
        f = f"{root.rstrip('/')}/{rel}"
        try:
            data = fs.cat(f)
        except (FileNotFoundError, OSError):
            problems.append(f"file {rel} recorded in the manifest is missing")
            continue
        if len(data) != entry[0] or int(google_crc32c.value(data)) != entry[1]:
            problems.append(f"file {rel} changed since the store was written (its size or checksum differs "
                            "from shard_manifest.json)")
    return problems


def _sealed_arrays(store: Path) -> dict[str, Any] | None:
    """The manifest's ``arrays`` entries (``{}`` for a manifest written before they were
    recorded), ``None`` for a store without a manifest (not sealed as finished)."""
    path = store / MANIFEST
    if not path.is_file():
        return None
    try:
        return dict(json.loads(path.read_text()).get("arrays") or {})
    except (ValueError, TypeError, AttributeError, OSError):
        return {}  # _manifest() reports the damaged file


def verify(store: str | Path, *, workers: int | None = None,
           progress: Callable[[int], None] | None = None,
           storage_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check every array of the store (:func:`micro_bench_hpa.checks.check_structure`), every
    written sample against its digest and every shard against the manifest.

    Returns ``{"samples", "checked", "problems": [str], "damaged": [{"row", "id"}],
    "missing_shards": [path], "changed_shards": [path]}``; the store is intact when all four lists
    are empty. A remote store (an fsspec URL) gets the same checks, its sealed non-pixel files by
    size and CRC-32C as a local one, its shards by presence and size against the manifest (not
    by CRC-32C: that would read every shard twice; the pixel digests cover their content, and
    zarr checks each shard's index CRC-32C as it reads it).
    """
    import dask
    from dask.callbacks import Callback

    from micro_bench_hpa.checks import check_structure

    remote = is_remote(store)
    where: Any = str(store) if remote else local_path(store)
    group = open_store(where, storage_options=storage_options)
    problems, arrays = check_structure(group, None if remote else where, None if remote else _sealed_arrays(where), _crc)
    if remote:
        problems += _remote_sealed_files(where, storage_options)
    if not {"status", "digest", "ids"} <= set(arrays) or problems and any(
            p.startswith(("attribute resolutions", "attribute dtype", "attribute channels")) for p in problems):
        # the pixels cannot be checked without readable rows, digests and shapes: say what is wrong
        status = arrays.get("status")
        n = len(status) if status is not None else 0
        return {"store": str(where), "samples": n, "checked": 0, "problems": problems, "damaged": [],
                "missing_shards": [], "changed_shards": []}
    res = resolutions_of(group)
    status, digests = arrays["status"], arrays["digest"]
    ids = [str(i) for i in arrays["ids"]]
    step = int(array_at(group, "status").chunks[0])
    zero = _zero_digest(res, store_digest(group), len(strings_attr(group, "channels")), store_dtype(group))
    missing: list[str] = []
    changed: list[str] = []
    if remote:
        missing, changed = _remote_shards(where, res, _needed_blocks(status, digests, step, zero), storage_options)
    manifest = {} if remote else (_manifest(where) or {})
    if not remote and not (Path(where) / MANIFEST).is_file() and int((status == DONE).sum()):
        problems.append(f"{MANIFEST} is missing: the shards' sizes and CRC-32C and the sealed arrays cannot be checked "
                        "(the conversion did not finish, or the file was deleted); convert again to reseal the store")
    local = Path(where)
    for r in res if not remote else ():
        for block in _needed_blocks(status, digests, step, zero):
            if not shard_path(local, r, block).is_file():
                missing.append(str(shard_path(local, r, block).relative_to(local)))
        for key, (size, crc) in manifest.get(str(r), {}).items():
            f = shard_path(local, r, int(key))
            if f.is_file() and (f.stat().st_size != size or _crc(f) != crc):
                changed.append(str(f.relative_to(local)))
    ranges = [(a, min(a + step, len(status))) for a in range(0, len(status), step)]
    tasks = [dask.delayed(_verify_block)(str(where), a, b, res, storage_options, dask_key_name=f"verify-{a}")
             for a, b in ranges]
    sizes = {f"verify-{a}": b - a for a, b in ranges}

    class _Progress(Callback):
        def _posttask(self, key, result, dsk, state, id):  # noqa: A002 - dask's signature
            if progress is not None and key in sizes:
                progress(sizes[key])

    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    with _Progress():
        results = dask.compute(*tasks, scheduler="synchronous" if n_workers <= 1 else "threads",
                               num_workers=max(n_workers, 1))
    damaged = sorted(row for rows in results for row in rows)
    return {"store": str(where), "samples": len(status), "checked": int((status == DONE).sum()),
            "problems": problems, "damaged": [{"row": row, "id": ids[row]} for row in damaged],
            "missing_shards": sorted(missing), "changed_shards": sorted(changed)}
