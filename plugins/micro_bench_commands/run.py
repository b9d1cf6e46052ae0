"""``micro-bench run`` and ``micro-bench validate``: a benchmark file (or a bundled benchmark's
name) through :func:`micro_bench.load_benchmark` and :func:`micro_bench.run`, then the tables the
``micro_bench_benchmark_end`` implementations return (the bundled ``tables`` plugin's)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from micro_bench import pass_host
from micro_bench.hookcall import call_hook
from micro_bench.runlog import ENV

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.host import Host

__all__ = ["run", "validate"]


def _load(host: Host, file: Path, profile: str | None, overrides: tuple[str, ...]) -> Any:
    from micro_bench import load_benchmark

    return load_benchmark(file, profile=profile, overrides=overrides, host=host)


_profile = click.option("--profile", "-p", default=None, help="Merge this profile from the file (e.g. smoke).")
_set = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                    help="Override one key, e.g. --set trainer.lr=0.01 (YAML-typed; repeatable).")


@click.command()
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
@click.option("--log", "loggers", multiple=True, metavar="NAME",
              help="Also log computed runs with this run logger (micro-bench list logger; bundled: tensorboard "
                   "into <run>/tensorboard/, mlflow into ./mlruns or MLFLOW_TRACKING_URI, each needing the extra "
                   "of the same name); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON instead of the table.")
@click.option("--run", "only", multiple=True, metavar="LABEL",
              help="Run only the row with this label (repeatable); the table keeps the other rows' last results.")
@click.pass_context
@pass_host
def run(host: Host, ctx: click.Context, file: Path, profile: str | None, overrides: tuple[str, ...], out: Path, force: bool,
        executor: str, scheduler: str | None, workers: int | None, threads_per_run: int,
        no_progress: bool, loggers: tuple[str, ...], as_json: bool, only: tuple[str, ...]) -> None:
    """Run a benchmark FILE (a path, or a bundled name such as hpa_table4) and print its table
    beside the paper's numbers."""
    import micro_bench
    from micro_bench.dist import is_main_process
    from micro_bench.results import index_name
    from micro_bench_commands.selection import select_runs, whole_table

    check_loggers(host, loggers)
    before = os.environ.get(ENV)
    if loggers:  # the core's run loggers read it (also in dask worker processes started from here)
        known = [n for n in (before or "").split(",") if n]
        os.environ[ENV] = ",".join(dict.fromkeys([*known, *loggers]))
    try:
        full = _load(host, file, profile, overrides)
        config = select_runs(full, only) if only else full
        main = is_main_process(host)  # under torchrun, rank 0 alone prints and writes
        check_owner(full, out)
        log = logging.getLogger("micro_bench.run")
        keep = whole_table(full, out) if only and main else None  # the other rows' last results
        if main:
            chosen = f"{len(config.runs)} of {len(full.runs)}" if only else f"{len(config.runs)}"
            log.info(f"{config.title} — {chosen} run(s)" + (f", profile {profile}" if profile else ""))
        quiet = bool(ctx.find_root().meta.get("micro_bench.quiet"))
        options = {"workers": workers, "threads_per_run": threads_per_run,
                   "plugins_dir": ctx.find_root().params.get("plugins_dir")}
        results = micro_bench.run(config, out, host=host, force=force, executor=executor, scheduler=scheduler,
                                  executor_options=options, progress=not no_progress and not quiet and main,
                                  echo=log.info)
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before
    if not main:
        return
    if loggers and results and all(r.cached for r in results):
        logging.getLogger("micro_bench.run").warning(
            f"--log {','.join(loggers)}: every run was reused from {out / config.name}/ (finished earlier), so nothing "
            "was logged; add --force to rerun them and log")
    bench_dir = out / config.name
    if keep is not None:
        keep()
    texts = [text for _, text in call_hook(host.pm, "micro_bench_benchmark_end", config=full,  # tables: table.md, ...
                                           index=bench_dir / index_name(full.overrides), results=results)]
    if as_json:
        from micro_bench.results import json_text

        click.echo(json_text({
            "benchmark": config.name, "title": config.title, "profile": profile, "results_dir": str(bench_dir),
            "runs": [{"label": r.label, "key": r.key, "cached": r.cached, "run_dir": str(bench_dir / r.key),
                      "metrics": r.metrics} for r in results],
        }))
        return
    click.echo("")
    for text in reversed(texts):  # in registration order
        click.echo(text)
    stem = index_name(full.overrides).replace("index", "table", 1).removesuffix(".json")
    click.echo(f"Results: {bench_dir}/ (the full table in {stem}.md, {stem}.csv, {stem}.tex; one folder "
               "per run with config.json, result.json, predictions.npz, log.txt, figures)")


def check_loggers(host: Host, names: tuple[str, ...]) -> None:
    """``--log NAME`` names a run logger some plugin provides (else one line with a suggestion,
    exit 2 as for any bad option value; a disabled or broken ``loggers`` plugin is named when that is
    why), and each can work (its optional ``check()``: a missing library is one line, exit 1)."""
    from micro_bench.runlog import check, unknown

    registry = host.registries["logger"]
    for name in names:
        if name in registry:
            continue
        off = [i for i in host.plugin_infos() if i.name == "micro_bench_loggers" and i.status != "ok"]
        if off and name in ("tensorboard", "mlflow"):  # otherwise the bundled ones look unknown
            raise click.ClickException(f"--log {name}: the loggers plugin is {off[0].status} "
                                       f"({off[0].error or 'MICRO_BENCH_DISABLED_PLUGINS names micro_bench_loggers'})")
        raise click.BadParameter(unknown(host, name), param_hint="'--log'")
    check(host, names)


def check_owner(config: Any, out: Path) -> None:
    """Refuse a benchmark file whose results folder ``<out>/<name>/`` holds the table of another
    file with the same ``name:`` (a copied benchmark would replace the bundled one's table)."""
    from micro_bench.results import index_name
    from micro_bench_commands.selection import previous_index

    index = previous_index(out / config.name / index_name(config.overrides))
    other = (index or {}).get("config_file")
    if not isinstance(other, str) or not other:
        return
    theirs, ours = Path(other), Path(config.path)
    if not theirs.is_file():  # recorded relative to another working folder: cannot tell, allow
        return
    if theirs.resolve() != ours.resolve():
        raise click.ClickException(
            f"{out / config.name}/ holds the results of {other}, another benchmark file with the same name "
            f"{config.name!r}; give {ours} its own `name:` (or run it with another --out) so that it does not "
            "replace that table")


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@_profile
@_set
@pass_host
def validate(host: Host, file: Path, profile: str | None, overrides: tuple[str, ...]) -> None:
    """Check a benchmark FILE (path or bundled name): structure, component names and parameters."""
    config = _load(host, file, profile, overrides)
    rows = {r.label: r.repeats for r in config.runs}  # a row's repeats share its label
    shown = ", ".join(label if n == 1 else f"{label} x{n}" for label, n in rows.items())
    click.echo(f"{file}: OK ({len(config.runs)} runs: {shown})")
