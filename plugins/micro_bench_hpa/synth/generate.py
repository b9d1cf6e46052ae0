"""Write a synthetic dataset: the micro-bench/hpa zarr store, or the Kaggle PNG layout.

The store is written through :mod:`micro_bench_hpa.store` (the same format as
``micro-bench data convert``), block by block, so an interrupted generation resumes where it
stopped and ends with the same bytes. Every resolution is rendered directly from the same
scene (see :mod:`micro_bench_hpa.synth.render`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from micro_bench.errors import ParameterError
from micro_bench_hpa.synth.labels import draw_label_sets, load_hpa_labels
from micro_bench_hpa.synth.render import GENERATOR_VERSION, render_batch

__all__ = ["SOURCE", "generate_store", "synth_ids", "synth_labels", "write_png_layout"]

SOURCE = "hpa_synth"
CHANNEL_NAMES = ("red", "green", "blue", "yellow")


def synth_ids(n: int, seed: int) -> list[str]:
    """Sample ids ``synth-s<seed>-<index>`` (zero-padded index)."""
    return [f"synth-s{seed}-{i:06d}" for i in range(n)]


def synth_labels(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows (n,) int64, labels (n, 28) bool)``: drawn HPA rows and their label sets."""
    rows = draw_label_sets(n, seed=seed)
    _, table = load_hpa_labels()
    return rows, table[rows].copy()


def _check(n: int, resolutions: Sequence[int], difficulty: float) -> list[int]:
    if n < 1:
        raise ParameterError(f"hpa_synth: n must be >= 1, got {n}")
    if not 0.0 <= difficulty <= 1.0:
        raise ParameterError(f"hpa_synth: difficulty must be in [0, 1], got {difficulty}")
    res = sorted({int(r) for r in resolutions}, reverse=True)
    if not res or min(res) < 8:
        raise ParameterError(f"hpa_synth: resolutions must be integers >= 8, got {list(resolutions)}")
    return res


def generate_store(
    dest: str | Path,
    *,
    n: int,
    resolutions: int | Sequence[int] = 64,
    seed: int = 0,
    difficulty: float = 0.5,
    progress: bool = False,
    workers: int = 1,
) -> Path:
    """Render ``n`` samples into a micro-bench/hpa store at ``dest``.

    Args:
        dest: the ``.zarr`` directory (created; an unfinished one with the same parameters
            resumes).
        n: number of samples.
        resolutions: side length(s) to store, e.g. ``64`` or ``(256, 64)``.
        seed: seed of the label draw and of every sample.
        difficulty: ``0..1`` (see :func:`~micro_bench_hpa.synth.render.render_sample`).
        progress: show a tqdm bar (on a terminal only).
        workers: processes rendering blocks in parallel (each writes whole shards; the store's
            bytes do not depend on it).

    Returns:
        ``dest`` as a Path. Root attributes record ``synth`` = ``{n, seed, difficulty,
        generator_version, hpa_rows}`` (``hpa_rows``: the drawn rows of the HPA label table).
    """
    from threadpoolctl import threadpool_limits

    from micro_bench_hpa.integrity import seal
    from micro_bench_hpa.store import create_store, pending_blocks, write_samples

    res = _check(n, [resolutions] if isinstance(resolutions, int) else resolutions, difficulty)
    rows, labels = synth_labels(n, seed)
    attrs = {"synth": {"n": n, "seed": seed, "difficulty": difficulty,
                       "generator_version": GENERATOR_VERSION, "hpa_rows": rows.tolist()}}
    group = create_store(dest, ids=synth_ids(n, seed), labels=labels, resolutions=res,
                         source=f"{SOURCE}(seed={seed}, difficulty={difficulty})", attrs=attrs)
    todo = pending_blocks(group)
    bar = _bar(progress, sum(b - a for a, b in todo), "hpa_synth")
    jobs = [(str(dest), start, labels[start:stop], res, seed, difficulty) for start, stop in todo]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from micro_bench_hpa.convert import _start_method

        context = multiprocessing.get_context(_start_method())
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
            for done in pool.map(_render_block, *zip(*jobs, strict=True)):
                bar.update(done)
    else:
        with threadpool_limits(1):  # small matrix products: threads only add overhead
            for start, stop in todo:
                images = {r: render_batch(labels[start:stop], resolution=r, seed=seed, start=start,
                                          difficulty=difficulty) for r in res}
                write_samples(group, start, images)
                bar.update(stop - start)
    bar.close()
    seal(dest)
    return Path(dest)


def _render_block(dest: str, start: int, labels: np.ndarray, res: Sequence[int], seed: int,
                  difficulty: float) -> int:
    """In a worker process: render and write one block; returns its sample count."""
    from threadpoolctl import threadpool_limits

    from micro_bench_hpa.store import write_samples

    with threadpool_limits(1):
        images = {r: render_batch(labels, resolution=r, seed=seed, start=start, difficulty=difficulty)
                  for r in res}
    write_samples(dest, start, images)
    return len(labels)


def write_png_layout(
    dest: str | Path,
    *,
    n: int,
    resolution: int = 512,
    seed: int = 0,
    difficulty: float = 0.5,
    progress: bool = False,
) -> Path:
    """Write the Kaggle layout: ``dest/train.csv`` (``Id,Target``) and
    ``dest/train/<id>_{red,green,blue,yellow}.png`` (8-bit grayscale, ``R x R``).

    The pixels are those :func:`generate_store` writes for the same parameters, so a
    conversion of this folder reproduces the store.
    """
    from PIL import Image
    from threadpoolctl import threadpool_limits

    _check(n, [resolution], difficulty)
    dest = Path(dest)
    (dest / "train").mkdir(parents=True, exist_ok=True)
    _, labels = synth_labels(n, seed)
    ids = synth_ids(n, seed)
    bar = _bar(progress, n, "hpa_synth png")
    with threadpool_limits(1):
        for i in range(n):
            img = render_batch(labels[i : i + 1], resolution=resolution, seed=seed, start=i,
                               difficulty=difficulty)[0]
            for c, name in enumerate(CHANNEL_NAMES):
                Image.fromarray(img[c], mode="L").save(dest / "train" / f"{ids[i]}_{name}.png")
            bar.update(1)
    bar.close()
    with open(dest / "train.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Id", "Target"])
        for sample_id, row in zip(ids, labels, strict=True):
            writer.writerow([sample_id, " ".join(str(k) for k in np.flatnonzero(row))])
    # What made these PNGs: `data convert` copies it into the store, whose tables then say hpa_synth.
    from micro_bench_hpa.convert import SYNTH_MARKER
    (dest / SYNTH_MARKER).write_text(json.dumps({"n": n, "seed": seed, "difficulty": difficulty,
                                                 "resolution": resolution, "generator_version": GENERATOR_VERSION}))
    return dest


def _bar(enabled: bool, total: int, desc: str):  # noqa: ANN202 - tqdm or a no-op
    from tqdm.auto import tqdm

    # disable=None: a bar only on a terminal, never ``\r`` lines in a pipe or a log file
    return tqdm(total=total, desc=desc, unit="img", disable=None if enabled else True)
