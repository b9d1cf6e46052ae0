"""``micro-bench data convert``: an HPA source folder -> a zarr store, in parallel with dask.

1. :func:`~micro_bench_hpa.validate.plan_conversion` checks every input (headers only).
2. The store is created for the good samples, or reopened if an earlier run was interrupted.
3. Each pending block (one shard of every resolution) is one dask task (one worker: a plain call
   in this process): decode four channels per sample, resize (the store's ``resize`` attribute:
   ``box``, block means, for new stores; a resumed version 1 or 2 store keeps ``bilinear``),
   write the block (one file per shard, its CRC-32C computed while writing; digests with xxh3),
   record decode failures in ``DEST/convert_issues/<start>.json`` and only then mark the block
   written. Tasks own whole shards, so parallel writes never touch the same file.
4. ``DEST/convert_report.json`` lists every skipped sample with its reason.

A kill at any moment leaves each block either fully written or pending, so running the same
command again finishes the job and yields the same store as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from micro_bench_hpa.integrity import seal
from micro_bench_hpa.readers import RESIZE_METHODS, ReadError, SourceError, load_sample
from micro_bench_hpa.store import (
    BAD,
    DONE,
    StoreError,
    check_destination,
    create_store,
    open_store,
    pending_blocks,
    read_array,
    write_samples,
)
from micro_bench_hpa.validate import Issue, plan_conversion

__all__ = ["INTENSITY_RULE", "convert", "convert_block"]

INTENSITY_RULE = "uint8 as is; uint16 -> round(x / 257); RGB channel files -> own colour plane"
#: The resize new stores record (attribute ``resize``, store format version 3): block means, as
#: fastai 0.7's ``cv2.INTER_AREA`` (:func:`micro_bench_hpa.readers.resize`).
RESIZE = "box"


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.partial")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    tmp.replace(path)


def convert_block(dest: str, start: int, ids: Sequence[str], paths: Sequence[Any], resolutions: Sequence[int],
                  method: str = "box", layout: Any = None, shape: tuple[int, str] = (4, "uint8"),
                  ) -> tuple[int, dict[str, list[int]]]:
    """Decode, resize (``method``: the store's ``resize`` attribute) and write samples
    ``start .. start + len(ids)``.

    ``paths``: per sample ``{color: file}`` (the Kaggle layout), or, with a
    :class:`~micro_bench_hpa.layouts.Layout`, the sample's files in its order; ``shape``: the
    store's ``(channels, dtype)``.

    Runs inside a dask worker. Samples that fail to decode are written as zeros, marked bad and
    listed in ``dest/convert_issues/<start>.json`` (written before the block is marked done).
    Returns how many samples, and ``{shard file: [size, mtime_ns, crc32c]}`` of the shard files
    it wrote (for the manifest, so that :func:`~micro_bench_hpa.integrity.seal` need not read
    them again).
    """
    _die_with_parent()
    n = len(ids)
    out = {int(r): _block_buffer(n, int(r), *shape) for r in resolutions}
    bad, issues = [], []
    for i, files in enumerate(paths):
        try:  # decoded and resized straight into the sample's rows (untouched on an error)
            if layout is None:
                load_sample(files, resolutions, method, into={r: a[i] for r, a in out.items()})
            else:
                layout.pixels(files, resolutions, shape[1], method, into={r: a[i] for r, a in out.items()})
        except ReadError as err:
            bad.append(i)
            issues.append([err.kind, ids[i], f"{err.path.name}: {err.detail}"])
            for a in out.values():
                a[i] = 0  # a bad sample is stored as zeros
    _write_json(Path(dest) / "convert_issues" / f"{start:09d}.json", issues)
    shards: dict[str, list[int]] = {}
    write_samples(open_store(dest, mode="r+"), start, out, bad=bad, shards=shards)
    return n, shards


_BUFFERS = threading.local()


def _block_buffer(n: int, r: int, c: int = 4, dtype: str = "uint8") -> np.ndarray:
    """An ``(n, c, r, r)`` block array of ``dtype``, reused by the blocks this thread converts (every
    row is overwritten: a decoded sample, or zeros): fresh memory for each block would cost the
    kernel's page faults and zeroing of ~1.3 MB per sample again."""
    cache = getattr(_BUFFERS, "arrays", None)
    if cache is None:
        cache = _BUFFERS.arrays = {}
    if (n, r, c, dtype) not in cache:
        cache[(n, r, c, dtype)] = np.empty((n, c, r, r), dtype=dtype)
    return cache[(n, r, c, dtype)]


def _nothing_to_convert(src: str | Path, plan: Any) -> str:
    if all(kind == "not_in_csv" for kind, _, _ in plan.issues):
        return f"{plan.label_csv}: lists none of the samples in {src} (only a header?); nothing to convert"
    kinds: dict[str, int] = {}
    for kind, _, _ in plan.issues:
        kinds[kind] = kinds.get(kind, 0) + 1
    counts = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    kind, sid, detail = plan.issues[0]
    return f"{src}: no valid sample to convert ({counts}); first: {kind} {sid}: {detail}"


def _check_space(dest: Path, samples: int, resolutions: Sequence[int], bytes_per_pixel: int = 4) -> None:
    """Refuse to start when the pixels still to write (uncompressed) exceed the free space
    (``bytes_per_pixel``: channels times bytes per value)."""
    from micro_bench_commands.failures import disk_full_message, free_bytes

    needed = samples * bytes_per_pixel * sum(int(r) ** 2 for r in resolutions)
    free = free_bytes(dest)
    if free is not None and needed > free:
        raise StoreError(disk_full_message(dest, needed - free))


_WATCHING = False


def _die_with_parent() -> None:
    """In a worker process: exit as soon as the process that started it is gone, so a killed
    ``data convert`` leaves no worker behind (its finished blocks stay; the rest resume)."""
    global _WATCHING
    import multiprocessing
    import threading
    import time

    if _WATCHING or multiprocessing.parent_process() is None:
        return
    _WATCHING, parent = True, os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="micro-bench-parent-watch", daemon=True).start()


def _tasks(jobs: list[tuple[Any, ...]]) -> list[Any]:
    import dask

    delayed = dask.delayed(convert_block, pure=True)
    return [delayed(*job, dask_key_name=f"block-{job[1]}") for job in jobs]


def _run_local(tasks: list[Any], sizes: list[int], workers: int, progress: Callable[[int], None]) -> list[Any]:
    import dask
    from dask.callbacks import Callback

    keys = {t.key: s for t, s in zip(tasks, sizes, strict=True)}

    class _Progress(Callback):
        def _posttask(self, key, result, dsk, state, id):  # noqa: A002 - dask's signature
            if key in keys:
                progress(keys[key])

    with _Progress(), dask.config.set({"multiprocessing.context": _start_method()}):
        return list(dask.compute(*tasks, scheduler="processes", num_workers=workers, initializer=_die_with_parent))


#: File beside ``train.csv`` in a ``data synth --png`` folder: the generator's parameters
#: (written by :func:`micro_bench_hpa.synth.generate.write_png_layout`, read back here).
SYNTH_MARKER = "hpa_synth.json"


def _start_method() -> str:
    """``fork`` where the platform has it and this process can be made single-threaded, else
    ``spawn`` (dask's default).

    Forked workers inherit the imported modules: spawned ones import zarr, numpy and PIL again,
    about 0.8 CPU-seconds each, a quarter of a 640-sample conversion's work on two workers.
    zarr's I/O thread and tqdm's monitor thread are stopped first (both start again when next
    needed; zarr also resets its state in forked children), so that no lock can be held by a
    thread that the child does not have.
    """
    import multiprocessing
    import threading

    from tqdm._monitor import TMonitor
    from zarr.core import sync

    if "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    loop, io_thread = sync.loop[0], sync.iothread[0]
    # the loop's default executor (asyncio.to_thread's file reads): closing the loop only asks
    # its threads to exit; they are waited for below
    executor = getattr(loop, "_default_executor", None)
    if loop is not None and io_thread is not None:  # cleanup_resources waits only 0.2 s, then
        loop.call_soon_threadsafe(loop.stop)  # closes the loop, which fails while it still runs
        io_thread.join(timeout=10)
    if io_thread is None or not io_thread.is_alive():
        sync.cleanup_resources()
        if executor is not None:
            executor.shutdown(wait=True)
    for thread in threading.enumerate():
        if isinstance(thread, TMonitor):
            thread.exit()
    return "fork" if threading.active_count() == 1 else "spawn"


def _run_distributed(tasks: list[Any], sizes: list[int], address: str, progress: Callable[[int], None]) -> list[Any]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        from micro_bench.errors import MicroBenchError

        raise MicroBenchError("--scheduler needs dask.distributed: pip install 'micro-bench[distributed]'") from exc

    from micro_bench_dask.connect import check_scheduler

    address = check_scheduler(address)  # before any task: form, connect timeout, a dask scheduler answering
    results = []
    with Client(address, timeout="10s") as client:
        futures = client.compute(tasks)
        size = {f.key: s for f, s in zip(futures, sizes, strict=True)}
        for fut in as_completed(futures):
            results.append(fut.result())
            progress(size[fut.key])
    return results


def convert(
    src: str | Path,
    dest: str | Path,
    *,
    resolutions: Sequence[int] = (512, 256, 64),
    scheduler: str | None = None,
    workers: int | None = None,
    block_size: int = 32,
    progress: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    generic: Any = None,
) -> dict[str, Any]:
    """Convert ``src`` into the store ``dest`` (or finish an interrupted conversion).

    Args:
        src: source folder (Kaggle layout, full-size 16-bit fields or external data).
        dest: the ``.zarr`` directory, a ``file://`` URL, or any fsspec URL (``s3://bucket/hpa.zarr``:
            converted into a local staging store, resumable, then uploaded; see :func:`upload_store`).
        storage_options: fsspec options for a URL ``dest`` (credentials, endpoint_url, ...).
        resolutions: output sides.
        scheduler: a dask.distributed scheduler address; ``None`` runs local worker processes.
        workers: local worker processes (default: CPU count; 1 runs in this process).
        block_size: samples per shard and per task.
        progress: show a tqdm bar (samples/s).
        generic: a :class:`~micro_bench_hpa.generic.GenericOptions` (labels table, classes,
            channels, pattern, fit, 16-bit rule): any layout; ``None``: the Kaggle HPA layout.

    Returns:
        The report written to ``dest/convert_report.json``: counts, skipped samples with reasons.
    """

    from micro_bench_hpa.location import is_remote, local_path

    if is_remote(dest):
        staging = _staging(str(dest))
        report = convert(src, staging, resolutions=resolutions, scheduler=scheduler, workers=workers,
                         block_size=block_size, progress=progress, generic=generic)
        upload_store(staging, str(dest), storage_options)
        shutil.rmtree(staging, ignore_errors=True)
        return {**report, "uploaded_to": str(dest)}
    from micro_bench.runfolder import holder, run_lock

    dest = local_path(dest)
    check_destination(dest)
    with run_lock(dest, wait=False) as held:  # .locks/<name>.lock beside the store; freed if we die
        if not held:
            raise StoreError(f"{dest}: another conversion into it is running ({holder(dest)}); wait "
                             "for it to finish, or convert into another folder")
        if generic is not None:
            from micro_bench_hpa.generic import RESIZE, create_generic_store

            group, plan, res = create_generic_store(src, dest, generic, resolutions, block_size)
            return _run_jobs(dest, group, plan.table.ids, plan.files, res, RESIZE, plan.issues, scheduler, workers,
                             progress, layout=plan.layout, shape=(len(plan.channels), plan.dtype))
        return _convert_here(src, dest, resolutions, scheduler, workers, block_size, progress)


def _synth_attrs(src: str | Path) -> dict[str, Any]:
    """``{"synth": ...}`` for a folder ``micro-bench data synth --png`` wrote (its marker file), so
    that the store says its pixels are hpa_synth's, not HPA images; ``{}`` otherwise."""

    marker = Path(src) / SYNTH_MARKER
    try:
        record = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
    except (OSError, ValueError):
        record = None
    return {"synth": {**record, "from_png": True}} if isinstance(record, dict) else {}


def _convert_here(src: str | Path, dest: Path, resolutions: Sequence[int], scheduler: str | None,
                  workers: int | None, block_size: int, progress: bool) -> dict[str, Any]:
    """:func:`convert` into a local ``dest``, under its lock."""
    res = sorted({int(r) for r in resolutions}, reverse=True)
    plan = plan_conversion(src, min_side=res[0])
    if not plan.ids:
        raise SourceError(_nothing_to_convert(src, plan))
    group = create_store(
        dest,
        ids=plan.ids,
        labels=plan.labels,
        resolutions=res,
        source=str(Path(src).resolve().name),
        attrs={"label_csv": plan.label_csv.name, "intensity_rule": INTENSITY_RULE, "resize": RESIZE,
               **_synth_attrs(src)},
        block_size=block_size,
        digest="xxh3-64",
    )
    method = str(group.attrs.get("resize", "bilinear"))  # a resumed store keeps its own (v1, v2: bilinear)
    if method not in RESIZE_METHODS:
        raise StoreError(f"{dest}: attribute resize is {method!r}, expected one of {', '.join(RESIZE_METHODS)}")
    return _run_jobs(dest, group, plan.ids, plan.paths, res, method, plan.issues, scheduler, workers, progress)


def _run_jobs(dest: Path, group: Any, ids: Sequence[str], paths: Sequence[Any], res: Sequence[int], method: str,
              issues: list[Issue], scheduler: str | None, workers: int | None, progress: bool,
              layout: Any = None, shape: tuple[int, str] = (4, "uint8")) -> dict[str, Any]:
    """Convert the pending blocks of ``group`` (one task each), seal the store, write the report."""
    from tqdm.auto import tqdm

    todo = pending_blocks(group)
    _check_space(dest, sum(b - a for a, b in todo), res, shape[0] * np.dtype(shape[1]).itemsize)
    jobs = [(str(dest), a, list(ids[a:b]), list(paths[a:b]), res, method, layout, shape) for a, b in todo]
    sizes = [b - a for a, b in todo]
    from micro_bench_dask.limits import cap_workers

    n_workers = cap_workers(workers, len(jobs), "block(s) to convert", lambda line: sys.stderr.write(line + "\n"))
    bar = tqdm(total=len(ids), initial=len(ids) - sum(sizes), unit="sample", disable=None if progress else True, desc="convert")
    results: list[Any] = []
    try:
        if scheduler:
            results = _run_distributed(_tasks(jobs), sizes, scheduler, bar.update)
        elif n_workers <= 1:  # in this process, without dask's scheduling (and its imports)
            for job, size in zip(jobs, sizes, strict=True):
                results.append(convert_block(*job))
                bar.update(size)
        else:
            results = _run_local(_tasks(jobs), sizes, n_workers, bar.update)
    finally:
        bar.close()
    written = {f: entry for _, shards in results for f, entry in shards.items()}
    seal(dest, written)  # shard_manifest.json: datasets refuse a shard that changes afterwards
    report = _report(dest, issues)
    if report["written"] == 0:  # every sample failed when decoded: a problem of the whole source
        raise SourceError(_none_written(dest, report))
    return report


def _none_written(dest: Path, report: dict[str, Any]) -> str:
    decoded = _decode_issues(dest)
    kinds: dict[str, int] = {}
    for kind, _, _ in decoded:
        kinds[kind] = kinds.get(kind, 0) + 1
    kind, sid, detail = decoded[0] if decoded else ("?", "?", "?")
    return (f"{dest}: no sample could be converted: all {report['skipped_after_decode']} failed when decoded "
            f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); first: {kind} {sid}: {detail}; "
            f"the store holds no usable sample (report: {dest / 'convert_report.json'})")


def _staging(url: str) -> Path:
    """The local folder a conversion to ``url`` is written to (and resumed in) before upload."""
    import hashlib

    base = Path(os.environ.get("MICRO_BENCH_CACHE") or Path.home() / ".cache" / "micro-bench")
    return base / "staging" / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.zarr"


def upload_store(local: str | Path, url: str, storage_options: Mapping[str, Any] | None = None) -> int:
    """Copy a finished local store to ``url``, file by file: chunks and shards first, the
    ``zarr.json`` metadata after them and the root ``zarr.json`` last, so an interrupted upload is
    never taken for a complete store (rerunning the conversion uploads again). Returns the number
    of files."""
    from micro_bench_hpa.location import filesystem

    fs, root = filesystem(url, storage_options)
    local = Path(local)
    files = sorted(p for p in local.rglob("*") if p.is_file() and not p.name.endswith(".partial"))
    order = sorted(files, key=lambda p: (p == local / "zarr.json", p.name == "zarr.json", str(p)))
    for path in order:
        target = f"{root.rstrip('/')}/{path.relative_to(local).as_posix()}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), target)
    return len(order)


def _decode_issues(dest: Path) -> list[Issue]:
    """The decode failures the blocks recorded (``convert_issues/<start>.json``), in block order."""
    decode: list[Issue] = []
    for f in sorted((dest / "convert_issues").glob("*.json")):
        decode += [tuple(i) for i in json.loads(f.read_text())]
    return decode


def _report(dest: Path, issues: list[Issue]) -> dict[str, Any]:
    status = read_array(open_store(dest), "status")
    skipped = sorted(issues + _decode_issues(dest))
    by_kind: dict[str, int] = {}
    for kind, _, _ in skipped:
        by_kind[kind] = by_kind.get(kind, 0) + 1
    report = {
        "written": int((status == DONE).sum()),
        "skipped_after_decode": int((status == BAD).sum()),
        "problems": by_kind,
        "skipped": [{"kind": k, "id": i, "detail": d} for k, i, d in skipped],
    }
    _write_json(dest / "convert_report.json", report)
    return report
