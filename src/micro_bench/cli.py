"""The ``micro-bench`` command line. Plugins add commands through ``micro_bench_add_commands``.

Building the CLI imports only plugin entry modules (standard library + micro_bench), so
``micro-bench --help`` and ``micro-bench list`` never import torch, scikit-learn, zarr or dask.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from micro_bench.errors import MicroBenchError

__all__ = ["cli", "main"]


class _PluginGroup(click.Group):
    """A group that asks plugins for extra commands the first time it needs them."""

    _loaded = False

    def _load_plugin_commands(self, ctx: click.Context) -> None:
        if self._loaded:
            return
        self._loaded = True
        _use_plugins_dir(ctx.params.get("plugins_dir") if ctx is not None else None)
        pm = _pm()
        # One implementation at a time: a plugin whose hook raises loses its commands, is listed
        # as broken by `micro-bench plugins`, and every other command keeps working.
        for impl in reversed(pm.hook.micro_bench_add_commands.get_hookimpls()):  # pluggy's order
            try:
                impl.function(cli=self)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not brick the CLI
                COMMAND_PROBLEMS.append((impl.plugin_name, f"micro_bench_add_commands() raised "
                                                           f"{type(exc).__name__}: {exc}"))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_plugin_commands(ctx)
            command = super().get_command(ctx, cmd_name)
        return command

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


#: ``(plugin, message)`` of plugins whose ``micro_bench_add_commands`` raised.
COMMAND_PROBLEMS: list[tuple[str, str]] = []


_PLUGINS_DIR: list[Path] = []


def _use_plugins_dir(plugins_dir: Path | None) -> None:
    if plugins_dir is not None and not _PLUGINS_DIR:
        _PLUGINS_DIR.append(plugins_dir)


def _pm() -> Any:
    from micro_bench.plugin_manager import get_plugin_manager

    return get_plugin_manager(plugins_dir=_PLUGINS_DIR[0] if _PLUGINS_DIR else None)


@click.group(cls=_PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="micro-bench", prog_name="micro-bench")
@click.option("--plugins-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also load every *.py in this folder as a plugin (env MICRO_BENCH_PLUGINS_DIR).")
def cli(plugins_dir: Path | None) -> None:
    """micro-bench: pluggable multi-label microscopy benchmarks.

    \b
    First run, on the embedded hpa_synth data:
      micro-bench run hpa_table4 --profile smoke
    """
    _use_plugins_dir(plugins_dir)


def _load(file: Path, profile: str | None, overrides: tuple[str, ...]) -> Any:
    from micro_bench.benchmarks import resolve_benchmark
    from micro_bench.config import load_config
    from micro_bench.registry import registries
    from micro_bench.validate import validate_config

    config = load_config(resolve_benchmark(file, _pm()), profile=profile, overrides=overrides)
    validate_config(config, registries(_pm()), _pm())
    return config


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
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", default=None, metavar="ADDR", help="dask.distributed scheduler address (with --executor dask).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def run(file: Path, profile: str | None, overrides: tuple[str, ...], out: Path, force: bool,
        executor: str, scheduler: str | None, no_progress: bool) -> None:
    """Run a benchmark FILE (a path, or a bundled name such as hpa_table4) and print its table
    beside the paper's numbers."""
    from micro_bench.dist import is_main_process
    from micro_bench.runner import run_benchmark
    from micro_bench.tables import build_table, render

    config = _load(file, profile, overrides)
    main = is_main_process()  # under torchrun, rank 0 alone prints and writes
    if main:
        click.echo(f"{config.title} — {len(config.runs)} run(s)" + (f", profile {profile}" if profile else ""))
    run_benchmark(config, out, force=force, pm=_pm(), executor=executor, scheduler=scheduler,
                  progress=not no_progress and main, echo=click.echo)
    if not main:
        return
    bench_dir = out / config.name
    table = build_table(bench_dir)
    for fmt in ("md", "csv", "tex"):
        (bench_dir / f"table.{fmt}").write_text(render(table, fmt), encoding="utf-8")
    click.echo("")
    click.echo(render(table, "md"))
    click.echo(f"Results: {bench_dir}/ (table.md, table.csv, table.tex; one folder per run with "
               "config.json, result.json, predictions.npz, log.txt, figures)")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@_profile
@_set
def validate(file: Path, profile: str | None, overrides: tuple[str, ...]) -> None:
    """Check a benchmark FILE (path or bundled name): structure, component names and parameters."""
    config = _load(file, profile, overrides)
    click.echo(f"{file}: OK ({len(config.runs)} runs: {', '.join(r.label for r in config.runs)})")


@cli.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False)
@click.option("-v", "--verbose", is_flag=True, help="Also show each component's factory and metadata.")
def list_(kind: str | None, pattern: str | None, verbose: bool) -> None:
    """List components, optionally of one KIND (dataset, model, ..., or benchmark) matching PATTERN."""
    from micro_bench.components import KINDS
    from micro_bench.registry import registries

    if kind in ("benchmark", "benchmarks"):
        from micro_bench.benchmarks import bundled_benchmarks

        for entry in bundled_benchmarks(_pm()).values():
            if not pattern or pattern in entry.name:
                click.echo(f"  {entry.name:<22} {entry.title}  [{entry.plugin}]")
                if verbose:
                    click.echo(f"      file: {entry.path}")
        return
    regs = registries(_pm())
    aliases = {"datasets": "dataset", "models": "model", "trainers": "trainer", "losses": "loss",
               "schedulers": "scheduler", "metrics": "metric", "tta_policies": "tta"}
    kind = aliases.get(kind or "", kind)
    if kind is not None and kind not in KINDS:
        raise click.ClickException(f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    for k in [kind] if kind else KINDS:
        registry = regs[k]
        names = registry.names(pattern)
        if not kind:
            click.echo(f"{k}:")
        for name in names:
            spec = registry.spec(name)
            click.echo(f"  {name:<22} {spec.description}  [{registry.plugin_of(name)}]")
            if verbose:
                factory = spec.factory if isinstance(spec.factory, str) else getattr(
                    spec.factory, "__qualname__", repr(spec.factory))
                click.echo(f"      factory: {factory}")
                for key, value in spec.extra.items():
                    click.echo(f"      {key}: {value}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List loaded plugins, their distribution and version, and any that are broken."""
    from micro_bench.plugin_manager import plugin_infos
    from micro_bench.registry import registries

    pm = _pm()
    cli._load_plugin_commands(click.get_current_context().find_root())  # records broken add_commands
    infos = [info.as_dict() for info in plugin_infos(pm)]
    problems = [p for reg in registries(pm).values() for p in reg.problems] + COMMAND_PROBLEMS
    for plugin, message in problems:
        for info in infos:
            if info["name"] == plugin and info["status"] == "ok":
                info["status"], info["error"] = "broken", message
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    for info in infos:
        dist = f"{info['distribution']} {info['version'] or ''}".strip() if info["distribution"] else info["source"]
        line = f"{info['name']:<26} {info['status']:<8} {dist}"
        click.echo(line + (f"\n    error: {info['error']}" if info["error"] else ""))


@cli.command("check-plugin")
@click.argument("name")
def check_plugin(name: str) -> None:
    """Run the conformance checks on every component plugin NAME provides."""
    from micro_bench.conformance import check_plugin as _check

    results = _check(_pm(), name)
    if not results:
        raise click.ClickException(f"plugin {name!r} provides no components (see `micro-bench plugins`)")
    for r in results:
        click.echo(f"{r.status}  {r.kind:<9} {r.name:<22} {r.message}")
    failed = sum(not r.ok for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/tables"), show_default=True)
@click.option("--format", "formats", default="md,csv,tex", show_default=True, help="Comma-separated: md, csv, tex.")
def tables(runs_dir: Path, out: Path, formats: str) -> None:
    """Render every benchmark's table in RUNS_DIR (default runs/) from cached results."""
    from micro_bench.tables import build_table, discover, render

    benches = discover(runs_dir)
    if not benches:
        raise click.ClickException(f"no benchmark results under {runs_dir}/ (looked for */index.json); run a benchmark first")
    out.mkdir(parents=True, exist_ok=True)
    for bench in benches:
        table = build_table(bench)
        for fmt in [f.strip() for f in formats.split(",") if f.strip()]:
            path = out / f"{bench.name}.{fmt}"
            path.write_text(render(table, fmt), encoding="utf-8")
            click.echo(f"wrote {path}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="micro-bench")
