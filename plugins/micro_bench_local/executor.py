"""The ``local`` executor: a benchmark's rows here, one after another, with the time left; rows
finished already are reused, and a row another process is computing is waited for at the end."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from micro_bench.config import BenchmarkConfig
from micro_bench.results import RunResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["run_local"]


def _fmt_seconds(seconds: float) -> str:
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


def run_local(
    config: BenchmarkConfig, out: Path, *, force: bool, host: Host, progress: bool,
    echo: Callable[[str], None] | None, options: Mapping[str, Any] | None = None,
) -> list[RunResult]:
    """Run every row of ``config`` in this process, in order (``options``: none apply)."""
    from micro_bench.provenance import component_distributions
    from micro_bench.results import read_result
    from micro_bench.runner import build_dataset, run_key, run_one

    def run_directory(cfg: Any, out: Path, dataset: Any, host: Host) -> Path:  # where cfg's result is
        return Path(out) / cfg.benchmark / run_key(cfg, dataset.fingerprint, component_distributions(cfg, host))

    datasets: dict[str, Any] = {}
    for cfg in config.runs:
        if repr(cfg.dataset.to_dict()) not in datasets:
            datasets[repr(cfg.dataset.to_dict())] = build_dataset(cfg, host)
    # Rows finished already are reused, not recomputed: the time left counts only the others,
    # and a reused row prints one line.
    reuse = {i: not force and read_result(run_directory(cfg, out, datasets[repr(cfg.dataset.to_dict())],
                                                        host)) is not None
             for i, cfg in enumerate(config.runs, start=1)}
    results: dict[int, RunResult] = {}
    total, todo, computed, spent = len(config.runs), sum(not r for r in reuse.values()), 0, 0.0
    # Two processes on one --out split the work: a run another process holds is skipped at first
    # and waited for at the end (then reused). Under torchrun the ranks must stay in step: no skip.
    order = [(i, True) for i in range(1, total + 1)]
    skip, started_wall = os.environ.get("WORLD_SIZE", "1") == "1", time.time()
    while order:
        i, first = order.pop(0)
        cfg = config.runs[i - 1]
        if echo and first and not reuse[i]:
            eta = f", about {_fmt_seconds(spent / computed * (todo - computed))} left" if computed else ""
            echo(f"[run {i}/{total}] {cfg.display}{eta}")
        t0 = time.perf_counter()
        # The run's log lines (one per epoch: losses, lr, samples/s) also go to the terminal.
        result = run_one(cfg, out, host=host, dataset=datasets[repr(cfg.dataset.to_dict())], force=force,
                         position=(i, total), progress=progress, wait=not (skip and first),
                         fresh_since=None if first else started_wall,  # waited for: reuse
                         echo=(lambda line: echo(f"    {line}")) if echo else None)
        if result is None:
            if echo:
                echo(f"[run {i}/{total}] {cfg.display}: being computed by another process; later")
            order.append((i, False))
            continue
        if result.cached:
            if echo:
                echo(f"[run {i}/{total}] {cfg.display}: reused finished run {result.key} (use --force to recompute)")
        else:
            computed, spent = computed + 1, spent + time.perf_counter() - t0
        results[i] = result
    return [results[i] for i in range(1, total + 1)]
