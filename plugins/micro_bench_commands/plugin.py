"""Entry module of the ``commands`` plugin: ``run``, ``validate``, ``list``, ``plugins`` and ``verify``.

Imports only the standard library and :mod:`micro_bench`; the commands are imported when the
CLI asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["micro_bench_add_commands"]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench run``, ``validate``, ``list``, ``plugins`` and ``verify``."""
    from micro_bench_commands.info import list_, plugins
    from micro_bench_commands.run import run, validate
    from micro_bench_commands.verify import verify_

    for command in (run, validate, list_, plugins, verify_):
        cli.add_command(command)
