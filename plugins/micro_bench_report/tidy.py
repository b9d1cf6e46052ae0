"""Every finished run under a results folder as one tidy table: one row per run x metric x
split (x class, for per-class metrics), with the run's config flattened into columns, and the
uncertainty of each value (bootstrap interval, repeats, paired comparison with the table's
baseline row: :data:`STATS_COLUMNS`).

``micro-bench results RUNS_DIR --format csv|parquet|json`` writes it; :func:`results_frame`
returns it as a pandas DataFrame (pandas is optional: ``pip install 'micro-bench[pandas]'``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from micro_bench.errors import MicroBenchError
from micro_bench.results import RESULT_FILE, RunResult, read_index, read_result

__all__ = ["BASE_COLUMNS", "STATS_COLUMNS", "results_frame", "tidy_rows"]

#: The columns every row has, before the ``config.*`` ones.
BASE_COLUMNS = ("benchmark", "label", "key", "split", "metric", "class", "value", "ci_low", "ci_high", "n_eval",
                "n_repeats", "sd", "baseline", "delta", "delta_ci_low", "delta_ci_high", "p_value", "threshold_rule",
                "dataset", "dataset_fingerprint", "version", "fit_s", "predict_s", "run_dir")
#: The uncertainty columns (see :func:`_uncertainty`).
STATS_COLUMNS = BASE_COLUMNS[7:17]


def flatten(data: Any, prefix: str) -> dict[str, Any]:
    """``{"model": {"name": "x"}}`` -> ``{"config.model.name": "x"}``; lists become JSON text."""
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}"))
        return out
    if isinstance(data, (list, tuple)):
        return {prefix: json.dumps(data, sort_keys=True)}
    return {prefix: data}


def _rows_of(result: RunResult, run_dir: Path, stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    config = flatten({k: v for k, v in result.config.items() if k not in ("benchmark", "label")}, "config")
    base = {
        "benchmark": result.benchmark, "label": result.label, "key": result.key,
        "split": (result.config.get("evaluate") or {}).get("split"),
        "threshold_rule": str(result.thresholds.get("rule")) if result.thresholds else None,
        "dataset": result.dataset.get("name"), "dataset_fingerprint": result.dataset.get("fingerprint"),
        "version": result.version, "fit_s": result.timings.get("fit_s"),
        "predict_s": result.timings.get("predict_s"), "run_dir": str(run_dir),
    }
    rows = []
    for metric, value in result.metrics.items():
        values = value.items() if isinstance(value, Mapping) else [(None, value)]
        for cls, v in values:
            rows.append({**base, "metric": metric, "class": cls, "value": v, **config,
                         **_uncertainty(stats, metric, cls)})
    return rows


def _uncertainty(stats: Mapping[str, Any], metric: str, cls: str | None) -> dict[str, Any]:
    """The :data:`STATS_COLUMNS` of one run's metric (class ``cls`` of a per-class one).

    ``stats``: ``{"run": RowStats of this run alone, "row": RowStats of its table row}``.
    ``ci_low``/``ci_high``: the run's own bootstrap interval; ``n_repeats``, ``sd`` (over the
    row's repeats; per class for a per-class metric) and the comparison with the table's baseline row (``delta`` of the row means,
    its paired-bootstrap interval, the Holm-adjusted ``p_value``) are its table row's."""
    run, row = stats.get("run"), stats.get("row")
    out: dict[str, Any] = dict.fromkeys(STATS_COLUMNS)
    if run is not None:
        out["n_eval"] = run.n_eval
        if cls is None and metric in run.ci:
            out["ci_low"], out["ci_high"] = run.ci[metric]
        elif cls is not None and metric in run.class_ci and cls.isdigit():
            low, high = run.class_ci[metric]
            if int(cls) < len(low):
                out["ci_low"], out["ci_high"] = low[int(cls)], high[int(cls)]
    if row is not None:
        out["n_repeats"] = row.n_repeats
        if cls is None:
            out["sd"] = row.sd.get(metric)
            if row.baseline is not None:
                out["baseline"] = row.baseline
                out["delta"] = row.delta.get(metric)
                out["delta_ci_low"], out["delta_ci_high"] = row.delta_ci.get(metric, (None, None))
                out["p_value"] = row.p_value.get(metric)
        elif cls.isdigit() and int(cls) < len(row.class_sd.get(metric) or []):
            out["sd"] = row.class_sd[metric][int(cls)]
    return out


def _bench_stats(bench: Path, index: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Run key -> ``{"run": ..., "row": ...}`` :class:`~micro_bench_tables.stats.RowStats` of a
    benchmark's manifest (its runs' results must be readable)."""
    from micro_bench_tables.stats import row_keys, table_stats

    results = {k: read_result(bench / k) for row in index["rows"] for k in row_keys(row)}
    if any(r is None for r in results.values()):
        return {}
    metrics = list(dict.fromkeys(m for r in results.values() for m in r.metrics))  # type: ignore[union-attr]
    baseline = (index.get("table") or {}).get("baseline")
    rows = table_stats(bench, index, results, metrics, baseline)
    out = {}
    for row in rows:
        if row.n_repeats == 1:
            out[row.keys[0]] = {"run": row, "row": row}
            continue
        alone = table_stats(bench, {**index, "rows": [{"label": row.label, "key": k} for k in row.keys]},
                            results, metrics)
        for k, run in zip(row.keys, alone, strict=True):
            out[k] = {"run": run, "row": row}
    return out


def tidy_rows(runs_dir: str | Path) -> list[dict[str, Any]]:
    """Rows of every ``<runs_dir>/<benchmark>/<key>/result.json``, ordered by benchmark, then as
    listed in the benchmark's ``index.json`` (others last, by key). Columns: :data:`BASE_COLUMNS`
    then the sorted ``config.*`` columns (missing ones are ``None``)."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise MicroBenchError(f"results folder {str(root)!r} does not exist")
    rows: list[dict[str, Any]] = []
    for bench in sorted(p for p in root.iterdir() if p.is_dir()):
        order: dict[str, int] = {}
        stats: dict[str, dict[str, Any]] = {}
        index = bench / "index.json"
        if index.is_file():
            manifest = read_index(bench)
            from micro_bench_tables.stats import row_keys

            order = {k: i for i, r in enumerate(manifest["rows"]) for k in row_keys(r)}
            stats = _bench_stats(bench, manifest)
        found = sorted(bench.glob(f"*/{RESULT_FILE}"), key=lambda p: (order.get(p.parent.name, len(order)), p.parent.name))
        for path in found:
            result = read_result(path.parent)
            assert result is not None
            rows.extend(_rows_of(result, path.parent, stats.get(path.parent.name, {})))
    config_cols = sorted({k for row in rows for k in row if k.startswith("config.")})
    columns = [*BASE_COLUMNS, *config_cols]
    return [{c: row.get(c) for c in columns} for row in rows]


def results_frame(runs_dir: str | Path) -> Any:
    """:func:`tidy_rows` as a ``pandas.DataFrame``."""
    try:
        import pandas as pd
    except ImportError:
        raise MicroBenchError("results_frame needs pandas: pip install 'micro-bench[pandas]'") from None
    rows = tidy_rows(runs_dir)
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else list(BASE_COLUMNS))
