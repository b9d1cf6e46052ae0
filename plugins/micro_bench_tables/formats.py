"""A :class:`~micro_bench_tables.tables.Table` as Markdown, CSV or LaTeX.

Markdown cells: ``0.250 [0.221, 0.281] (0.260, -0.010)`` beside the paper's value; against a baseline row
``0.250 [0.221, 0.281] (0.240, Δ +0.010 [-0.020, +0.041], p 0.52)``, the delta starred where the
Holm-adjusted p < 0.05. CSV and LaTeX: one column per number (value, ``ci_low``, ``ci_high``,
``sd`` over repeats, the reference, ``delta``, ``delta_ci_low``, ``delta_ci_high``, ``p_holm``),
then per row ``n_eval``, ``repeats``, ``model``, ``dataset``, ``profile`` and (for stale results)
``status``. Per-class tables: one row per class, with the model, dataset and profile columns
naming every model column's model.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench_tables.tables import Cell, Table

__all__ = ["format_value", "md_cell", "render"]


def format_value(value: float | None, digits: int, signed: bool = False, count: bool = False) -> str:
    """A cell value as every table format shows it: ``digits`` decimals (``signed``: with its sign),
    a count as an integer, and "–" for a missing value or a per-class mapping."""
    if not isinstance(value, (int, float)):  # missing, or a per-class mapping in a metrics table
        return "–"
    if count:
        return str(int(value))
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _fmt(value: Any, digits: int, signed: bool = False, count: bool = False) -> str:
    return format_value(value, digits, signed=signed, count=count)


def _interval(pair: tuple[float, float] | None, digits: int, signed: bool = False) -> str:
    return f"[{_fmt(pair[0], digits, signed)}, {_fmt(pair[1], digits, signed)}]" if pair is not None else ""


def md_cell(c: Cell, digits: int, reference: str | None) -> str:
    """One Markdown cell (see the module docstring)."""
    ours = _fmt(c.ours, digits, count=c.count)
    if c.sd is not None:
        ours += f" (sd {_fmt(c.sd, digits)})"
    if c.ci is not None:
        ours += " " + _interval(c.ci, digits)
    if c.paper is None or reference is None:
        return ours
    if c.count:
        return f"{ours} ({_fmt(c.paper, digits, count=True)})"
    delta = _fmt(c.delta, digits, True) + ("*" if c.significant else "")
    if c.delta_ci is not None:
        delta += " " + _interval(c.delta_ci, digits, signed=True)
    if c.p is not None:
        delta += f", p {c.p:.2g}" if c.p < 0.995 else ", p 1"
    return f"{ours} ({_fmt(c.paper, digits)}, Δ {delta})" if reference != "paper" else \
        f"{ours} ({_fmt(c.paper, digits)}, {delta})"


def _columns(table: Table) -> tuple[list[str], list[list[str]]]:
    """The flat CSV/LaTeX header and rows."""
    has_ci = any(c.ci is not None for _, cells in table.rows for c in cells)
    has_sd = any(c.sd is not None for _, cells in table.rows for c in cells)
    has_test = any(c.p is not None for _, cells in table.rows for c in cells)
    ref = table.reference
    ref_name = "paper" + (f" ({table.paper_note})" if table.paper_note else "") if ref == "paper" else "baseline"
    parts: list[tuple[str, Any]] = [("", lambda c: _fmt(c.ours, table.digits, count=c.count))]
    if has_ci:
        parts += [("ci_low", lambda c: _fmt(c.ci[0], table.digits) if c.ci else ""),
                  ("ci_high", lambda c: _fmt(c.ci[1], table.digits) if c.ci else "")]
    if has_sd:
        parts.append(("sd", lambda c: _fmt(c.sd, table.digits) if c.sd is not None else ""))
    if ref is not None:
        parts += [(ref_name, lambda c: _fmt(c.paper, table.digits, count=c.count)),
                  ("delta", lambda c: _fmt(c.delta, table.digits, signed=True))]
    if has_test:
        parts += [("delta_ci_low", lambda c: _fmt(c.delta_ci[0], table.digits, signed=True) if c.delta_ci else ""),
                  ("delta_ci_high", lambda c: _fmt(c.delta_ci[1], table.digits, signed=True) if c.delta_ci else ""),
                  ("p_holm", lambda c: f"{c.p:.4f}" if c.p is not None else "")]
    info_cols = [k for k in ("n_eval", "repeats", "model", "dataset", "profile", "status")
                 if any(k in info for info in table.row_info.values())]
    header = [table.row_label] + [f"{col} {suffix}".strip() for col in table.columns for suffix, _ in parts] + info_cols
    rows = []
    for label, cells in table.rows:
        info = table.row_info.get(label) or table.row_info.get("*", {})
        rows.append([label] + [get(c) for c in cells for _, get in parts]
                    + ["" if info.get(k) is None else str(info.get(k)) for k in info_cols])
    return header, rows


def render(table: Table, fmt: str = "md") -> str:
    """Render as ``md``, ``csv`` or ``tex``."""
    if fmt == "md":
        head = [f"### {table.title}", "", *[f"{line}  " for line in table.header], "", table.legend, ""]
        lines = ["| " + " | ".join([table.row_label, *table.columns]) + " |",
                 "|" + "---|" * (len(table.columns) + 1)]
        for label, cells in table.rows:
            lines.append("| " + " | ".join([label, *(md_cell(c, table.digits, table.reference) for c in cells)]) + " |")
        return "\n".join(head + lines) + "\n"
    header, rows = _columns(table)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "tex":
        esc = lambda s: (s.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%")  # noqa: E731
                         .replace("&", r"\&").replace("#", r"\#").replace("γ", r"$\gamma$").replace("Δ", r"$\Delta$")
                         .replace("−", "-").replace("`", "").replace("*", ""))
        out = [r"\begin{table}[t]", r"\centering", r"\caption{" + esc(table.caption or table.title) + "}",
               r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\hline",
               " & ".join(esc(c) for c in header) + r" \\", r"\hline"]
        out += [" & ".join(esc(v) for v in row) + r" \\" for row in rows]
        out += [r"\hline", r"\end{tabular}", r"\end{table}"]
        return "\n".join(out) + "\n"
    raise ValueError(f"unknown table format {fmt!r}; expected md, csv or tex")
