"""The local cluster of ``--executor dask`` without ``--scheduler``.

One nanny-managed worker process per slot, one thread each (a run is one task), no dashboards.
Each worker's BLAS/OpenMP pools and joblib's "all cores" (``n_jobs=-1``, through
``LOKY_MAX_CPU_COUNT``) are sized to ``threads_per_run``, so N workers use N x threads cores,
not N x all cores.

Start-up is paid once: on CPUs the workers are forked from one forkserver that has already
imported what runs need (:mod:`micro_bench_dask.warm`, the benchmark's component modules) and
built the caller's plugin host, instead of N spawned interpreters importing it all again (the
forkserver starts first and warms while the scheduler starts). GPU clusters keep ``spawn``
(a CUDA context must not be forked). Workers get the caller's environment as it is when the
cluster starts, as spawned processes would. The forkserver lives as long as the calling process:
a later cluster of the same process reuses it (with the first one's preloads and BLAS sizes).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["local_cluster", "preload_modules", "start_method"]

_PRELOAD_ENV = "MICRO_BENCH_DASK_RECIPE"  # the host recipe the forkserver builds (JSON)


def _blas_env(threads: int) -> dict[str, str]:
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LOKY_MAX_CPU_COUNT")
    return {k: str(threads) for k in names}


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def preload_modules(components: Iterable[Any]) -> list[str]:
    """The forkserver's preload list: distributed, :mod:`micro_bench_dask.warm`, and the modules
    that define ``components`` (``"module:attr"`` factories or callables)."""
    names = ["distributed", "micro_bench_dask.warm"]
    for factory in components:
        module = factory.partition(":")[0] if isinstance(factory, str) else getattr(factory, "__module__", None)
        if module and module not in names and module != "__main__":
            names.append(module)
    return names


def start_method(gpus: int) -> str:
    """``forkserver`` on CPUs where the platform has it, else ``spawn``."""
    import multiprocessing

    return "forkserver" if not gpus and "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _start_forkserver(preload: list[str], threads: int, recipe: Any) -> None:
    """Start (once per process) the forkserver that workers fork from, with the BLAS sizes and
    the recipe in its environment; it imports ``preload`` in the background."""
    import multiprocessing
    from multiprocessing import forkserver

    # Started before distributed first asks for the context (which then imports its optional
    # packages here, half a second, while the forkserver warms up on another core).
    multiprocessing.get_context("forkserver").set_forkserver_preload(preload)
    with _environ({**_blas_env(threads), _PRELOAD_ENV: json.dumps(recipe.__dict__)}):
        forkserver.ensure_running()


def local_cluster(workers: int | None, threads: int, gpus: int, recipe: Any, components: Iterable[Any]) -> Any:
    """A ``SpecCluster`` of nanny workers (or dask-cuda's ``LocalCUDACluster`` for GPUs when
    installed); call under ``dask.config.set({"distributed.worker.multiprocessing-method":
    start_method(gpus)})`` for as long as the cluster lives (restarted workers use it too)."""
    from distributed import Nanny, Scheduler, SpecCluster

    env = _blas_env(threads)
    if gpus:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            pass
        else:  # pragma: no cover - needs GPUs and dask-cuda
            return LocalCUDACluster(n_workers=workers or gpus, threads_per_worker=threads,
                                    resources={"GPU": 1}, dashboard_address=":0")
    else:
        env = {**os.environ, **env}  # forked workers see the caller's environment of now
        if start_method(gpus) == "forkserver":
            _start_forkserver(preload_modules(components), threads, recipe)
    n = workers or (gpus or max(1, (os.cpu_count() or 1) // threads))
    specs = {}
    for i in range(n):
        worker_env = dict(env, **({"CUDA_VISIBLE_DEVICES": str(i % gpus)} if gpus else {}))
        specs[f"run-worker-{i}"] = {"cls": Nanny, "options": {
            "nthreads": 1, "env": worker_env, "dashboard": False, "silence_logs": logging.WARNING,
            "resources": {"GPU": 1} if gpus else None}}
    # ":0": the scheduler's HTTP routes (health, metrics) on a free port, not 8787 (may be taken)
    scheduler = {"cls": Scheduler, "options": {"dashboard": False, "dashboard_address": ":0"}}
    return SpecCluster(workers=specs, scheduler=scheduler, silence_logs=logging.WARNING)


def recipe_from_environment() -> dict[str, Any] | None:
    """The recipe :func:`_start_forkserver` left for the forkserver (``None`` elsewhere)."""
    raw = os.environ.get(_PRELOAD_ENV)
    return json.loads(raw) if raw else None
