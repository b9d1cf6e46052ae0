"""``micro-bench results`` (the tidy table) and ``micro-bench report`` (one static HTML page)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

__all__ = ["check_out", "report_command", "results_command", "write_results"]

FORMATS = ("csv", "json", "parquet")


def write_results(runs_dir: Path, fmt: str, out: Path | None) -> int:
    """Write the tidy table of ``runs_dir`` as ``fmt`` to ``out`` (stdout for csv/json when
    ``None``); returns the number of rows."""
    from micro_bench.errors import MicroBenchError
    from micro_bench_report.tidy import results_frame, tidy_rows

    if fmt == "parquet":
        if out is None:
            raise MicroBenchError("--format parquet needs --out FILE")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MicroBenchError("--format parquet needs pandas and pyarrow: pip install 'micro-bench[pandas]'") from None
        frame = results_frame(runs_dir)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out, index=False)
        return len(frame)
    rows = tidy_rows(runs_dir)
    if fmt == "json":
        text = json.dumps(rows, indent=1) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
    if out is None:
        sys.stdout.write(text)
    else:
        from micro_bench.results import atomic_write_text

        atomic_write_text(out, text)
    return len(rows)


def check_out(out: Path, runs_dir: Path) -> None:
    """Refuse an ``--out`` that would overwrite what micro-bench wrote or reads: a path inside
    RUNS_DIR, a run or benchmark folder, or a data store."""
    from micro_bench.errors import MicroBenchError

    full, root = out.resolve(), runs_dir.resolve()
    if full == root or root in full.parents:
        raise MicroBenchError(f"--out {out}: inside the results folder {runs_dir} it reads; write it elsewhere")
    for folder in full.parents:
        if any((folder / name).is_file() for name in ("result.json", "index.json", "zarr.json")):
            raise MicroBenchError(f"--out {out}: inside {folder}, which micro-bench wrote; write it elsewhere")


@click.command("results")
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: standard output; required for parquet).")
def results_command(runs_dir: Path, fmt: str, out: Path | None) -> None:
    """Every finished run in RUNS_DIR (default runs/) as one tidy table: a row per run x metric x
    split (x class), the run's config flattened into config.* columns."""
    if out is not None:
        check_out(out, runs_dir)
    n = write_results(runs_dir, fmt, out)
    if out is not None:
        click.echo(f"wrote {out} ({n} rows)", err=True)


@click.command("report")
@click.argument("runs_dir", required=False, type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"), show_default=True)
def report_command(runs_dir: Path, out: Path) -> None:
    """One static HTML page: per benchmark, its table beside the paper's numbers with the deltas,
    and every run's figures embedded (no external files)."""
    from micro_bench.results import atomic_write_text
    from micro_bench_report.html import build_report

    check_out(out, runs_dir)
    html, n = build_report(runs_dir)
    atomic_write_text(out, html)
    click.echo(f"wrote {out} ({n} benchmark(s))")
