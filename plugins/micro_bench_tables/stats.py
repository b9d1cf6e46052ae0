"""Uncertainty of a table's rows from their saved predictions: intervals, repeats, paired tests.

For each row (all its repeats) this reads ``predictions.npz`` (the evaluated samples' ids,
labels, scores and thresholded predictions) and computes, with the row's own ``evaluate.ci``
settings (:func:`row_ci_settings`: the manifest's ``row_ci`` entry when the rows' settings differ,
else its ``ci``; the defaults for manifests written before either existed):

* ``value``: the metric in ``result.json``, the mean over the row's repeats; ``sd`` the standard
  deviation over repeats (``ddof=1``; None for one repeat);
* ``ci``: the percentile bootstrap interval of that value over the evaluated samples (every
  repeat scored on the same resamples, then averaged: the interval is the sample uncertainty of
  the repeat mean; seed-to-seed spread is ``sd``);
* against a baseline row (``table: {baseline: LABEL}``, ``micro-bench compare``): ``delta``
  (row - baseline), its paired-bootstrap interval (both rows scored on the resamples of the
  baseline row's settings), the two-sided p-value
  (:func:`micro_bench_metrics.paired.bootstrap_p_value`) and the Holm-adjusted p across the
  compared rows, per metric. Rows whose evaluated samples differ from the baseline's are not
  compared (``refused`` says why).

Metrics without a bootstrap (third-party ones) get values only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Why a row has no interval.
NO_PREDICTIONS = "no saved predictions (predictions.npz): no interval"

__all__ = ["NO_PREDICTIONS", "RowStats", "ci_settings", "compare", "row_ci_settings", "row_keys", "table_stats"]


@dataclass
class RowStats:
    """One table row's numbers (see the module docstring); metric id -> value in each mapping."""

    label: str
    keys: list[str]
    n_eval: int | None = None
    values: dict[str, float | None] = field(default_factory=dict)
    sd: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    class_ci: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    #: per-class metric id -> K standard deviations over the repeats (rows with several repeats;
    #: None where a repeat has no value for the class)
    class_sd: dict[str, list[float | None]] = field(default_factory=dict)
    baseline: str | None = None
    delta: dict[str, float] = field(default_factory=dict)
    delta_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    p_raw: dict[str, float] = field(default_factory=dict)
    p_value: dict[str, float] = field(default_factory=dict)
    #: why this row has no interval or was not compared (None: nothing to say)
    note: str | None = None
    #: this row's own ``evaluate.ci`` settings (None: ``ci: false``), see :func:`row_ci_settings`
    settings: dict[str, Any] | None = None
    ids: Any = None
    dist: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the scalar metrics' distributions on the resamples of the paired tests (the baseline
    #: row's settings; ``dist`` itself when this row's settings draw the same resamples)
    paired: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_repeats(self) -> int:
        return len(self.keys)


def row_keys(row: Mapping[str, Any]) -> list[str]:
    """The run keys of a manifest row: every repeat's, else its one key."""
    return list(row.get("repeats") or [row["key"]])


def ci_settings(index: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest's ``ci`` settings (the defaults when it predates them; None when off)."""
    from micro_bench.config import CI_DEFAULTS

    if "ci" not in index:
        return dict(CI_DEFAULTS)
    ci = index["ci"]
    return None if ci is None else {**CI_DEFAULTS, **ci}


def row_ci_settings(index: Mapping[str, Any], label: str) -> dict[str, Any] | None:
    """The ``evaluate.ci`` settings of the row ``label``: its entry in the manifest's ``row_ci``
    (written by the tables plugin when the rows' settings differ), else the manifest's ``ci``
    (:func:`ci_settings`); over the defaults, None for ``ci: false``."""
    from micro_bench.config import CI_DEFAULTS

    per_row = index.get("row_ci") or {}
    if label not in per_row:
        return ci_settings(index)
    ci = per_row[label]
    return None if ci is None else {**CI_DEFAULTS, **ci}


def _predictions(run_dir: Path) -> dict[str, Any] | None:
    import numpy as np

    path = run_dir / "predictions.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in ("ids", "y_true", "y_score", "y_pred") if k in data}
    except Exception as exc:  # noqa: BLE001 - numpy/zipfile raise many types for a damaged file
        from micro_bench.runfolder import ResultError

        raise ResultError(f"{path}: cannot be read ({type(exc).__name__}: {str(exc)[:100]}); run `micro-bench verify "
                          f"{run_dir.parent.parent}` or rerun the benchmark with --force") from None


#: (predictions file, its mtime, metrics, resample settings) -> distributions; a table is built
#: several times in one process (files, terminal, report, results), each run's resamples once.
_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}
_CACHE_SIZE = 32


def _distributions(run_dir: Path, metrics: Sequence[str], preds: Mapping[str, Any], idx: Any,
                   ci: Mapping[str, Any]) -> dict[str, Any]:
    from micro_bench_metrics.bootstrap import distributions

    path = run_dir / "predictions.npz"
    key = (str(path.resolve()), path.stat().st_mtime_ns, tuple(metrics), ci["n"], ci["seed"], idx.shape)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = distributions(metrics, preds["y_true"], preds["y_score"], preds["y_pred"], idx)
    return _CACHE[key]


def table_stats(bench_dir: Path, index: Mapping[str, Any], results: Mapping[str, Any],
                metrics: Sequence[str], baseline: str | None = None,
                test_ci: Mapping[str, Any] | None = None) -> list[RowStats]:
    """:class:`RowStats` of every row of the manifest ``index`` (``results``: key -> RunResult,
    every repeat's), compared with the row ``baseline`` when given. A row's runs are in
    ``bench_dir``, or in its ``dir`` entry when it has one.

    Each row's interval uses that row's own ``evaluate.ci`` (:func:`row_ci_settings`). The paired
    tests score both rows of a pair on the same resamples: those of ``test_ci``, by default the
    baseline row's settings (no tests when the baseline's intervals are off)."""
    import numpy as np

    from micro_bench_metrics.bootstrap import PER_CLASS, percentile_interval

    rows = []
    usable: dict[str, tuple[Path, list[str], list[Any]]] = {}  # label -> where its predictions are
    for row in index["rows"]:
        keys = row_keys(row)
        stats = RowStats(row["label"], keys, settings=row_ci_settings(index, row["label"]))
        ci = stats.settings
        runs = [results[k] for k in keys]
        for m in metrics:
            vals = [r.metrics.get(m) for r in runs]
            if all(isinstance(v, (int, float)) for v in vals):
                stats.values[m] = float(np.mean(vals))
                if len(vals) > 1:
                    stats.sd[m] = float(np.std(vals, ddof=1))
        if len(runs) > 1:
            for m in PER_CLASS:
                per_run = [r.metrics.get(m) for r in runs]
                if all(isinstance(v, Mapping) for v in per_run):
                    stats.class_sd[m] = _class_sd(per_run)
        folder = Path(row.get("dir") or bench_dir)  # compare: rows of several benchmarks
        preds = [_predictions(folder / k) for k in keys]
        if any(p is None or "ids" not in p for p in preds):
            part = (runs[0].config.get("evaluate") or {}).get("split")
            n_eval = (runs[0].counts.get("n") or {}).get(part)  # recorded with the result
            stats.n_eval = int(n_eval) if isinstance(n_eval, int) else None
            stats.note = NO_PREDICTIONS
        else:
            ids = preds[0]["ids"]  # type: ignore[index]  # none is None here
            stats.n_eval = len(ids)
            stats.ids = ids
            if any(not np.array_equal(p["ids"], ids) for p in preds[1:]):  # type: ignore[index]
                stats.note = "repeats evaluated different samples: no interval"
            elif len(ids):
                usable[stats.label] = (folder, keys, preds)
                if ci is not None:
                    wanted = list(metrics) + [m for m in PER_CLASS if any(m in r.metrics for r in runs)]
                    stats.dist = _row_distributions(folder, keys, preds, wanted, ci)
                    for m, dist in stats.dist.items():
                        low, high = percentile_interval(dist, ci["level"])
                        if m in PER_CLASS:
                            stats.class_ci[m] = (low.tolist(), high.tolist())
                        else:
                            stats.ci[m] = (float(low), float(high))
        rows.append(stats)
    if baseline is not None:
        base = next(r for r in rows if r.label == baseline)
        settings = dict(test_ci) if test_ci is not None else base.settings
        if settings is not None:
            for r in rows:
                if r.label not in usable:
                    continue
                if r.settings is not None and _draws(r.settings) == _draws(settings):
                    r.paired = {m: d for m, d in r.dist.items() if m in metrics}
                else:  # other resamples than the baseline's: scored again on the baseline's
                    r.paired = _row_distributions(*usable[r.label], list(metrics), settings)
        compare(rows, baseline, metrics, settings["level"] if settings else 0.95)
    return rows


def _draws(ci: Mapping[str, Any]) -> tuple[Any, ...]:
    """What decides a set of resamples (the level only reads them)."""
    return ci["n"], ci["seed"]


def _row_distributions(folder: Path, keys: Sequence[str], preds: Sequence[Any], metrics: Sequence[str],
                       ci: Mapping[str, Any]) -> dict[str, Any]:
    """The distributions of ``metrics`` for a row: each repeat scored on the resamples of ``ci``
    (the same for every repeat), then averaged over the repeats."""
    import numpy as np

    from micro_bench_metrics.bootstrap import resample_indices

    n = len(preds[0]["ids"])
    idx = _RESAMPLES.get((n, ci["n"], ci["seed"]))
    if idx is None:
        if len(_RESAMPLES) >= 4:  # a (B, N) int64 array each
            _RESAMPLES.pop(next(iter(_RESAMPLES)))
        idx = _RESAMPLES[(n, ci["n"], ci["seed"])] = resample_indices(n, ci["n"], ci["seed"])
    per_repeat = [_distributions(folder / k, metrics, p, idx, ci) for k, p in zip(keys, preds, strict=True)]
    return {m: np.mean([d[m] for d in per_repeat], axis=0) for m in per_repeat[0]}


#: (samples, resamples, seed) -> resample indices, drawn once per process.
_RESAMPLES: dict[tuple[int, int, int], Any] = {}


def _class_sd(per_run: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """Per class (keys ``"0"``, ``"1"``, ...), the standard deviation (``ddof=1``) over the runs'
    values; None for a class some run has no (finite) number for."""
    import numpy as np

    k = max((int(c) for c in per_run[0] if str(c).isdigit()), default=-1) + 1
    out: list[float | None] = []
    for c in range(k):
        vals = [run.get(str(c)) for run in per_run]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
        sd = float(np.std(np.asarray(vals, np.float64), ddof=1)) if numeric else float("nan")
        out.append(sd if np.isfinite(sd) else None)
    return out


def compare(rows: Sequence[RowStats], baseline: str, metrics: Sequence[str], level: float) -> None:
    """Fill ``delta``, ``delta_ci``, ``p_raw`` and the Holm-adjusted ``p_value`` of every row
    against the row labelled ``baseline`` (adjusted across the compared rows, per metric)."""
    import numpy as np

    from micro_bench_metrics.bootstrap import percentile_interval
    from micro_bench_metrics.paired import bootstrap_p_value, holm

    base = next(r for r in rows if r.label == baseline)
    compared = []
    for row in rows:
        if row is base:
            continue
        row.baseline = baseline
        for m in metrics:
            mine, theirs = row.values.get(m), base.values.get(m)
            if mine is not None and theirs is not None:
                row.delta[m] = mine - theirs
        if base.ids is None or row.ids is None:
            row.note = row.note or NO_PREDICTIONS
            continue
        if len(row.ids) != len(base.ids) or not np.array_equal(row.ids, base.ids):
            row.note = (f"not compared: evaluated samples differ from {baseline!r}'s "
                        f"({len(row.ids)} vs {len(base.ids)} samples)")
            row.delta.clear()
            continue
        compared.append(row)
        for m in metrics:
            mine_d, theirs_d = row.paired or row.dist, base.paired or base.dist
            if m in mine_d and m in theirs_d:
                d = mine_d[m] - theirs_d[m]
                low, high = percentile_interval(d, level)
                row.delta_ci[m] = (float(low), float(high))
                row.p_raw[m] = bootstrap_p_value(d)
    for m in metrics:
        tested = [r for r in compared if m in r.p_raw]
        for r, p in zip(tested, holm([r.p_raw[m] for r in tested]), strict=True):
            r.p_value[m] = float(p)
