"""``micro-bench compare RUNS_DIR A B [--metric M ...]``: a paired test of two table rows.

``A`` and ``B`` name rows of the benchmarks under ``RUNS_DIR``: ``LABEL`` (found in exactly one
benchmark), ``BENCHMARK/LABEL`` or a run key; or two benchmarks, whose rows with the same label
are compared pairwise (Table IV against Table III: SGDR against a constant rate, row by row).
Both rows of a pair must have evaluated the same samples (the ids in their ``predictions.npz``,
in order); otherwise the comparison is refused. With repeats, each row's value is the mean over
its repeats, scored on shared bootstrap resamples (see :mod:`micro_bench_tables.stats`). Each
row's interval uses its own ``evaluate.ci``; the paired test scores both rows on A's resamples
(the default settings where A's intervals are off). The
p-values are two-sided paired-bootstrap p-values, Holm-adjusted across the compared metrics (two
rows) or across the row pairs, per metric (two benchmarks).
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


def _is_benchmark(runs_dir: Path, name: str) -> bool:
    return "/" not in name and (runs_dir / name / "index.json").is_file()


def _pair_stats(runs_dir: Path, found: Sequence[tuple[Path, dict[str, Any], dict[str, Any]]],
                metrics: Sequence[str], what: str) -> tuple[list[Any], list[str]]:
    """:class:`~micro_bench_tables.stats.RowStats` of two manifest rows (the second compared
    with the first) and the metrics compared (``metrics``, else every scalar metric)."""
    from micro_bench.config import CI_DEFAULTS
    from micro_bench.results import read_result
    from micro_bench_tables.stats import row_ci_settings, row_keys, table_stats

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
        raise click.UsageError(f"--metric {unknown[0]!r}: not a scalar metric of {what!r}; available: {', '.join(available)}")
    names = [f"{bench.name}/{row['label']}" for bench, _, row in found]
    # each row's interval with its own evaluate.ci; the test on A's resamples (the defaults where
    # A's intervals are off: a test needs resamples even where the tables show none)
    own = {name: row_ci_settings(manifest, row["label"]) for (_, manifest, row), name in zip(found, names, strict=True)}
    index = {"rows": [{**row, "label": name, "dir": str(bench)} for (bench, _, row), name in zip(found, names, strict=True)],
             "ci": own[names[0]], "row_ci": own}
    test_ci = own[names[0]] or dict(CI_DEFAULTS)
    return table_stats(found[0][0], index, results, chosen, baseline=names[0], test_ci=test_ci), chosen


def compare_rows(runs_dir: Path, a: str, b: str, metrics: Sequence[str] = ()) -> tuple[list[list[Any]], list[str]]:
    """The pairs to compare, each ``[RowStats of A's row, RowStats of B's row]`` (B against A),
    and the metrics. ``a`` and ``b`` name two rows, or two benchmarks (then every label they
    share is a pair, in ``a``'s order)."""
    if _is_benchmark(runs_dir, a) and _is_benchmark(runs_dir, b):
        from micro_bench.results import read_index

        index_a, index_b = read_index(runs_dir / a), read_index(runs_dir / b)
        rows_b = {row["label"]: row for row in index_b["rows"]}
        shared = [row for row in index_a["rows"] if row["label"] in rows_b]
        if not shared:
            raise click.UsageError(f"{a} and {b} share no row label; labels: {', '.join(r['label'] for r in index_a['rows'])} "
                                   f"vs {', '.join(rows_b)}")
        pairs, chosen = [], list(metrics)
        for row in shared:
            found = [(runs_dir / a, index_a, row), (runs_dir / b, index_b, rows_b[row["label"]])]
            stats, chosen = _pair_stats(runs_dir, found, metrics, f"{a}/{row['label']}")
            pairs.append(stats)
        return pairs, chosen
    found = [find_row(runs_dir, name) for name in (a, b)]
    if found[0][0] == found[1][0] and found[0][2]["label"] == found[1][2]["label"]:
        raise click.UsageError(f"{a!r} and {b!r} name the same row")
    stats, chosen = _pair_stats(runs_dir, found, metrics, a)
    return [stats], chosen


def _value(s: Any, m: str) -> str:
    ci = s.ci.get(m)
    return f"{s.values[m]:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


@click.command("compare")
@click.argument("runs_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("a")
@click.argument("b")
@click.option("--metric", "metrics", multiple=True, help="Metric id to compare (repeatable) [default: every scalar metric].")
def compare_command(runs_dir: Path, a: str, b: str, metrics: tuple[str, ...]) -> None:
    """Compare B against A on the same evaluated samples: the difference B - A, its
    paired-bootstrap interval and two-sided p-value. A and B name rows (LABEL, BENCHMARK/LABEL or
    a run key; p Holm-adjusted across the metrics) or two benchmarks (every row label they share;
    p Holm-adjusted across those rows, per metric)."""
    from micro_bench_metrics.paired import holm

    pairs, chosen = compare_rows(runs_dir, a, b, metrics)
    for base, other in pairs:
        if other.note and other.note.startswith("not compared"):
            raise click.ClickException(f"{other.label} vs {base.label}: {other.note.removeprefix('not compared: ')}; "
                                       "a paired comparison needs the same samples")
        if not other.p_raw:
            raise click.ClickException(f"{other.label} vs {base.label}: {other.note or 'no bootstrap for these metrics'}")
    adjusted: dict[tuple[int, str], float] = {}
    if len(pairs) == 1:  # one pair: across its metrics
        tested = [m for m in chosen if m in pairs[0][1].p_raw]
        adjusted = {(0, m): q for m, q in zip(tested, holm([pairs[0][1].p_raw[m] for m in tested]), strict=True)}
        family = f"the {len(tested)} metrics"
    else:  # rows of two benchmarks: across the rows, per metric
        for m in chosen:
            rows = [i for i, (_, other) in enumerate(pairs) if m in other.p_raw]
            adjusted.update({(i, m): q for i, q in zip(rows, holm([pairs[i][1].p_raw[m] for i in rows]), strict=True)})
        family = f"the {len(pairs)} rows, per metric"
    base, other = pairs[0]
    click.echo(f"B - A on the same {other.n_eval} samples; repeats {other.n_repeats} vs {base.n_repeats} "
               "(values: mean over repeats; resamples shared by every repeat)")
    click.echo(f"{'metric':<18}{'A':>22}{'B':>22}{'B - A':>24}{'p':>8}{'p Holm':>8}")
    for i, (base, other) in enumerate(pairs):
        if len(pairs) > 1:
            click.echo(f"{base.label}  vs  {other.label}")
        for m in chosen:
            d, ci = other.delta.get(m), other.delta_ci.get(m)
            diff = (f"{d:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")) if d is not None else "–"
            p, q = other.p_raw.get(m), adjusted.get((i, m))
            star = "*" if q is not None and q < 0.05 else ""
            click.echo(f"{m:<18}{_value(base, m):>22}{_value(other, m):>22}{diff:>24}"
                       f"{(f'{p:.3f}' if p is not None else '–'):>8}{(f'{q:.3f}{star}' if q is not None else '–'):>8}")
    names = f"A = {pairs[0][0].label}, B = {pairs[0][1].label}; " if len(pairs) == 1 else f"A = {a}, B = {b}; "
    click.echo(names + "intervals: percentile bootstrap (each row's own evaluate.ci); p: two-sided paired "
               "bootstrap on A's resamples, "
               f"Holm-adjusted across {family}; * adjusted p < 0.05")
