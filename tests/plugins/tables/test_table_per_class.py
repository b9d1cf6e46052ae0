"""Per-class tables (Table V) print each class's bootstrap interval, the same numbers
``micro-bench results`` stores (``ci_low``, ``ci_high``), and a row with repeats its mean and sd
over the repeats, in every format (terminal, Markdown, CSV, LaTeX, HTML)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from micro_bench_metrics.bootstrap import distributions, percentile_interval, resample_indices
from micro_bench_metrics.catalog import compute_metrics
from micro_bench_metrics.plugin import _table_info
from micro_bench_report.html import build_report
from micro_bench_report.tidy import tidy_rows
from micro_bench_tables.formats import md_cell
from micro_bench_tables.tables import build_table, render
from micro_bench_tables.terminal import WIDTH, terminal_text

N, K = 80, 3
TABLE = ["per_class_precision", "per_class_f1"]
METRICS = [*TABLE, "f1_macro"]


def _predictions(signal: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(0).random((N, K)) < np.array([0.5, 0.3, 0.15])  # the same samples
    score = 1 / (1 + np.exp(-(signal * (2 * truth - 1) + rng.standard_normal((N, K)))))
    return {"ids": np.array([f"s{i}" for i in range(N)]), "y_true": truth, "y_score": score, "y_pred": score > 0.5}


def _write(root: Path, rows: dict[str, list[dict[str, np.ndarray]]], ci: dict | None = None) -> Path:
    """A finished per-class benchmark: rows label -> predictions of each repeat."""
    bench = root / "perclass"
    manifest = []
    for label, repeats in rows.items():
        keys = []
        for r, p in enumerate(repeats):
            key = f"{label}{r}"
            keys.append(key)
            (bench / key).mkdir(parents=True)
            np.savez_compressed(bench / key / "predictions.npz", **p)
            truth = p["y_true"]
            result = {"benchmark": "perclass", "label": label, "key": key,
                      "metrics": dict(compute_metrics(METRICS, truth, p["y_score"], p["y_pred"])),
                      "counts": {"n": {"test": N}, "test": truth.sum(0).tolist(), "val": [5, 4, 3], "train": [50, 40, 30]},
                      "dataset": {"name": "toyset", "n": 1000},
                      "config": {"seed": r, "model": {"name": "net"}, "evaluate": {"split": "test"}}}
            (bench / key / "result.json").write_text(json.dumps(result))
        manifest.append({"label": label, "key": keys[0], **({"repeats": keys} if len(keys) > 1 else {})})
    index = {"benchmark": "perclass", "title": "Per-class table", "config_file": "perclass.yaml", "profile": "quick",
             "overrides": [], "table": {"kind": "per_class", "metrics": TABLE}, "metrics": METRICS,
             "reference_csv": None, "metric_info": {m: _table_info(m) for m in METRICS}, "rows": manifest,
             "dataset": {"name": "toyset", "n": 1000, "class_names": ["alpha", "beta", "gamma"]},
             **({"ci": ci} if ci is not None else {})}
    (bench / "index.json").write_text(json.dumps(index))
    return bench


def test_per_class_cells_carry_the_intervals_results_stores_and_repeats_their_sd(tmp_path: Path) -> None:
    single, reps = _predictions(1.0, 1), [_predictions(1.5, s) for s in (2, 3, 4)]
    bench = _write(tmp_path, {"one": [single], "three": reps})
    table = build_table(bench)
    assert table.columns == ["Precision one", "Precision three", "F1 one", "F1 three", "Test", "Val", "Train"]
    cells = {label: dict(zip(table.columns, row, strict=True)) for label, row in table.rows}
    assert list(cells) == ["0 alpha", "1 beta", "2 gamma"]

    # The single-run row: each class's interval is the one `micro-bench results` stores.
    stored = {(r["metric"], int(r["class"])): (r["ci_low"], r["ci_high"])
              for r in tidy_rows(tmp_path) if r["label"] == "one" and r["class"] is not None}
    for metric, title in (("per_class_precision", "Precision one"), ("per_class_f1", "F1 one")):
        for k, name in enumerate(cells):
            assert cells[name][title].ci == pytest.approx(stored[metric, k], abs=1e-12)
            assert cells[name][title].sd is None
            low, high = cells[name][title].ci  # type: ignore[misc]
            assert low <= cells[name][title].ours <= high

    # The row with three repeats: the mean of the repeats' values, their sd, and the interval of
    # the repeat mean (every repeat on the same resamples), computed here by hand.
    idx = resample_indices(N, 1000, 0)
    dist = np.mean([distributions(["per_class_f1"], p["y_true"], p["y_score"], p["y_pred"], idx)["per_class_f1"]
                    for p in reps], axis=0)
    lows, highs = percentile_interval(dist, 0.95)
    values = np.array([[compute_metrics(["per_class_f1"], p["y_true"], p["y_score"], p["y_pred"])["per_class_f1"][str(k)]
                        for k in range(K)] for p in reps])
    for k, name in enumerate(cells):
        cell = cells[name]["F1 three"]
        assert cell.ours == pytest.approx(values[:, k].mean(), abs=1e-12)
        assert cell.sd == pytest.approx(np.std(values[:, k], ddof=1), abs=1e-12)
        assert cell.ci == pytest.approx((lows[k], highs[k]), abs=1e-12)
        assert cells[name]["Test"].ci is None and cells[name]["Test"].count  # counts have none
    # results: each repeat keeps its own interval, and the row's sd per class
    tidy = [r for r in tidy_rows(tmp_path) if r["label"] == "three" and r["metric"] == "per_class_f1"]
    assert sorted(r["sd"] for r in tidy if r["class"] == "1") == pytest.approx([np.std(values[:, 1], ddof=1)] * 3)

    # Every format prints them.
    header = "\n".join(table.header)
    assert "Evaluated: 80 samples (test split); repeats: one 1, three 3; [95% percentile bootstrap interval" in header
    md = render(table, "md")
    beta = cells["1 beta"]["F1 three"]
    assert f"{beta.ours:.2f} (sd {beta.sd:.2f}) [{beta.ci[0]:.2f}, {beta.ci[1]:.2f}]" in md  # type: ignore[index]
    assert md_cell(beta, 2, None) in md and "Each cell: ours (sd over repeats) [interval]." in md
    csv = render(table, "csv").splitlines()
    head = csv[0].split(",")
    row = dict(zip(head, csv[2].split(","), strict=True))
    assert row["Class"] == "1 beta" and row["F1 three ci_low"] == f"{beta.ci[0]:.2f}"  # type: ignore[index]
    assert row["F1 three ci_high"] == f"{beta.ci[1]:.2f}" and row["F1 three sd"] == f"{beta.sd:.2f}"  # type: ignore[index]
    assert row["Test ci_low"] == "" and row["Test"] == str(int(single["y_true"][:, 1].sum()))
    tex = render(table, "tex")
    assert "F1 three ci\\_low" in tex and f"{beta.ci[0]:.2f} & {beta.ci[1]:.2f} & {beta.sd:.2f}" in tex  # type: ignore[index]
    text = terminal_text(bench, table)
    assert f"{beta.ours:.2f} ±{(beta.ci[1] - beta.ci[0]) / 2:.2f}" in text  # type: ignore[index]
    assert max(map(len, text.splitlines())) <= WIDTH
    page, _ = build_report(tmp_path)
    assert f'<span class="ci">[{beta.ci[0]:.2f}, {beta.ci[1]:.2f}]</span>' in page  # type: ignore[index]
    assert f"(sd {beta.sd:.2f})" in page  # type: ignore[str-format]


def test_per_class_table_without_intervals_says_why(tmp_path: Path) -> None:
    bench = _write(tmp_path, {"one": [_predictions(1.0, 1)]})
    (bench / "one0" / "predictions.npz").unlink()
    table = build_table(bench)
    assert all(c.ci is None for _, row in table.rows for c in row)
    assert "no intervals (the results folder keeps no predictions.npz)" in "\n".join(table.header)
    assert "[" not in render(table, "md").split("| Class")[1]
