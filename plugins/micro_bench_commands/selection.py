"""``run --run LABEL``: run chosen rows of a benchmark, keep the other rows of its table.

The table manifest (``index.json``) of a partial run lists the rows just run and, for the other
rows, the results of the last run with the same file, profile and overrides (when there was
one), in the benchmark's order; so ``--run BCE`` recomputes one row and the table stays whole.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from micro_bench.config import BenchmarkConfig
from micro_bench.errors import ConfigError

__all__ = ["merge_rows", "select_runs", "whole_table"]


def select_runs(config: BenchmarkConfig, labels: Sequence[str]) -> BenchmarkConfig:
    """``config`` with only the runs labelled ``labels`` (in the file's order).

    Raises:
        ConfigError: a label that names no row (with the closest label and the list).
    """
    known = [run.label for run in config.runs]
    for label in labels:
        if label not in known:
            close = difflib.get_close_matches(label, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"--run {label!r}: {config.path} has no row labelled {label!r}{hint} "
                              f"Labels: {', '.join(known)}")
    chosen = tuple(run for run in config.runs if run.label in set(labels))
    return dataclasses.replace(config, runs=chosen)


def merge_rows(full: BenchmarkConfig, previous: Mapping[str, Any] | None,
               current: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest ``current`` (of a partial run) completed with ``previous``'s other rows.

    ``previous`` counts only if it came from the same file, profile and overrides; its rows
    whose label is still in ``full`` and was not run now are kept, in ``full``'s row order.
    """
    same = previous is not None and all(
        previous.get(k) == current.get(k) for k in ("benchmark", "config_file", "profile", "overrides"))
    old = {row["label"]: row for row in (previous or {}).get("rows", [])} if same else {}
    new = {row["label"]: row for row in current["rows"]}
    labels = dict.fromkeys(run.label for run in full.runs)  # a row's repeats share its label
    rows = [new.get(label) or old.get(label) for label in labels]
    return {**current, "rows": [row for row in rows if row is not None]}


def previous_index(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when there is none (or it is unreadable)."""
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def whole_table(full: BenchmarkConfig, out: Path) -> Callable[[], None]:
    """Read ``full``'s manifest now; the returned call, made after a partial run, completes the
    new manifest with the other rows (those whose result is still on disk)."""
    from micro_bench.results import index_name, write_json

    bench_dir = Path(out) / full.name
    index = bench_dir / index_name(full.overrides)
    before = previous_index(index)

    def complete() -> None:
        merged = merge_rows(full, before, previous_index(index) or {"rows": []})
        merged["rows"] = [r for r in merged["rows"] if (bench_dir / r["key"] / "result.json").is_file()]
        write_json(index, merged)

    return complete
