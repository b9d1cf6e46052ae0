"""Every finished run under a results folder as one tidy table: one row per run x metric x
split (x class, for per-class metrics), with the run's config flattened into columns.

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

__all__ = ["BASE_COLUMNS", "results_frame", "tidy_rows"]

#: The columns every row has, before the ``config.*`` ones.
BASE_COLUMNS = ("benchmark", "label", "key", "split", "metric", "class", "value", "threshold_rule",
                "dataset", "dataset_fingerprint", "version", "fit_s", "predict_s", "run_dir")


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


def _rows_of(result: RunResult, run_dir: Path) -> list[dict[str, Any]]:
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
            rows.append({**base, "metric": metric, "class": cls, "value": v, **config})
    return rows


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
        index = bench / "index.json"
        if index.is_file():
            order = {r["key"]: i for i, r in enumerate(read_index(bench)["rows"])}
        found = sorted(bench.glob(f"*/{RESULT_FILE}"), key=lambda p: (order.get(p.parent.name, len(order)), p.parent.name))
        for path in found:
            result = read_result(path.parent)
            assert result is not None
            rows.extend(_rows_of(result, path.parent))
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
