"""The ``micro-bench`` command line. Plugins add commands through ``micro_bench_add_commands``.

Building the CLI imports only plugin entry modules (standard library + micro_bench), so
``micro-bench --help`` and ``micro-bench list`` never import torch, scikit-learn, zarr or dask.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from micro_bench.errors import MicroBenchError
from micro_bench.host import Host

__all__ = ["cli", "host_of", "main", "pass_host"]


def host_of(ctx: click.Context) -> Host:
    """The CLI's :class:`Host`: the ``obj`` a caller passed (tests: ``invoke(cli, ..., obj=host)``),
    else loaded once per invocation with ``--plugins-dir``."""
    root = ctx.find_root()
    if "micro_bench.host" not in root.meta:
        given = root.obj
        root.meta["micro_bench.host"] = given if isinstance(given, Host) else Host.load(
            plugins_dir=root.params.get("plugins_dir"))
    host: Host = root.meta["micro_bench.host"]
    return host


def pass_host(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator giving a command the CLI's :class:`Host` as its first argument (plugin commands
    too): ``@cli.command() @micro_bench.pass_host def hello(host): ...``."""

    def with_host(*args: Any, **kwargs: Any) -> Any:
        return command(host_of(click.get_current_context()), *args, **kwargs)

    return functools.update_wrapper(with_host, command)


class _PluginGroup(click.Group):
    """A group that asks the host's plugins for extra commands the first time it needs them."""

    def plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        root = ctx.find_root()
        if "micro_bench.commands" not in root.meta:
            host, group = host_of(ctx), click.Group()
            # One implementation at a time: a plugin whose hook raises loses its commands, is
            # listed as broken by `micro-bench plugins`, and every other command keeps working.
            for impl in reversed(host.hook.micro_bench_add_commands.get_hookimpls()):  # pluggy's order
                try:
                    impl.function(**{k: v for k, v in (("cli", group), ("host", host)) if k in impl.argnames})
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not brick the CLI
                    host.problems.append((impl.plugin_name, f"micro_bench_add_commands() raised "
                                                            f"{type(exc).__name__}: {exc}"))
            root.meta["micro_bench.commands"] = group.commands
        commands: dict[str, click.Command] = root.meta["micro_bench.commands"]
        return commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or self.plugin_commands(ctx).get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """The CLI's single error boundary (see :mod:`micro_bench.failures`)."""
        from micro_bench import failures

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
        except Exception as exc:  # noqa: BLE001 - a bug: traceback saved, said so, exit 70
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
    from micro_bench.logs import setup_logging

    setup_logging(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    ctx.meta["micro_bench.quiet"] = quiet


def _load(file: Path, profile: str | None, overrides: tuple[str, ...]) -> Any:
    from micro_bench.api import load_benchmark

    return load_benchmark(file, profile=profile, overrides=overrides,
                          host=host_of(click.get_current_context()))


_profile = click.option("--profile", "-p", default=None, help="Merge this profile from the file (e.g. smoke).")
_set = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                    help="Override one key, e.g. --set trainer.lr=0.01 (YAML-typed; repeatable).")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@_profile
@_set
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True,
              help="Results folder: <out>/<benchmark>/<run key>/.")
@click.option("--force", is_flag=True, help="Recompute runs that already finished.")
@click.option("--executor", default="local", show_default=True,
              help="local (here, row by row) or dask (one dask.distributed task per run; docs/scaling.md).")
@click.option("--scheduler", default=None, metavar="ADDR", help="dask: a running cluster's scheduler address.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="dask without --scheduler: worker processes (default: one per GPU, else cores / threads per run).")
@click.option("--threads-per-run", type=click.IntRange(min=1), default=1, show_default=True,
              help="dask without --scheduler: CPU threads each run's worker uses.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--log", "loggers", multiple=True, type=click.Choice(["tensorboard", "mlflow"]),
              help="Also log computed runs to TensorBoard (<run>/tensorboard/) or MLflow (./mlruns or "
                   "MLFLOW_TRACKING_URI); repeatable; needs the extra of the same name.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of the table.")
@click.option("--run", "only", multiple=True, metavar="LABEL",
              help="Run only the row with this label (repeatable); the table keeps the other rows' last results.")
@click.pass_context
def run(ctx: click.Context, file: Path, profile: str | None, overrides: tuple[str, ...], out: Path, force: bool,
        executor: str, scheduler: str | None, workers: int | None, threads_per_run: int,
        no_progress: bool, loggers: tuple[str, ...], as_json: bool, only: tuple[str, ...]) -> None:
    """Run a benchmark FILE (a path, or a bundled name such as hpa_table4) and print its table
    beside the paper's numbers."""
    from micro_bench.dist import is_main_process
    from micro_bench.results import index_name
    from micro_bench.runner import run_benchmark
    from micro_bench.selection import select_runs, whole_table

    before = os.environ.get("MICRO_BENCH_LOGGERS")
    if loggers:  # the logger plugins read it (also in dask worker processes started from here)
        known = [n for n in (before or "").split(",") if n]
        os.environ["MICRO_BENCH_LOGGERS"] = ",".join(dict.fromkeys([*known, *loggers]))
    try:
        full = _load(file, profile, overrides)
        config = select_runs(full, only) if only else full
        main = is_main_process()  # under torchrun, rank 0 alone prints and writes
        log = logging.getLogger("micro_bench.run")
        keep = whole_table(full, out) if only and main else None  # the other rows' last results
        if main:
            chosen = f"{len(config.runs)} of {len(full.runs)}" if only else f"{len(config.runs)}"
            log.info(f"{config.title} — {chosen} run(s)" + (f", profile {profile}" if profile else ""))
        quiet = bool(ctx.find_root().meta.get("micro_bench.quiet"))
        options = {"workers": workers, "threads_per_run": threads_per_run,
                   "plugins_dir": ctx.find_root().params.get("plugins_dir")}
        results = run_benchmark(config, out, host=host_of(ctx), force=force, executor=executor, scheduler=scheduler,
                                executor_options=options, progress=not no_progress and not quiet and main, echo=log.info)
    finally:
        if before is None:
            os.environ.pop("MICRO_BENCH_LOGGERS", None)
        else:
            os.environ["MICRO_BENCH_LOGGERS"] = before
    if not main:
        return
    bench_dir = out / config.name
    if keep is not None:
        keep()
    texts = host_of(ctx).hook.micro_bench_benchmark_end(config=full, index=bench_dir / index_name(full.overrides),
                                                         results=results)  # tables plugin: table.md, ...
    if as_json:
        from micro_bench.results import _finite

        click.echo(json.dumps(_finite({
            "benchmark": config.name, "title": config.title, "profile": profile, "results_dir": str(bench_dir),
            "runs": [{"label": r.label, "key": r.key, "cached": r.cached, "run_dir": str(bench_dir / r.key),
                      "metrics": r.metrics} for r in results],
        }), indent=2, allow_nan=False))
        return
    click.echo("")
    for text in reversed(texts):  # in registration order
        click.echo(text)
    stem = index_name(full.overrides).replace("index", "table", 1).removesuffix(".json")
    click.echo(f"Results: {bench_dir}/ (the full table in {stem}.md, {stem}.csv, {stem}.tex; one folder "
               "per run with config.json, result.json, predictions.npz, log.txt, figures)")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@_profile
@_set
def validate(file: Path, profile: str | None, overrides: tuple[str, ...]) -> None:
    """Check a benchmark FILE (path or bundled name): structure, component names and parameters."""
    config = _load(file, profile, overrides)
    click.echo(f"{file}: OK ({len(config.runs)} runs: {', '.join(r.label for r in config.runs)})")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="micro-bench")
