"""Executors: run a benchmark's rows here, one after another, or on a dask.distributed cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from micro_bench.config import BenchmarkConfig, RunConfig
from micro_bench.errors import MicroBenchError
from micro_bench.results import RunResult

__all__ = ["run_all"]


def _fmt_seconds(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


def _run_local(
    config: BenchmarkConfig, out: Path, *, force: bool, pm: Any, progress: bool,
    echo: Callable[[str], None] | None,
) -> list[RunResult]:
    from micro_bench.runner import build_dataset, run_one

    datasets: dict[str, Any] = {}
    results: list[RunResult] = []
    total = len(config.runs)
    started = time.perf_counter()
    for i, cfg in enumerate(config.runs, start=1):
        ds_key = repr(cfg.dataset.to_dict())
        if ds_key not in datasets:
            datasets[ds_key] = build_dataset(cfg)
        if echo:
            done = time.perf_counter() - started
            eta = f", about {_fmt_seconds(done / (i - 1) * (total - i + 1))} left" if i > 1 else ""
            echo(f"[run {i}/{total}] {cfg.label}{eta}")
        # The run's log lines (one per epoch: losses, lr, samples/s) also go to the terminal.
        result = run_one(cfg, out, pm=pm, dataset=datasets[ds_key], force=force,
                         position=(i, total), progress=progress,
                         echo=(lambda line: echo(f"    {line}")) if echo else None)
        if echo and result.cached:
            echo(f"[run {i}/{total}] {cfg.label}: reused finished run {result.key} (use --force to recompute)")
        results.append(result)
    return results


def _run_remote(cfg: RunConfig, out: str, force: bool, position: tuple[int, int]) -> dict[str, Any]:
    from micro_bench.runner import run_one

    result = run_one(cfg, Path(out), force=force, position=position, progress=False, echo=None)
    data = result.to_dict()
    data["cached"] = result.cached
    return data


def _run_dask(
    config: BenchmarkConfig, out: Path, *, force: bool, scheduler: str | None,
    echo: Callable[[str], None] | None,
) -> list[RunResult]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the [distributed] extra
        raise MicroBenchError("--executor dask needs dask.distributed: pip install 'micro-bench[distributed]'") from exc
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=1)
        client = Client(cluster)
    try:
        total = len(config.runs)
        if echo:
            echo(f"sending {total} runs to {client.scheduler.address}")
        futures = [
            client.submit(_run_remote, cfg, str(out.resolve()), force, (i, total), pure=False)
            for i, cfg in enumerate(config.runs, start=1)
        ]
        results = []
        for cfg, data in zip(config.runs, client.gather(futures), strict=True):
            cached = data.pop("cached", False)
            result = RunResult.from_dict(data)
            result.cached = cached
            result.label = cfg.label
            results.append(result)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_all(
    config: BenchmarkConfig, out: Path, *, force: bool, pm: Any, executor: str,
    scheduler: str | None, progress: bool, echo: Callable[[str], None] | None,
) -> list[RunResult]:
    """Run every row; ``executor`` is ``"local"`` or ``"dask"`` (``scheduler``: a cluster address)."""
    if executor == "local":
        return _run_local(config, out, force=force, pm=pm, progress=progress, echo=echo)
    if executor == "dask":
        return _run_dask(config, out, force=force, scheduler=scheduler, echo=echo)
    raise MicroBenchError(f"unknown executor {executor!r}; expected 'local' or 'dask'")
