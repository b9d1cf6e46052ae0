"""``micro-bench tables``: render every benchmark's table from cached results."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["tables_command", "write_tables"]

FORMATS = ("md", "csv", "tex")


def write_tables(index: Path, formats: tuple[str, ...] = FORMATS, out: Path | None = None) -> list[Path]:
    """Render the table of the manifest ``index`` (``<out>/<benchmark>/index*.json``) in each
    format: beside it (``table.<format>``) or, with ``out``, as ``out/<benchmark>.<format>``."""
    from micro_bench_tables.tables import build_table, render, table_name

    table = build_table(index.parent, index.name)
    written = []
    for fmt in formats:
        path = (out / table_name(index.name, fmt, index.parent.name) if out is not None
                else index.parent / table_name(index.name, fmt))
        path.write_text(render(table, fmt), encoding="utf-8")
        written.append(path)
    return written


@click.command("tables")
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write <benchmark>.<format> files into this folder (e.g. docs/tables) "
                   "[default: beside the results, RUNS_DIR/<benchmark>/table.<format>].")
@click.option("--format", "formats", default="md,csv,tex", show_default=True, help="Comma-separated: md, csv, tex.")
def tables_command(runs_dir: Path, out: Path | None, formats: str) -> None:
    """Render every benchmark's table in RUNS_DIR (default runs/) from cached results."""
    from micro_bench_tables.tables import manifests

    chosen = tuple(f.strip() for f in formats.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise click.ClickException(f"--format {formats!r}: expected a comma-separated list of {', '.join(FORMATS)}")
    found = manifests(runs_dir)
    if not found:
        raise click.ClickException(f"no benchmark results under {runs_dir}/ (looked for */index.json); run a benchmark first")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for index in found:
        for path in write_tables(index, chosen, out):
            click.echo(f"wrote {path}")
