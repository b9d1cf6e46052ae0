"""The public Python API (re-exported by :mod:`micro_bench`): load a benchmark, run it, read
its results, or build one run's components (as the bundled ``lr-find`` command does).

Every function takes the :class:`~micro_bench.host.Host` whose plugins it uses; without one a
host is loaded (bundled plugins, entry points, ``MICRO_BENCH_PLUGINS_DIR``).

Example::

    import micro_bench as mb

    host = mb.Host.load()
    config = mb.load_benchmark("hpa_table4", profile="smoke", overrides=["trainer.epochs=1"], host=host)
    results = mb.run(config, "runs", host=host)
    print(mb.read_results("runs/hpa_table4")[0].metrics["f1_macro"])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.build import Prepared
    from micro_bench.config import BenchmarkConfig, RunConfig
    from micro_bench.host import Host
    from micro_bench.results import RunResult

__all__ = ["load_benchmark", "prepare_run", "read_results", "run"]


def _host(host: Host | None) -> Host:
    from micro_bench.host import Host

    return host if host is not None else Host.load()


def load_benchmark(name_or_path: str | Path, *, profile: str | None = None, overrides: Sequence[str] = (),
                   host: Host | None = None) -> BenchmarkConfig:
    """Read a benchmark (a YAML path or a bundled name such as ``hpa_table4``), merge ``profile``
    and ``--set`` style ``overrides``, and validate it as ``micro-bench validate`` does."""
    from micro_bench.benchmarks import resolve_benchmark
    from micro_bench.config import load_config
    from micro_bench.validate import validate_config

    host = _host(host)
    config = load_config(resolve_benchmark(name_or_path, host), profile=profile, overrides=overrides, host=host)
    validate_config(config, host)
    return config


def run(config: BenchmarkConfig, out: str | Path = "runs", *, host: Host | None = None, force: bool = False,
        executor: str = "local", scheduler: str | None = None, progress: bool = True,
        echo: Callable[[str], None] | None = print,
        executor_options: Mapping[str, Any] | None = None) -> list[RunResult]:
    """Run every row of ``config`` (finished runs are reused unless ``force``); one
    :class:`~micro_bench.results.RunResult` per run, in order (a row with ``repeats: N`` gives N
    consecutive results with the row's label). ``executor_options`` go to a
    plugin's executor (the dask one's: ``workers``, ``threads_per_run``, ``plugins_dir``)."""
    from micro_bench.runner import run_benchmark

    return run_benchmark(config, out, host=_host(host), force=force, executor=executor, scheduler=scheduler,
                         progress=progress, echo=echo, executor_options=executor_options)


def read_results(benchmark_dir: str | Path) -> list[RunResult]:
    """The finished results of ``<out>/<benchmark>`` in table order, every repeat of a row in
    seed order (runs not finished are left out)."""
    from micro_bench.results import read_index, read_result

    folder = Path(benchmark_dir)
    found = [read_result(folder / key) for row in read_index(folder)["rows"]
             for key in (row.get("repeats") or [row["key"]])]
    return [r for r in found if r is not None]


def prepare_run(run_config: RunConfig, *, host: Host | None = None) -> Prepared:
    """Build one run's components (dataset, split, model, trainer, loss, schedule, transform, TTA,
    metrics) without training: what a command such as ``lr-find`` needs."""
    from micro_bench.build import prepare

    return prepare(run_config, _host(host))
