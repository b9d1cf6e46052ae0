"""Entry module of the ``tables`` plugin: the paper's tables from a benchmark's results.

After ``micro-bench run`` it writes ``table.md``, ``table.csv`` and ``table.tex`` beside the
benchmark's manifest and returns the table as the terminal shows it; it adds ``micro-bench
tables`` to render every table again from cached results. Imports only the standard library and
:mod:`micro_bench`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

    from micro_bench.config import BenchmarkConfig
    from micro_bench.results import RunResult

__all__ = ["micro_bench_add_commands", "micro_bench_benchmark_end", "micro_bench_configure"]


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
def micro_bench_benchmark_end(config: BenchmarkConfig, index: Path, results: Sequence[RunResult]) -> str:
    """Write the benchmark's table files beside ``index``; return the terminal table."""
    from micro_bench_tables.cli import write_tables
    from micro_bench_tables.tables import build_table
    from micro_bench_tables.terminal import terminal_text

    write_tables(index)
    return terminal_text(index.parent, build_table(index.parent, index.name), index.name)
