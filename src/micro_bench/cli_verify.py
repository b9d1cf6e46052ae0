"""``micro-bench verify RUNS_DIR [--fix]`` (see :mod:`micro_bench.runfolder`)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["verify_"]


@click.command("verify")
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--fix", is_flag=True, help="Restore or remove leftovers of interrupted runs.")
def verify_(runs_dir: Path, fix: bool) -> None:
    """Check the results in RUNS_DIR (JSON parses, config hash matches the folder key,
    predictions present) and list leftovers of interrupted work (--fix cleans them)."""
    from micro_bench.runfolder import verify_runs

    report = verify_runs(runs_dir, fix=fix)
    for line in report["problems"]:
        click.echo(f"problem: {line}")
    for line in report["leftovers"]:
        click.echo(f"leftover: {line}")
    for line in report["fixed"]:
        click.echo(f"fixed: {line}")
    click.echo(f"{len(report['ok'])} run folder(s) OK, {len(report['problems'])} problem(s), "
               f"{len(report['leftovers'])} leftover(s)" + (f", {len(report['fixed'])} fixed" if fix else ""))
    if report["problems"]:
        raise click.ClickException(f"{runs_dir}: {len(report['problems'])} damaged result(s) (listed above); "
                                   "rerun those benchmarks with --force")
