"""Entry module of the ``conformance`` plugin: the ``check-plugin`` command.

The checks themselves are :mod:`micro_bench_conformance`; the pytest helpers for plugin authors
are :mod:`micro_bench_conformance.testing` (``pytest -p micro_bench_conformance.testing``). Imports only the
standard library and :mod:`micro_bench`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from micro_bench import hookimpl

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

__all__ = ["micro_bench_add_commands"]


@hookimpl
def micro_bench_add_commands(cli: click.Group) -> None:
    """Add ``micro-bench check-plugin NAME``."""
    from micro_bench_conformance.cli import check_plugin_command

    cli.add_command(check_plugin_command)
