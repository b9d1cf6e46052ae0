"""Entry module of the ``export`` plugin: ``micro-bench export RUN_DIR --format onnx|torchscript|bioimageio``.

Imports only the standard library and :mod:`micro_bench`; torch, onnx and bioimageio are imported
when the command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["micro_bench_add_commands"]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench export``."""
    from micro_bench_export.cli import export_command

    cli.add_command(export_command)
