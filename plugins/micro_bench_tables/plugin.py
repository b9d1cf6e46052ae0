"""Entry module of the ``tables`` plugin: the paper's tables from a benchmark's results.

After ``micro-bench run`` it writes ``table.md``, ``table.csv`` and ``table.tex`` beside the
benchmark's manifest and returns the table as the terminal shows it; it adds ``micro-bench
tables`` to render every table again from cached results. Imports only the standard library and
:mod:`micro_bench`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

    from micro_bench.config import BenchmarkConfig
    from micro_bench.host import Host
    from micro_bench.results import RunResult

__all__ = ["micro_bench_add_commands", "micro_bench_benchmark_end", "micro_bench_configure", "micro_bench_index_fields"]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench tables`` and ``micro-bench compare``."""
    from micro_bench_tables.cli import tables_command
    from micro_bench_tables.compare import compare_command

    cli.add_command(tables_command)
    cli.add_command(compare_command)


@hookimpl
def micro_bench_configure(config: BenchmarkConfig) -> None:
    """Reject a ``table:`` section these tables cannot render, before any run starts."""
    from micro_bench.errors import ConfigError

    table, labels = config.table, [run.label for run in config.runs]
    if table.get("kind") not in ("metrics", "per_class"):
        raise ConfigError(f"{config.path}: table.kind: expected 'metrics' or 'per_class', got {table.get('kind')!r}")
    if table.get("baseline") is not None and table["baseline"] not in labels:
        raise ConfigError(f"{config.path}: table.baseline: no run labelled {table['baseline']!r}; "
                          f"labels: {', '.join(sorted(labels))}")


@hookimpl
def micro_bench_index_fields(config: BenchmarkConfig, host: Host) -> dict[str, Any]:
    """The manifest fields the tables read: what each metric's spec declares for tables
    (``metric_info``: ``title``, ``per_class``, ``reference``), the reference's example counts
    (``reference_counts_csv``: ``<reference stem>_counts.csv`` beside it, else ``None``) and, only
    when the rows' ``evaluate.ci`` settings differ, each row's (``row_ci``: label -> settings over
    the defaults, or None for ``ci: false``; the manifest's own ``ci`` is the first row's)."""
    from micro_bench.config import check_ci

    counts = None
    if config.reference is not None:
        path = config.reference.with_name(config.reference.stem + "_counts.csv")
        counts = path.read_text(encoding="utf-8") if path.is_file() else None
    info = {m.name: {k: v for k, v in host.registries["metric"].spec(m.name).extra.items()
                     if k in ("title", "per_class", "reference")} for m in config.metrics}
    fields: dict[str, Any] = {"metric_info": info, "reference_counts_csv": counts}
    row_ci = {run.label: check_ci(run.evaluate.get("ci"), f"runs[{run.index}].evaluate.ci") for run in config.runs}
    if len({repr(sorted(ci.items())) if ci is not None else "off" for ci in row_ci.values()}) > 1:
        fields["row_ci"] = row_ci
    return fields


@hookimpl
def micro_bench_benchmark_end(config: BenchmarkConfig, index: Path, results: Sequence[RunResult]) -> str:
    """Write the benchmark's table files beside ``index``; return the terminal table."""
    from micro_bench_tables.cli import write_tables
    from micro_bench_tables.tables import build_table
    from micro_bench_tables.terminal import terminal_text

    write_tables(index)
    return terminal_text(index.parent, build_table(index.parent, index.name), index.name)
