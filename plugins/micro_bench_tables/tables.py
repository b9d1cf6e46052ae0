"""Render a benchmark's cached results as the paper's tables: ours, the paper's, and the delta.

Input is ``runs/<benchmark>/index.json`` (written by the runner; ``index.set-<hash>.json`` for a
run with ``--set`` overrides, whose tables are ``table.set-<hash>.<format>``) plus each row's
``result.json``. Output formats: Markdown (cells ``ours (paper, Δ)``), CSV and LaTeX (separate
columns for ours, paper and delta).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from micro_bench.results import INDEX_FILE, read_index, read_result
from micro_bench_tables.formats import format_value
from micro_bench_tables.formats import render as _render
from micro_bench_tables.labels import NOT_PAPER_DATA, Labels, describe
from micro_bench_tables.stats import NO_PREDICTIONS, RowStats, ci_settings, row_keys, table_stats

__all__ = ["Table", "build_table", "discover", "format_value", "manifests", "metric_info", "metric_title",
           "render", "table_name"]


def metric_info(index: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    """What the metric's spec declared (``title``, ``per_class``, ``reference``), as recorded in
    ``index.json`` by the runner; ``{}`` for a metric that declared nothing."""
    info: Mapping[str, Any] = (index.get("metric_info") or {}).get(metric) or {}
    return info


def metric_title(metric: str, index: Mapping[str, Any] | None = None) -> str:
    """The column title a metric declared (``extra["title"]``), else its id."""
    return str(metric_info(index or {}, metric).get("title") or metric)


@dataclass
class Cell:
    """Our value beside a reference: the paper's (``paper``), or the baseline row's when the
    table has one. ``count`` cells (example counts) show no delta. ``ci``: the bootstrap interval
    of ``ours``; ``sd``: standard deviation over repeats; against a baseline, ``delta_ci`` and the
    Holm-adjusted ``p`` of the paired test."""

    ours: float | None
    paper: float | None = None
    count: bool = False
    ci: tuple[float, float] | None = None
    sd: float | None = None
    delta_ci: tuple[float, float] | None = None
    p: float | None = None

    @property
    def delta(self) -> float | None:
        if not isinstance(self.ours, (int, float)) or self.paper is None or self.count:
            return None
        return self.ours - self.paper

    @property
    def significant(self) -> bool:
        """The paired test's adjusted p is below 0.05."""
        return self.p is not None and self.p < SIGNIFICANT


#: Adjusted p-values below this mark a delta.
SIGNIFICANT = 0.05


@dataclass
class Table:
    """Rows of labelled cells under grouped column headers."""

    title: str
    header: list[str]
    row_label: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    digits: int = 4
    #: What the second value of a cell is: "paper", the label of the row every row is compared
    #: with (``table: {baseline: LABEL}``), or None (no reference: no paper columns).
    reference: str | None = "paper"
    #: Set when the paper's numbers were measured on other data: said beside every paper column.
    paper_note: str = ""
    #: The .tex caption (ours: what made the table), and the legend of the cells.
    caption: str = ""
    legend: str = ""
    #: Column titles for the terminal when ``columns`` are too long for it (same order).
    short_columns: list[str] = field(default_factory=list)
    #: label -> {"n_eval", "repeats", "model", "dataset", "profile", "status"} (CSV columns);
    #: ``"*"``: the same for every row (per-class tables)
    row_info: dict[str, dict[str, Any]] = field(default_factory=dict)


def _read_csv(text: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text else []


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _header(index: Mapping[str, Any], labels: Labels, stats: Sequence[RowStats] | None = None,
            unit: str = "row") -> list[str]:
    ds = index.get("dataset") or {}
    shown = ("name", "n", "resolution", "source", "generator_version")
    data = ", ".join(f"{k} {v}" for k, v in ds.items() if k in shown)
    lines = [f"**{labels.stale.upper()[:5]}**{labels.stale[5:]}"] if labels.stale else []
    lines.append(f"Data: {data or 'unknown'}" + (f"; profile `{index['profile']}`" if index.get("profile") else "; full configuration"))
    lines.append(f"Model(s): {labels.model_list}")
    if index.get("overrides"):
        lines.append("Overrides: " + " ".join(f"`{o}`" for o in index["overrides"]))
    if ds.get("about"):  # the dataset's own word on what it is (e.g. hpa_synth: synthetic images)
        lines.append(str(ds["about"]))
    measured_on = str((index.get("table") or {}).get("reference_dataset") or "")
    if index.get("reference_csv") and measured_on and not labels.paper_data:
        lines.append(f"The paper's numbers are on the real {measured_on} data ({NOT_PAPER_DATA} here); "
                     "on other data compare trends, not values.")
    if stats is not None:
        lines.append(_evaluated(index, stats, unit))
    lines.append(f"Config: `{index.get('config_file', '')}`; runs: {', '.join(r['key'] for r in index['rows'])}")
    return lines


def _evaluated(index: Mapping[str, Any], stats: Sequence[RowStats], unit: str = "row") -> str:
    """``Evaluated: 120 samples (val split); 1 run per row; [95% percentile bootstrap ...]``
    (``unit``: what a table row of ``stats`` is called: ``model`` in per-class tables)."""
    part = _split_of(index)
    sizes = sorted({s.n_eval for s in stats if s.n_eval is not None})
    if not sizes:
        n = "unknown number of samples"
    elif len(sizes) == 1 and all(s.n_eval is not None for s in stats):
        n = f"{sizes[0]} samples"
    else:
        n = "samples " + ", ".join(f"{s.label} {s.n_eval if s.n_eval is not None else '?'}" for s in stats)
    reps = sorted({s.n_repeats for s in stats})
    repeats = (f"1 run per {unit}" if reps == [1] else
               f"{reps[0]} repeats per {unit} (seeds seed, seed + 1, ...): mean (sd over repeats)" if len(reps) == 1
               else "repeats: " + ", ".join(f"{s.label} {s.n_repeats}" for s in stats))
    settings = [s.settings for s in stats]
    if any(s.ci or s.class_ci for s in stats) and any(ci != settings[0] for ci in settings):
        interval = ("[percentile bootstrap intervals over the evaluated samples, each row's own evaluate.ci "
                    "(they differ): " + "; ".join(f"{s.label} {_ci_text(s.settings)}" for s in stats) + "]")
        tested = next((s.baseline for s in stats if s.p_raw), None)
        if tested is not None:
            interval += f"; paired tests on the resamples of {tested}'s settings"
    elif (settings[0] if settings else ci_settings(index)) is None:
        interval = "no intervals (evaluate.ci: false)"
    elif any(s.ci or s.class_ci for s in stats):
        ci = settings[0]
        assert ci is not None
        interval = (f"[{ci['level']:.0%} percentile bootstrap interval over the evaluated samples, "
                    f"{ci['n']} resamples, seed {ci['seed']}]")
    else:
        interval = "no intervals (the results folder keeps no predictions.npz)"
    notes = [f"{s.label}: {s.note}" for s in stats if s.note and s.note != NO_PREDICTIONS]
    return f"Evaluated: {n}{f' ({part} split)' if part else ''}; {repeats}; {interval}" + (
        "; " + "; ".join(notes) if notes else "")


def _ci_text(ci: Mapping[str, Any] | None) -> str:
    """``95% 1000 resamples seed 0``, or ``no interval (ci: false)``."""
    return "no interval (ci: false)" if ci is None else f"{ci['level']:.0%} {ci['n']} resamples seed {ci['seed']}"


def _split_of(index: Mapping[str, Any]) -> str:
    return str(index.get("evaluate_split") or "")


def build_table(benchmark_dir: Path, index_file: str = INDEX_FILE) -> Table:
    """Build the table of one benchmark folder (``runs/<benchmark>``) from its manifest
    ``index_file``: values with bootstrap intervals from the saved predictions, mean and sd over
    repeats, and against ``table.baseline`` the paired deltas with Holm-adjusted p-values."""
    index = read_index(benchmark_dir, index_file)
    keys = [k for row in index["rows"] for k in row_keys(row)]
    found = {k: read_result(Path(benchmark_dir) / k) for k in keys}
    missing = [row["label"] for row in index["rows"] if any(found[k] is None for k in row_keys(row))]
    results = {key: r for key, r in found.items() if r is not None}
    if missing:
        raise FileNotFoundError(f"{benchmark_dir}: no finished result for rows {missing}; run the benchmark first")
    index = {**index, "evaluate_split": (results[keys[0]].config.get("evaluate") or {}).get("split") if keys else None}
    labels = describe(index, results, index["rows"], Path(benchmark_dir).parent)
    ref = _read_csv(index.get("reference_csv"))
    if (index.get("table") or {}).get("kind") == "per_class":
        table = _per_class(Path(benchmark_dir), index, results, ref, labels)
        table.header += _selections(index, results)
        return table
    by_label = {r.get("label"): r for r in ref}
    metrics = index["metrics"]
    baseline = (index.get("table") or {}).get("baseline")
    stats = table_stats(Path(benchmark_dir), index, results, metrics, baseline)
    has_ci = any(s.ci for s in stats)
    reference = baseline or ("paper" if ref else None)
    table = Table(index["title"], _header(index, labels, stats), "Run", [metric_title(m, index) for m in metrics],
                  reference=reference, digits=3 if has_ci else 4,
                  paper_note=NOT_PAPER_DATA if ref and not baseline and not labels.paper_data else "")
    base = next((s for s in stats if s.label == baseline), None) if baseline else None
    for row in stats:
        paper = by_label.get(row.label, {})
        cells = []
        for m in metrics:
            value = row.values.get(m, results[row.keys[0]].metrics.get(m))
            other = base.values.get(m) if base is not None else _num(paper.get(m))
            cells.append(Cell(value, other, ci=row.ci.get(m), sd=row.sd.get(m), delta_ci=row.delta_ci.get(m),
                              p=row.p_value.get(m)))
        table.rows.append((row.label, cells))
        table.row_info[row.label] = {"n_eval": row.n_eval, "repeats": row.n_repeats,
                                     "model": labels.models.get(row.label, ""), "dataset": labels.dataset,
                                     "profile": labels.profile, **({"status": labels.stale} if labels.stale else {})}
    table.header += _selections(index, results)
    table.caption = _caption(index, labels, stats)
    table.legend = _legend(table, has_ci, stats)
    return table


def _caption(index: Mapping[str, Any], labels: Labels, stats: Sequence[RowStats] | None) -> str:
    """The .tex caption: what this table is and what made it, never the paper's own caption."""
    sizes = sorted({s.n_eval for s in stats or () if s.n_eval is not None})
    evaluated = f"; {sizes[0]} evaluated samples" if len(sizes) == 1 else ""
    paper = "" if labels.paper_data or not index.get("reference_csv") else f" ({NOT_PAPER_DATA})"
    stale = f" {labels.stale.capitalize()}." if labels.stale else ""
    return (f"micro-bench results for {index.get('title') or index.get('benchmark')}: data {labels.dataset}{paper}, "
            f"profile {labels.profile}, model(s) {labels.model_list}{evaluated}.{stale}")


def _legend(table: Table, has_ci: bool, stats: Sequence[RowStats]) -> str:
    differ = any(s.settings != stats[0].settings for s in stats)
    value = "ours" + (" (sd over repeats)" if any(s.n_repeats > 1 for s in stats) else "") + (
        (" [interval, with each row's own evaluate.ci settings: see Evaluated]" if differ else " [interval]")
        if has_ci else "")
    if table.reference is None:
        return f"Each cell: {value}."
    if table.reference == "paper":
        note = f"; {table.paper_note}" if table.paper_note else ""
        return f"Each cell: {value} (paper, Δ = ours − paper{note})."
    return (f"Each cell: {value} ({table.reference}, Δ = ours − {table.reference}"
            + (f" [paired-bootstrap interval], p Holm-adjusted over the rows; * p < {SIGNIFICANT}"
               if any(s.p_value for s in stats) else "") + ").")


def _selections(index: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    """One line per row whose model was selected on validation results (``select`` trainer):
    which source row, its validation value (the mean over its repeats when it has several),
    and which of its runs this row evaluated."""
    lines = []
    for row in index["rows"]:
        keys = row_keys(row)
        histories = [results[key].history or {} for key in keys]
        history = histories[0]
        chosen = history.get("selected")
        if not isinstance(chosen, Mapping):
            continue
        n_source = int(chosen.get("repeats") or 1)
        value = f"{history.get('metric')} {chosen['value']:.4f} on val" + (
            f", mean over its {n_source} repeats" if n_source > 1 else "")
        evaluated = [h.get("selected", {}) for h in histories]
        runs = sorted({e.get("key") for e in evaluated if isinstance(e, Mapping)}, key=str)
        if len(keys) > 1 and len(runs) == 1:
            which = (f"run {runs[0]}: each of this row's {len(keys)} repeats evaluated that one run, "
                     "so its sd is 0 by construction")
        elif len(keys) > 1:
            which = (f"runs {', '.join(str(e.get('key')) for e in evaluated)} (its repeats with seeds "
                     f"{', '.join(str(e.get('seed')) for e in evaluated)}, one per repeat of this row)")
        elif n_source > 1:
            which = (f"run {chosen['key']} only (its repeat {int(chosen.get('repeat') or 0) + 1} of {n_source}, "
                     f"seed {chosen.get('seed')}; give this row repeats: {n_source} to evaluate each)")
        else:
            which = f"run {chosen['key']}"
        lines.append(f"{row['label']}: selected {chosen['benchmark']} row '{chosen['label']}' ({value}, best of "
                     f"{len(history.get('candidates', []))} rows of {', '.join(history.get('sources', []))}; "
                     f"{which}), evaluated without retraining")
    return lines


def _per_class(bench_dir: Path, index: Mapping[str, Any], results: Mapping[str, Any],
               ref: Sequence[dict[str, str]], labels: Labels) -> Table:
    """One row per class, one column per (per-class metric, model row): the value (mean over the
    row's repeats, with their sd) and its per-class bootstrap interval, beside the paper's."""
    metrics = index["table"].get("metrics") or [m for m in index["metrics"] if metric_info(index, m).get("per_class")]
    rows = index["rows"]
    paper = {(r["class"], r["label"]): r for r in ref}
    counts_ref = {r["class"]: r for r in _read_csv(index.get("reference_counts_csv"))}
    chosen = {row["label"]: labels.models[row["label"]] for row in rows
              if isinstance((results[row["key"]].history or {}).get("selected"), Mapping)}
    names = {row["label"]: row["label"] + (f" ({results[row['key']].history['selected'].get('label')})"
                                           if row["label"] in chosen else "") for row in rows}
    columns = [f"{metric_title(m, index)} {names[row['label']]}" for m in metrics for row in rows] + ["Test", "Val", "Train"]
    title = index["title"] + (" (" + "; ".join(f"{label}: {model}" for label, model in chosen.items()) + ")"
                              if chosen else "")
    stats = {s.label: s for s in table_stats(bench_dir, index, results, [])}  # per-class intervals
    header = _header(index, labels, list(stats.values()), unit="model")
    table = Table(title, header, "Class", columns, digits=2,
                  reference="paper" if ref else None, paper_note="" if labels.paper_data else NOT_PAPER_DATA)
    # the terminal names a selected row's column by its label alone; the header names the selection
    table.short_columns = [f"{metric_title(m, index)} {row['label']}" for m in metrics for row in rows] + [
        "Test", "Val", "Train"]
    first = results[rows[0]["key"]]
    num_classes = len(first.counts.get("train", []))
    for k in range(num_classes):
        cells = []
        for m in metrics:
            for row in rows:
                ours = _mean([results[key].metrics.get(m, {}).get(str(k)) for key in row_keys(row)])
                ref_row = paper.get((str(k), row["label"]), {})
                row_stats = stats[row["label"]]
                cells.append(Cell(ours, _num(ref_row.get(metric_info(index, m).get("reference", m))),
                                  ci=_class_interval(row_stats.class_ci.get(m), k) if ours is not None else None,
                                  sd=_at(row_stats.class_sd.get(m), k)))
        for part in ("test", "val", "train"):
            cells.append(Cell(float(first.counts[part][k]), _num(counts_ref.get(str(k), {}).get(part)), count=True))
        table.rows.append((_class_row(k, (index.get("dataset") or {}).get("class_names")), cells))
    table.caption = _caption(index, labels, list(stats.values()))
    table.legend = _legend(table, any(c.ci is not None for _, cells in table.rows for c in cells), list(stats.values()))
    table.row_info["*"] = {"model": "; ".join(f"{label}: {model}" for label, model in labels.models.items()),
                           "dataset": labels.dataset, "profile": labels.profile,
                           **({"status": labels.stale} if labels.stale else {})}
    return table


def _class_interval(pair: tuple[Sequence[float], Sequence[float]] | None, k: int) -> tuple[float, float] | None:
    """Class ``k``'s interval from a row's per-class ``(lows, highs)`` (None where undefined)."""
    low, high = _at(pair[0], k) if pair else None, _at(pair[1], k) if pair else None
    return (low, high) if low is not None and high is not None else None


def _at(values: Sequence[Any] | None, k: int) -> float | None:
    """``values[k]`` when it is a finite number, else None."""
    if values is None or k >= len(values) or not isinstance(values[k], (int, float)):
        return None
    value = float(values[k])
    return value if math.isfinite(value) else None


def _class_row(k: int, names: Sequence[str] | None) -> str:
    """A per-class row's label: the class index and the dataset's name for it (``"8 Intermediate
    filaments"``), so that every table names the classes of the data it was computed on."""
    return f"{k} {names[k]}" if names is not None and k < len(names) else str(k)


def _mean(values: Sequence[Any]) -> float | None:
    """The mean over a row's repeats (None when any is missing or undefined)."""
    if not values or not all(isinstance(v, (int, float)) for v in values):
        return None
    return float(sum(values) / len(values))


def render(table: Table, fmt: str = "md") -> str:
    """Render as ``md``, ``csv`` or ``tex`` (:mod:`micro_bench_tables.formats`)."""
    return _render(table, fmt)


def discover(runs_dir: Path) -> list[Path]:
    """Benchmark folders under ``runs_dir`` that have an ``index.json``, sorted by name."""
    return sorted(p.parent for p in Path(runs_dir).glob(f"*/{INDEX_FILE}"))


def manifests(runs_dir: Path) -> list[Path]:
    """Every table manifest under ``runs_dir``: ``<benchmark>/index.json`` and the
    ``index.set-<hash>.json`` of runs with overrides, sorted."""
    return sorted(Path(runs_dir).glob("*/index*.json"))


def table_name(index_file: str, fmt: str, benchmark: str | None = None) -> str:
    """The file a table is written to: ``table.md`` for ``index.json``, ``table.set-<hash>.md``
    for ``index.set-<hash>.json``; ``<benchmark>[.set-<hash>].md`` with ``benchmark``."""
    variant = index_file.removeprefix("index").removesuffix(".json")
    return f"{benchmark or 'table'}{variant}.{fmt}"
