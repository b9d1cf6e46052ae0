"""The ``micro-bench`` command line (the console script's ``main``), built on the public API of
:mod:`micro_bench`: global options, the host, logging and the error boundary. Every command comes
from a plugin through ``micro_bench_add_commands``: ``run``, ``validate``, ``list``, ``plugins``
and ``verify`` from this bundled ``commands`` plugin, ``tables`` from ``tables``, ...

Building the CLI imports only plugin entry modules (standard library + micro_bench), so
``micro-bench --help`` and ``micro-bench list`` never import torch, scikit-learn, zarr or dask.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from micro_bench.clihost import host_of, pass_host
from micro_bench.errors import MicroBenchError
from micro_bench.hookcall import call_hook

__all__ = ["cli", "host_of", "main", "pass_host"]


class _PluginGroup(click.Group):
    """A group that asks the host's plugins for extra commands the first time it needs them."""

    def plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        root = ctx.find_root()
        if "micro_bench.commands" not in root.meta:
            host, group = host_of(ctx), click.Group()
            # One implementation at a time: a plugin whose hook raises loses its commands, is
            # listed as broken by `micro-bench plugins`, and every other command keeps working.
            call_hook(host.pm, "micro_bench_add_commands",
                      lambda line: host.problems.append((getattr(line, "plugin", "?"), str(line))),
                      cli=group, host=host)
            root.meta["micro_bench.commands"] = group.commands
        commands: dict[str, click.Command] = root.meta["micro_bench.commands"]
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self.plugin_commands(ctx).get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """The CLI's single error boundary (see :mod:`micro_bench_commands.failures`)."""
        from micro_bench_commands import failures

        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except MicroBenchError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(failures.os_error_message(exc)) from None
        except MemoryError:
            raise click.ClickException("out of memory; try a smaller batch_size, resolution or "
                                       "fewer workers") from None
        except Exception as exc:  # noqa: BLE001 - a plugin's failure (exit 1) or a bug (exit 70)
            from micro_bench.blame import blame

            host = ctx.find_root().meta.get("micro_bench.host")
            culprit = blame(exc, host) if host is not None else None
            if culprit is not None:
                log = failures.save_traceback(exc)
                raise click.ClickException(f"{culprit}" + (f" (traceback in {log})" if log else "")) from None
            failures.report_bug(exc)
            ctx.exit(failures.BUG_EXIT)


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="micro-bench", prog_name="micro-bench")
@click.option("--plugins-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also load every *.py in this folder as a plugin (env MICRO_BENCH_PLUGINS_DIR).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on standard error; no progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, plugins_dir: Path | None, quiet: bool, verbose: bool) -> None:
    """micro-bench: pluggable multi-label microscopy benchmarks.

    \b
    First run, on the embedded hpa_synth data:
      micro-bench run hpa_table4 --profile smoke
    """
    from micro_bench_commands.logs import setup_logging

    setup_logging(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    ctx.meta["micro_bench.quiet"] = quiet


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="micro-bench")
