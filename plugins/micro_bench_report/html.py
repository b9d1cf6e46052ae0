"""A self-contained HTML page of every benchmark under a results folder: the tables of
:mod:`micro_bench_tables.tables` (ours, the paper's, delta) and each run's PNG figures inlined."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from micro_bench.errors import MicroBenchError
from micro_bench.results import read_index
from micro_bench_tables.tables import Cell, Table, build_table, discover, format_value

__all__ = ["build_report"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.paper { color: #666; } .ci { color: #555; font-size: 0.9em; } .pos { color: #176f2c; } .neg { color: #b3261e; }
.meta { color: #555; font-size: 0.85em; margin: 0.2em 0; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 380px; border: 1px solid #eee; }
figcaption { font-size: 0.8em; color: #555; }
"""


def _cell(c: Cell, digits: int) -> str:
    parts = [format_value(c.ours, digits, count=c.count)]
    if c.sd is not None:
        parts.append(f' <span class="paper">(sd {format_value(c.sd, digits)})</span>')
    if c.ci is not None:
        parts.append(f' <span class="ci">[{format_value(c.ci[0], digits)}, {format_value(c.ci[1], digits)}]</span>')
    if c.paper is not None:
        parts.append(f'<br><span class="paper">{format_value(c.paper, digits, count=c.count)}</span>')
    delta = c.delta if isinstance(c.ours, (int, float)) else None
    if delta is not None:
        cls = "pos" if delta > 0 else "neg" if delta < 0 else ""
        mark = "*" if c.significant else ""
        test = (f" [{format_value(c.delta_ci[0], digits, signed=True)}, {format_value(c.delta_ci[1], digits, signed=True)}]"
                if c.delta_ci is not None else "") + (f", p {c.p:.2g}" if c.p is not None else "")
        parts.append(f'<br><span class="{cls}">{format_value(delta, digits, signed=True)}{mark}{html.escape(test)}</span>')
    return f"<td>{''.join(parts)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in [table.row_label, *table.columns])
    body = "".join(
        f"<tr><td>{html.escape(label)}</td>{''.join(_cell(c, table.digits) for c in cells)}</tr>"
        for label, cells in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figures(bench_dir: Path, rows: list[dict[str, str]]) -> str:
    """Every run's PNGs, inlined; a figure identical across runs (e.g. the split's class
    distribution) is shown once, captioned with every run it belongs to."""
    shown: dict[str, tuple[str, list[str]]] = {}  # base64 -> (figure name, run labels)
    for row in rows:
        for png in sorted((bench_dir / row["key"]).glob("*.png")):
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            shown.setdefault(data, (png.stem, []))[1].append(row["label"])
    out = []
    for data, (name, labels) in shown.items():
        caption = html.escape(f"{', '.join(labels) if len(labels) < len(rows) else 'all runs'}: {name}")
        out.append(f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{caption}</figcaption></figure>")
    return "".join(out)


def _inline(line: str) -> str:
    """A header line of :mod:`micro_bench_tables.tables` (Markdown code spans) as HTML."""
    parts = html.escape(line).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def build_report(runs_dir: Path) -> tuple[str, int]:
    """The page's HTML and the number of benchmarks in it."""
    benches = discover(runs_dir)
    if not benches:
        raise MicroBenchError(f"no benchmark results under {runs_dir}/ (looked for */index.json); run a benchmark first")
    sections = []
    for bench in benches:
        index = read_index(bench)
        table = build_table(bench)
        meta = "".join(f'<p class="meta">{_inline(line)}</p>' for line in table.header)
        figures = _figures(bench, index["rows"])
        legend = html.escape(table.legend + (" Below each value: the reference, then Δ." if table.reference else ""))
        sections.append(
            f'<section id="{html.escape(bench.name)}"><h2>{html.escape(table.title)}</h2>{meta}'
            f'<p class="meta">{legend}</p>'
            f"{_table(table)}{'<h3>Figures</h3>' + figures if figures else ''}</section>"
        )
    toc = "".join(f'<li><a href="#{html.escape(b.name)}">{html.escape(b.name)}</a></li>' for b in benches)
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>micro-bench report</title>'
            f"<style>{STYLE}</style></head><body><h1>micro-bench report: {html.escape(str(runs_dir))}</h1>"
            f"<ul>{toc}</ul>{''.join(sections)}</body></html>\n")
    return page, len(benches)
