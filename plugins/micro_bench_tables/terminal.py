"""The table as ``micro-bench run`` prints it: the key metrics, ours and Δ, within 100 columns.

The files (``table.md``, ``.csv``, ``.tex``) keep every column and the paper's values; the
terminal shows the columns that tell the story first (macro F1 and ROC-AUC, then the rest while
they fit), each cell ``ours Δ``, and per-class rows under their class names.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from micro_bench_tables.tables import Cell, Table

__all__ = ["WIDTH", "render_terminal", "summary_lines"]

#: Columns of the terminal table.
WIDTH = 100
#: Column titles in the order they earn a place (a prefix match; the rest come last).
PRIORITY = ("F1 (macro)", "ROC AUC (macro)", "F1 ", "Test", "Precision (macro)", "Recall (macro)",
            "F1 (micro)", "ROC AUC (micro)", "Hamming loss")


def _rank(title: str) -> int:
    return next((i for i, p in enumerate(PRIORITY) if title.startswith(p)), len(PRIORITY))


def _cell(c: Cell, digits: int) -> str:
    if not isinstance(c.ours, (int, float)):  # missing, or a per-class mapping in a metrics table
        return "–"
    if c.count:
        return str(int(c.ours))
    text = f"{c.ours:.{digits}f}"
    if c.ci is not None:  # the interval as its half-width: 0.250 ±0.030
        text += f" ±{(c.ci[1] - c.ci[0]) / 2:.{digits}f}"
    if c.sd is not None:
        text += f" sd {c.sd:.{digits}f}"
    delta = c.delta
    return text + (f" {delta:+.{digits}f}" + ("*" if c.significant else "") if delta is not None else "")


def render_terminal(table: Table, *, class_names: Sequence[str] | None = None, width: int = WIDTH) -> str:
    """``table`` for a terminal ``width`` columns wide (see the module docstring).

    Args:
        table: from :func:`micro_bench_tables.tables.build_table`.
        class_names: names for per-class rows labelled ``0..K-1`` (shown as ``"0 Nucleoplasm"``).
        width: the widest line.
    """
    labels = [label for label, _ in table.rows]
    if class_names is not None:
        labels = [f"{lab} {class_names[int(lab)]}" if lab.isdigit() and int(lab) < len(class_names) else lab
                  for lab in labels]
    label_w = min(max([len(table.row_label), *map(len, labels)]), 26)
    texts = [[_cell(c, table.digits) for c in cells] for _, cells in table.rows]
    titles = table.short_columns or table.columns  # e.g. without the selected rows' names
    widths = [max([len(title), *(len(row[j]) for row in texts)]) for j, title in enumerate(titles)]
    chosen: list[int] = []
    used = label_w
    for j in sorted(range(len(table.columns)), key=lambda j: (_rank(table.columns[j]), j)):
        if _rank(table.columns[j]) < len(PRIORITY) and used + 2 + widths[j] <= width:
            chosen.append(j)
            used += 2 + widths[j]
    chosen.sort()

    def line(label: str, cells: Sequence[str]) -> str:
        parts = [label[:label_w].ljust(label_w)] + [cells[j].rjust(widths[j]) for j in chosen]
        return "  ".join(parts).rstrip()

    out = textwrap.wrap(table.title, width)
    header = [h.replace("`", "").split("; runs: ")[0] for h in table.header]  # run keys: in the files
    out += [wrapped for h in header for wrapped in textwrap.wrap(h, width)]
    out += ["", line(table.row_label, titles)]
    out += [line(label, row) for label, row in zip(labels, texts, strict=True)]
    hidden = len(table.columns) - len(chosen)
    ref = table.reference
    has_ci = any(c.ci is not None for _, cells in table.rows for c in cells)
    note = "Each cell: ours" + (" ±half the interval" if has_ci else "") + (
        " sd over repeats" if any(c.sd is not None for _, cells in table.rows for c in cells) else "")
    if ref is not None:
        note += f" and Δ = ours − {ref}" + (f" ({table.paper_note})" if ref == "paper" and table.paper_note else "")
        if any(c.p is not None for _, cells in table.rows for c in cells):
            note += ", * Holm-adjusted p < 0.05"
    if hidden:
        note += (f"; {hidden} more column(s) and the paper's values in the table files" if ref == "paper"
                 else f"; {hidden} more column(s) in the table files" if ref is None
                 else f"; {hidden} more column(s) and {ref}'s values in the files")
    out += ["", *textwrap.wrap(note + ".", width)]
    return "\n".join(out) + "\n"


def summary_lines(index: Mapping[str, Any], results: Mapping[str, Any],
                  metrics: Sequence[str] = ("f1_macro", "roc_auc_macro")) -> list[str]:
    """One line per metric with every row's value, e.g. ``F1 (macro): LR 0.064 · RF 0.071``
    (for per-class tables, whose rows are classes and whose models are columns)."""
    from micro_bench_tables.tables import metric_title

    lines = []
    for metric in metrics:
        values = [(row["label"], results[row["key"]].metrics.get(metric)) for row in index["rows"]]
        shown = [f"{label} {value:.3f}" for label, value in values if isinstance(value, float)]
        if shown:
            lines.append(f"{metric_title(metric, index)}: " + " · ".join(shown))
    return lines


def terminal_text(bench_dir: Path, table: Table, index_file: str = "index.json") -> str:
    """What ``run`` prints for the benchmark folder ``bench_dir`` (manifest ``index_file``): the
    table, and for per-class tables the macro F1 and ROC-AUC of each model."""
    from micro_bench.results import read_index, read_result

    index = read_index(bench_dir, index_file)
    names = (index.get("dataset") or {}).get("class_names")
    text = render_terminal(table, class_names=names)
    if (index.get("table") or {}).get("kind") == "per_class":
        results = {row["key"]: read_result(Path(bench_dir) / row["key"]) for row in index["rows"]}
        text += "\n".join(summary_lines(index, results)) + "\n"
    return text
