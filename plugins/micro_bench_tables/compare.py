"""``micro-bench compare RUNS_DIR A B [--metric M ...]``: a paired test of two table rows.

``A`` and ``B`` name rows of the benchmarks under ``RUNS_DIR``: ``LABEL`` (found in exactly one
benchmark), ``BENCHMARK/LABEL`` or a run key. Both must have evaluated the same samples (the ids
in their ``predictions.npz``, in order); otherwise the comparison is refused. With repeats, each
row's value is the mean over its repeats, scored on shared bootstrap resamples (see
:mod:`micro_bench_tables.stats`). The p-values are two-sided paired-bootstrap p-values, Holm-
adjusted across the compared metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["compare_command", "compare_rows", "find_row"]


def _rows(runs_dir: Path) -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    from micro_bench.results import read_index
    from micro_bench_tables.tables import discover

    return [(bench, index, row) for bench in discover(runs_dir) for index in [read_index(bench)]
            for row in index["rows"]]


def find_row(runs_dir: Path, name: str) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The (benchmark folder, manifest, manifest row) that ``name`` names (see the module
    docstring); a :class:`click.UsageError` naming the candidates otherwise."""
    from micro_bench_tables.stats import row_keys

    rows = _rows(runs_dir)
    bench, _, label = name.rpartition("/")
    found = [r for r in rows if r[2]["label"] == label and (not bench or r[0].name == bench)]
    found = found or [r for r in rows if name in row_keys(r[2])]
    if len(found) == 1:
        return found[0]
    if not found:
        known = ", ".join(f"{b.name}/{row['label']}" for b, _, row in rows) or "(no benchmark results)"
        raise click.UsageError(f"{runs_dir}: no row {name!r}; rows: {known}")
    raise click.UsageError(f"{runs_dir}: row {name!r} is in several benchmarks "
                           f"({', '.join(b.name for b, _, _ in found)}); write BENCHMARK/{label}")


def compare_rows(runs_dir: Path, a: str, b: str, metrics: Sequence[str] = ()) -> tuple[list[Any], list[str], str]:
    """The :class:`~micro_bench_tables.stats.RowStats` of rows ``a`` and ``b`` (``b`` compared
    against ``a``), the metrics compared and a line on the samples and settings."""
    from micro_bench.results import read_result
    from micro_bench_tables.stats import ci_settings, row_keys, table_stats

    found = [find_row(runs_dir, name) for name in (a, b)]
    if found[0][2] is found[1][2] or (found[0][0] == found[1][0] and found[0][2]["label"] == found[1][2]["label"]):
        raise click.UsageError(f"{a!r} and {b!r} name the same row")
    results = {k: read_result(bench / k) for bench, _, row in found for k in row_keys(row)}
    missing = [k for k, r in results.items() if r is None]
    if missing:
        raise click.UsageError(f"{runs_dir}: no finished result for run(s) {', '.join(missing)}")
    first = results[row_keys(found[0][2])[0]]
    assert first is not None  # checked above
    available = [m for m, v in first.metrics.items() if isinstance(v, (int, float))]
    chosen = list(metrics) or available
    unknown = [m for m in chosen if m not in available]
    if unknown:
        raise click.UsageError(f"--metric {unknown[0]!r}: not a scalar metric of {a!r}; available: {', '.join(available)}")
    names = [f"{bench.name}/{row['label']}" for bench, _, row in found]
    index = {"rows": [{**row, "label": name, "dir": str(bench)} for (bench, _, row), name in zip(found, names, strict=True)],
             "ci": found[0][1].get("ci", ci_settings(found[0][1]))}
    if ci_settings(index) is None:
        index["ci"] = {}  # a test needs resamples even where the tables show no interval
    stats = table_stats(found[0][0], index, results, chosen, baseline=names[0])
    return stats, chosen, names[0]


@click.command("compare")
@click.argument("runs_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("a")
@click.argument("b")
@click.option("--metric", "metrics", multiple=True, help="Metric id to compare (repeatable) [default: every scalar metric].")
def compare_command(runs_dir: Path, a: str, b: str, metrics: tuple[str, ...]) -> None:
    """Compare row B against row A on the same evaluated samples: the difference B - A, its
    paired-bootstrap interval and two-sided p-value (Holm-adjusted across the metrics)."""
    from micro_bench_metrics.paired import holm

    stats, chosen, base_name = compare_rows(runs_dir, a, b, metrics)
    base, other = stats
    if other.note and other.note.startswith("not compared"):
        raise click.ClickException(f"{other.label} vs {base_name}: {other.note.removeprefix('not compared: ')}; "
                                   "a paired comparison needs the same samples")
    if not other.p_raw:
        raise click.ClickException(f"{other.label} vs {base_name}: {other.note or 'no bootstrap for these metrics'}")
    tested = [m for m in chosen if m in other.p_raw]
    adjusted = dict(zip(tested, holm([other.p_raw[m] for m in tested]), strict=True))
    click.echo(f"{other.label} - {base_name} on the same {other.n_eval} samples; repeats {other.n_repeats} vs "
               f"{base.n_repeats} (values: mean over repeats; resamples shared by every repeat)")
    click.echo(f"{'metric':<18}{'A':>22}{'B':>22}{'B - A':>24}{'p':>8}{'p Holm':>8}")
    def val(s: Any, m: str) -> str:
        ci = s.ci.get(m)
        return f"{s.values[m]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")

    for m in chosen:
        d, ci = other.delta.get(m), other.delta_ci.get(m)
        diff = (f"{d:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")) if d is not None else "–"
        p, q = other.p_raw.get(m), adjusted.get(m)
        star = "*" if q is not None and q < 0.05 else ""
        click.echo(f"{m:<18}{val(base, m):>22}{val(other, m):>22}{diff:>24}"
                   f"{(f'{p:.3f}' if p is not None else '–'):>8}{(f'{q:.3f}{star}' if q is not None else '–'):>8}")
    click.echo(f"A = {base_name}, B = {other.label}; intervals: percentile bootstrap; p: two-sided paired bootstrap, "
               f"Holm-adjusted across the {len(tested)} metrics; * adjusted p < 0.05")
