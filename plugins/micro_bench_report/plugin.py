"""Entry module of the ``report`` plugin: the ``results`` and ``report`` commands.

Imports only the standard library and micro_bench; pandas/pyarrow only for parquet output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import click

__all__ = ["micro_bench_add_commands"]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench results RUNS_DIR`` and ``micro-bench report RUNS_DIR``."""
    from micro_bench_report.cli import report_command, results_command

    cli.add_command(results_command)
    cli.add_command(report_command)
