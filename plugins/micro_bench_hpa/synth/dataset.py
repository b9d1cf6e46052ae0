"""The ``hpa_synth`` dataset factory: generate once into a cache folder, then reuse it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from micro_bench_hpa.synth.render import GENERATOR_VERSION

__all__ = ["cache_root", "hpa_synth", "synth_store_path"]


def cache_root() -> Path:
    """``$MICRO_BENCH_CACHE`` or ``~/.cache/micro-bench``."""
    env = os.environ.get("MICRO_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "micro-bench"


def synth_store_path(n: int, resolution: int, seed: int, difficulty: float,
                     cache_dir: str | Path | None = None) -> Path:
    """Where the store for these parameters lives: ``<cache>/hpa_synth/<hash>.zarr``.

    The hash covers the parameters and :data:`~micro_bench_hpa.synth.render.GENERATOR_VERSION`,
    so a new generator never reuses old pixels.
    """
    key = json.dumps({"n": n, "resolution": resolution, "seed": seed, "difficulty": float(difficulty),
                      "generator_version": GENERATOR_VERSION}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    return root / "hpa_synth" / f"n{n}-r{resolution}-s{seed}-{digest}.zarr"


def check_hpa_synth(n: int = 600, resolution: int = 64, seed: int = 0, difficulty: float = 0.5,
                    cache_dir: str | Path | None = None, external: Mapping[str, Any] | None = None,
                    stats_resolution: str | int = "largest") -> None:
    """Refuse parameters :func:`hpa_synth` would refuse, without rendering anything (``validate``)."""
    from micro_bench.errors import ParameterError
    from micro_bench_hpa.synth.generate import _check

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"hpa_synth: seed must be an integer >= 0, got {seed!r}")
    if stats_resolution not in ("largest", "served", resolution):
        raise ParameterError(f"hpa_synth: stats_resolution must be 'largest', 'served' or {resolution} (the one "
                             f"rendered resolution), got {stats_resolution!r}")
    _check(n, [resolution], difficulty)
    if external is not None:
        extra = _external(external, seed)
        _check(int(extra.get("n", n)), [resolution], float(extra.get("difficulty", difficulty)))


def _external(external: Any, seed: int) -> dict[str, Any]:
    from micro_bench.errors import ParameterError

    extra = dict(external) if isinstance(external, Mapping) else None
    if extra is None or set(extra) - {"n", "seed", "difficulty"} or "seed" not in extra or extra["seed"] == seed:
        raise ParameterError(f"hpa_synth: external must be a mapping of n, seed (not the main seed {seed}) and "
                             f"optionally difficulty, got {external!r}")
    return extra


def hpa_synth(n: int = 600, resolution: int = 64, seed: int = 0, difficulty: float = 0.5,
              cache_dir: str | Path | None = None,
              external: Mapping[str, Any] | None = None,
              stats_resolution: str | int = "largest"):  # noqa: ANN201 - HPADataset, imported lazily
    """The embedded synthetic HPA-like dataset.

    Label sets are real HPA rows (stratified draw, see :mod:`micro_bench_hpa.synth.labels`);
    images are rendered cells whose green channel shows one pattern per label.

    Args:
        n: number of samples.
        resolution: image side in pixels.
        seed: seed of the label draw and the rendering.
        difficulty: ``0..1``: noise, blur, intensity jitter, lower pattern contrast.
        cache_dir: cache folder (default ``$MICRO_BENCH_CACHE`` or ``~/.cache/micro-bench``).
        external: a second draw standing in for the HPA v18 external data, e.g. ``{n: 600, seed: 1}``
            (``n``, ``seed``, ``difficulty``; the rest as this one), added to the training part only
            (:class:`~micro_bench_hpa.external.WithExternal`).
        stats_resolution: as :func:`micro_bench_hpa.dataset.hpa`'s; the store holds one
            resolution, so ``largest`` and ``served`` give the same statistics.

    Returns:
        ``micro_bench_hpa.dataset.HPADataset`` over the cached store. The first call renders
        into a temporary folder next to the cache entry and renames it into place, so an
        interrupted generation is never reused; later calls open the store directly.
    """
    from micro_bench_hpa.dataset import HPADataset
    from micro_bench_hpa.synth.generate import generate_store

    if external is not None:
        from micro_bench_hpa.external import WithExternal

        extra = _external(external, seed)
        main = hpa_synth(n, resolution, seed, difficulty, cache_dir, stats_resolution=stats_resolution)
        other = hpa_synth(int(extra.get("n", n)), resolution, int(extra["seed"]),
                          float(extra.get("difficulty", difficulty)), cache_dir, stats_resolution=stats_resolution)
        return WithExternal(main, other, name=f"hpa_synth(seed={extra['seed']})")

    check_hpa_synth(n, resolution, seed, difficulty, cache_dir, stats_resolution=stats_resolution)
    path = synth_store_path(n, resolution, seed, difficulty, cache_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp's 0700 would stay on the cached store
        try:
            generate_store(tmp / "store.zarr", n=n, resolutions=resolution, seed=seed,
                           difficulty=difficulty)
            try:
                os.replace(tmp / "store.zarr", path)
            except OSError:  # another process finished first: keep theirs
                if not path.exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return HPADataset(path, resolution, name="hpa_synth", stats_resolution=stats_resolution)
