"""The command line's host, for commands a plugin adds: :func:`pass_host` and :func:`host_of`.

click is imported where these run (inside a command), never when the core is imported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    import click

    from micro_bench.host import Host

__all__ = ["host_of", "pass_host"]


def host_of(ctx: click.Context) -> Host:
    """The CLI's :class:`~micro_bench.host.Host`: the ``obj`` a caller passed (tests:
    ``invoke(cli, ..., obj=host)``), else loaded once per invocation with ``--plugins-dir``."""
    from micro_bench.host import Host

    root = ctx.find_root()
    if "micro_bench.host" not in root.meta:
        given = root.obj
        root.meta["micro_bench.host"] = given if isinstance(given, Host) else Host.load(
            plugins_dir=root.params.get("plugins_dir"))
    host: Host = root.meta["micro_bench.host"]
    return host


def pass_host(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator giving a command the CLI's host as its first argument (plugin commands too):
    ``@cli.command() @micro_bench.pass_host def hello(host): ...``."""

    def with_host(*args: Any, **kwargs: Any) -> Any:
        import click

        return command(host_of(click.get_current_context()), *args, **kwargs)

    return functools.update_wrapper(with_host, command)
