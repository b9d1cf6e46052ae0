"""Render a benchmark's cached results as the paper's tables: ours, the paper's, and the delta.

Input is ``runs/<benchmark>/index.json`` (written by the runner; ``index.set-<hash>.json`` for a
run with ``--set`` overrides, whose tables are ``table.set-<hash>.<format>``) plus each row's
``result.json``. Output formats: Markdown (cells ``ours (paper, Δ)``), CSV and LaTeX (separate
columns for ours, paper and delta).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from micro_bench.results import INDEX_FILE, read_index, read_result

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
    """Our value beside the paper's. ``count`` cells (example counts) show no delta."""

    ours: float | None
    paper: float | None = None
    count: bool = False

    @property
    def delta(self) -> float | None:
        if not isinstance(self.ours, (int, float)) or self.paper is None or self.count:
            return None
        return self.ours - self.paper


@dataclass
class Table:
    """Rows of labelled cells under grouped column headers."""

    title: str
    header: list[str]
    row_label: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    digits: int = 4
    #: What the second value of a cell is: "paper", or the label of the row every row is compared
    #: with (``table: {baseline: LABEL}``).
    reference: str = "paper"


def _read_csv(text: str | None) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text else []


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _header(index: Mapping[str, Any]) -> list[str]:
    ds = index.get("dataset") or {}
    shown = ("name", "n", "resolution", "source", "generator_version")
    data = ", ".join(f"{k} {v}" for k, v in ds.items() if k in shown)
    lines = [f"Data: {data or 'unknown'}" + (f"; profile `{index['profile']}`" if index.get("profile") else "; full configuration")]
    if index.get("overrides"):
        lines.append("Overrides: " + " ".join(f"`{o}`" for o in index["overrides"]))
    if ds.get("about"):  # the dataset's own word on what it is (e.g. hpa_synth: synthetic images)
        lines.append(str(ds["about"]))
    measured_on = str((index.get("table") or {}).get("reference_dataset") or "")
    if measured_on and str(ds.get("name", "")).lower() != measured_on.lower():
        lines.append(f"The paper's numbers are on the real {measured_on} data; on other data compare trends, not values.")
    lines.append(f"Config: `{index.get('config_file', '')}`; runs: {', '.join(r['key'] for r in index['rows'])}")
    return lines


def build_table(benchmark_dir: Path, index_file: str = INDEX_FILE) -> Table:
    """Build the table of one benchmark folder (``runs/<benchmark>``) from its manifest
    ``index_file``."""
    index = read_index(benchmark_dir, index_file)
    found = {row["key"]: read_result(Path(benchmark_dir) / row["key"]) for row in index["rows"]}
    missing = [row["label"] for row in index["rows"] if found[row["key"]] is None]
    results = {key: r for key, r in found.items() if r is not None}
    if missing:
        raise FileNotFoundError(f"{benchmark_dir}: no finished result for rows {missing}; run the benchmark first")
    ref = _read_csv(index.get("reference_csv"))
    if (index.get("table") or {}).get("kind") == "per_class":
        table = _per_class(index, results, ref)
        table.header += _selections(index, results)
        return table
    by_label = {r.get("label"): r for r in ref}
    metrics = index["metrics"]
    baseline = (index.get("table") or {}).get("baseline")
    table = Table(index["title"], _header(index), "Run", [metric_title(m, index) for m in metrics],
                  reference=baseline or "paper")
    base = next((results[r["key"]] for r in index["rows"] if r["label"] == baseline), None) if baseline else None
    if base is not None:  # every row against the baseline row, not against the paper
        by_label = {r["label"]: {m: str(base.metrics.get(m, "")) for m in metrics} for r in index["rows"]}
    for row in index["rows"]:
        result = results[row["key"]]
        paper = by_label.get(row["label"], {})
        table.rows.append((row["label"], [Cell(result.metrics.get(m), _num(paper.get(m))) for m in metrics]))
    table.header += _selections(index, results)
    return table


def _selections(index: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    """One line per row whose model was selected on validation results (``select`` trainer)."""
    lines = []
    for row in index["rows"]:
        history = results[row["key"]].history or {}
        chosen = history.get("selected")
        if isinstance(chosen, Mapping):
            lines.append(f"{row['label']}: selected {chosen['benchmark']} row '{chosen['label']}' "
                         f"({history.get('metric')} {chosen['value']:.4f} on val, best of "
                         f"{len(history.get('candidates', []))} rows of {', '.join(history.get('sources', []))}; "
                         f"run {chosen['key']}), evaluated without retraining")
    return lines


def _per_class(index: Mapping[str, Any], results: Mapping[str, Any], ref: Sequence[dict[str, str]]) -> Table:
    metrics = index["table"].get("metrics") or [m for m in index["metrics"] if metric_info(index, m).get("per_class")]
    labels = [row["label"] for row in index["rows"]]
    paper = {(r["class"], r["label"]): r for r in ref}
    counts_ref = {r["class"]: r for r in _read_csv(index.get("reference_counts_csv"))}
    columns = [f"{metric_title(m, index)} {label}" for m in metrics for label in labels] + ["Test", "Val", "Train"]
    table = Table(index["title"], _header(index), "Class", columns, digits=2)
    first = results[index["rows"][0]["key"]]
    num_classes = len(first.counts.get("train", []))
    for k in range(num_classes):
        cells = []
        for m in metrics:
            for row in index["rows"]:
                ours = results[row["key"]].metrics.get(m, {}).get(str(k))
                ref_row = paper.get((str(k), row["label"]), {})
                cells.append(Cell(ours, _num(ref_row.get(metric_info(index, m).get("reference", m)))))
        for part in ("test", "val", "train"):
            cells.append(Cell(float(first.counts[part][k]), _num(counts_ref.get(str(k), {}).get(part)), count=True))
        table.rows.append((str(k), cells))
    return table


def format_value(value: float | None, digits: int, signed: bool = False, count: bool = False) -> str:
    """A cell value as every table format shows it: ``digits`` decimals (``signed``: with its sign),
    a count as an integer, and "–" for a missing value or a per-class mapping."""
    if not isinstance(value, (int, float)):  # missing, or a per-class mapping in a metrics table
        return "–"
    if count:
        return str(int(value))
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _md_cell(c: Cell, digits: int) -> str:
    ours = format_value(c.ours, digits, count=c.count)
    if c.paper is None:
        return ours
    if c.count:
        return f"{ours} ({format_value(c.paper, digits, count=True)})"
    return f"{ours} ({format_value(c.paper, digits)}, {format_value(c.delta, digits, True)})"


def render(table: Table, fmt: str = "md") -> str:
    """Render as ``md``, ``csv`` or ``tex``."""
    if fmt == "md":
        head = [f"### {table.title}", "", *[f"{line}  " for line in table.header], "",
                (f"Each cell: ours ({table.reference}, Δ = ours − {table.reference})." if table.reference != "paper"
                 else "Each cell: ours (paper, Δ = ours − paper)."), ""]
        lines = ["| " + " | ".join([table.row_label, *table.columns]) + " |",
                 "|" + "---|" * (len(table.columns) + 1)]
        for label, cells in table.rows:
            parts = [_md_cell(c, table.digits) for c in cells]
            lines.append("| " + " | ".join([label, *parts]) + " |")
        return "\n".join(head + lines) + "\n"
    ref_name = "paper" if table.reference == "paper" else "baseline"
    flat_cols = [table.row_label] + [f"{c} {suffix}".strip() for c in table.columns for suffix in ("", ref_name, "delta")]
    flat_rows = [[label] + [format_value(v, table.digits, signed=(j == 2), count=c.count and j < 2) for c in cells
                            for j, v in enumerate((c.ours, c.paper, c.delta))]
                 for label, cells in table.rows]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(flat_cols)
        writer.writerows(flat_rows)
        return buf.getvalue()
    if fmt == "tex":
        esc = lambda s: s.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&").replace("γ", r"$\gamma$")  # noqa: E731
        out = [r"\begin{table}[t]", r"\centering", r"\caption{" + esc(table.title) + "}",
               r"\begin{tabular}{l" + "r" * (len(flat_cols) - 1) + "}", r"\hline",
               " & ".join(esc(c) for c in flat_cols) + r" \\", r"\hline"]
        out += [" & ".join(esc(v) for v in row) + r" \\" for row in flat_rows]
        out += [r"\hline", r"\end{tabular}", r"\end{table}"]
        return "\n".join(out) + "\n"
    raise ValueError(f"unknown table format {fmt!r}; expected md, csv or tex")


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
