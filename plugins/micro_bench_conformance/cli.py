"""``micro-bench check-plugin NAME``: the conformance checks of one plugin's components."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from micro_bench import pass_host

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench import Host

__all__ = ["check_plugin_command"]


@click.command("check-plugin")
@click.argument("name")
@pass_host
def check_plugin_command(host: Host, name: str) -> None:
    """Run the conformance checks on every component plugin NAME provides."""
    from micro_bench_conformance import check_plugin

    results = check_plugin(host, name)
    if not results:
        raise click.ClickException(f"plugin {name!r} provides no components (see `micro-bench plugins`)")
    for r in results:
        click.echo(f"{r.status}  {r.kind:<9} {r.name:<22} {r.message}")
    failed = sum(not r.ok for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)
