"""Runs of a benchmark as dask.distributed tasks.

Without ``--scheduler`` a local cluster of worker processes is started
(:mod:`micro_bench_dask.cluster`: one per GPU when there are GPUs, else ``cores //
threads_per_run``; on CPUs forked from one forkserver that has imported what runs need).
Every run is one task: a run whose trainer declares ``accelerator: True`` (the ``torch`` trainer, unless ``device: cpu``) asks for one ``GPU`` worker
resource where the workers have it, so two runs never share a GPU. A task whose worker dies is
retried (``retries``) and the run resumes from its last checkpoint in the shared runs folder;
the per-run lock keeps two workers from computing one run. Workers rebuild the caller's plugin
set (bundled, entry points, ``--plugins-dir``, directly registered modules) from a
:class:`HostRecipe` once per process, share a dataset between the runs they compute (as the
serial loop does), and run dask computations inside a run on their own threads (a run's arrays
stay in its worker). Results land in the same run folders with the same keys as the serial
executor, so serial and distributed runs reuse each other.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from micro_bench.errors import MicroBenchError

__all__ = ["HostRecipe", "gpu_count", "recipe_of", "run_dask"]

_HOSTS: dict[HostRecipe, Any] = {}  # per worker process: hosts rebuilt from recipes


@dataclass(frozen=True)
class HostRecipe:
    """What a worker needs to rebuild the caller's :class:`~micro_bench.host.Host`."""

    builtins: bool = True
    entrypoints: bool | None = None
    plugins_dir: str | None = None
    modules: tuple[str, ...] = ()

    def build(self) -> Any:
        import importlib

        from micro_bench.host import Host

        if self not in _HOSTS:
            _HOSTS[self] = Host.load(
                builtins=self.builtins, entrypoints=self.entrypoints, plugins_dir=self.plugins_dir,
                plugins=[importlib.import_module(m) for m in self.modules])
        return _HOSTS[self]


def recipe_of(host: Any, plugins_dir: str | Path | None = None) -> HostRecipe:
    """The recipe of ``host``: the sources it loaded from, and the modules registered directly."""
    infos = host.plugin_infos()
    folder = plugins_dir or next((str(Path(i.module).parent) for i in infos if i.source == "plugins_dir"), None)
    registered = {i.name for i in infos if i.source == "registered"}
    modules = tuple(plugin.__name__ for name, plugin in host.pm.list_name_plugin()
                    if name in registered and isinstance(plugin, types.ModuleType))
    return HostRecipe(builtins=any(i.source == "builtin" for i in infos),
                      entrypoints=any(i.source == "entrypoint" for i in infos),
                      plugins_dir=str(folder) if folder else None, modules=modules)


def gpu_count() -> int:
    """GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else torch's count; 0 without
    an NVIDIA device node (``/dev/nvidia0``...), without importing torch (a second and a half)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if not any(Path("/dev").glob("nvidia[0-9]*")) and "torch" not in sys.modules:
        return 0
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    return int(torch.cuda.device_count())


# Per worker thread (a remote worker may run several tasks at once): datasets, shared by the runs
# it computes as the serial loop shares one between rows.
_DATASETS: dict[tuple[HostRecipe, str, int], Any] = {}


def _run_remote(recipe: HostRecipe, cfg: Any, out: str, force: bool, position: tuple[int, int]) -> dict[str, Any]:
    import dask

    from micro_bench.runner import build_dataset, run_one

    host = recipe.build()
    started = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        key = (recipe, repr(cfg.dataset.to_dict()), threading.get_ident())
        if key not in _DATASETS:
            _DATASETS[key] = build_dataset(cfg, host)
        result = run_one(cfg, Path(out), host=host, dataset=_DATASETS[key], force=force, position=position,
                         progress=False, echo=None)
    assert result is not None  # wait=True: the run's lock is always taken
    data = result.to_dict()
    data["cached"], data["wall_s"] = result.cached, time.perf_counter() - started
    return data


def _factories(config: Any, host: Any) -> list[Any]:
    """The factories of every component the runs use (their modules are preloaded on workers)."""
    from micro_bench.components import configured

    found = []
    for cfg in config.runs:
        for key, entry in configured().items():
            part = cfg.components.get(key)
            if part is not None:
                try:
                    found.append(host.registries[entry.name].spec(part.name).factory)
                except Exception:  # noqa: BLE001,S112 - an unknown name fails in the run, with its message
                    continue
    return found


def _uses_gpu(cfg: Any, host: Any) -> bool:
    trainer = cfg.trainer
    if trainer is None or str(trainer.params.get("device", "auto")).startswith("cpu"):
        return False
    return bool(host.registries["trainer"].spec(trainer.name).extra.get("accelerator", False))


def run_dask(config: Any, out: Path, *, host: Any, force: bool, progress: bool,
             echo: Callable[[str], None] | None, options: Mapping[str, Any]) -> list[Any]:
    """Run every row of ``config`` as a task; ``options``: scheduler, workers, threads_per_run,
    retries, plugins_dir. Returns the results in row order."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise MicroBenchError("--executor dask needs dask.distributed: pip install 'micro-bench[distributed]'") from exc
    import dask

    from micro_bench.results import RunResult
    from micro_bench_dask.cluster import local_cluster, start_method

    address = options.get("scheduler")
    threads = int(options.get("threads_per_run") or 1)
    recipe = recipe_of(host, options.get("plugins_dir"))
    with ExitStack() as stack:
        if address:
            from micro_bench_dask.connect import check_scheduler

            timeout = str(options.get("connect_timeout", "")).removesuffix("s")
            # form, connect timeout, a dask scheduler answering
            address = check_scheduler(address, float(timeout) if timeout.replace(".", "", 1).isdigit() else None)
            try:
                client = stack.enter_context(Client(address, timeout=options.get("connect_timeout", "10s")))
            except (OSError, TimeoutError) as exc:
                raise MicroBenchError(f"cannot reach the dask scheduler at {address}: {exc}") from None
        else:
            gpus = gpu_count()  # restarted workers start with the same method: keep it set throughout
            stack.enter_context(dask.config.set({"distributed.worker.multiprocessing-method": start_method(gpus)}))
            from micro_bench_dask.limits import cap_workers

            asked = options.get("workers")
            n = asked if gpus else cap_workers(asked, len(config.runs), "run(s)", echo, per_worker=threads)
            cluster = stack.enter_context(local_cluster(n, threads, gpus, recipe, _factories(config, host)))
            client = stack.enter_context(Client(cluster))
        workers = client.scheduler_info().get("workers", {})
        has_gpu = any((w.get("resources") or {}).get("GPU") for w in workers.values())
        total, tag = len(config.runs), uuid.uuid4().hex[:8]
        if echo:
            echo(f"sending {total} runs to {len(workers)} dask worker(s) at {client.scheduler.address}")
        futures = {}
        for i, cfg in enumerate(config.runs, start=1):
            resources = {"GPU": 1} if has_gpu and _uses_gpu(cfg, host) else None
            future = client.submit(_run_remote, recipe, cfg, str(Path(out).resolve()), force, (i, total),
                                   key=f"micro-bench-{config.name}-{i}-{tag}", pure=False,
                                   retries=int(options.get("retries", 2)), resources=resources)
            futures[future] = i
        results: dict[int, Any] = {}
        for done, future in enumerate(as_completed(futures), start=1):
            i = futures[future]
            data = future.result()
            cached, wall = data.pop("cached", False), data.pop("wall_s", 0.0)
            result = RunResult.from_dict(data)
            result.cached, result.label = cached, config.runs[i - 1].label
            results[i] = result
            if echo:
                state = "reused finished run" if cached else f"finished in {wall:.0f}s"
                echo(f"[{done}/{total} done] {result.label}: {state} ({result.key})")
        return [results[i] for i in range(1, total + 1)]
