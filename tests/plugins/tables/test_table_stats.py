"""Tables with intervals, repeats and paired tests, from run folders made here with known
predictions; the ``compare`` command and the uncertainty columns of ``results``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from micro_bench_commands.cli import cli
from micro_bench_metrics.bootstrap import (
    distributions,
    intervals,
    percentile_interval,
    resample_indices,
)
from micro_bench_metrics.catalog import compute_metrics
from micro_bench_metrics.paired import bootstrap_p_value, holm
from micro_bench_metrics.plugin import _table_info
from micro_bench_report.tidy import tidy_rows
from micro_bench_tables.tables import build_table, render
from micro_bench_tables.terminal import WIDTH, terminal_text

METRICS = ["f1_macro", "roc_auc_macro", "hamming_loss"]
N, K = 100, 4


def _predictions(signal: float, seed: int, ids=None):
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(0).random((N, K)) < np.array([0.4, 0.3, 0.2, 0.1])  # the same samples
    score = 1 / (1 + np.exp(-(signal * (2 * truth - 1) + rng.standard_normal((N, K)))))
    ids = np.array([f"s{i}" for i in range(N)]) if ids is None else ids
    return {"ids": ids, "y_true": truth, "y_score": score, "y_pred": score > 0.5}


def _write_bench(root, rows, baseline=None, name="bench", ci=None):
    """rows: label -> list of prediction dicts (one per repeat)."""
    bench = root / name
    manifest_rows = []
    for label, repeats in rows.items():
        keys = []
        for r, p in enumerate(repeats):
            key = f"{label.replace(' ', '')}{r}"
            keys.append(key)
            (bench / key).mkdir(parents=True)
            np.savez_compressed(bench / key / "predictions.npz", **p)
            metrics = compute_metrics(METRICS, p["y_true"], p["y_score"], p["y_pred"])
            result = {"benchmark": name, "label": label, "key": key, "metrics": dict(metrics),
                      "counts": {"n": {"test": N}}, "dataset": {"name": "toyset", "n": 1000},
                      "config": {"seed": r, "model": {"name": "net"}, "evaluate": {"split": "test"}}}
            (bench / key / "result.json").write_text(json.dumps(result))
        manifest_rows.append({"label": label, "key": keys[0], **({"repeats": keys} if len(keys) > 1 else {})})
    index = {"benchmark": name, "title": "Made-up table", "config_file": "bench.yaml", "profile": "quick",
             "overrides": [], "table": {"kind": "metrics", **({"baseline": baseline} if baseline else {})},
             "metrics": METRICS, "reference_csv": None, "metric_info": {m: _table_info(m) for m in METRICS}, "rows": manifest_rows,
             "dataset": {"name": "toyset", "n": 1000}, **({"ci": ci} if ci is not None else {})}
    (bench / "index.json").write_text(json.dumps(index))
    return bench


def test_values_carry_their_interval_and_no_paper_columns_without_a_reference(tmp_path):
    p = _predictions(1.0, 1)
    bench = _write_bench(tmp_path, {"only": [p]})
    table = build_table(bench)
    cell = table.rows[0][1][0]
    want = intervals(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"], n_resamples=1000, level=0.95, seed=0)
    assert cell.ci == pytest.approx((want["f1_macro"].low, want["f1_macro"].high))
    md = render(table, "md")
    assert f"{cell.ours:.3f} [{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]" in md
    assert "paper" not in md.lower() and "Δ" not in md
    assert "Evaluated: 100 samples (test split); 1 run per row; [95% percentile bootstrap interval" in md
    assert "Model(s): net" in md and "profile `quick`" in md
    csv = render(table, "csv").splitlines()
    assert csv[0].split(",")[:4] == ["Run", "F1 (macro)", "F1 (macro) ci_low", "F1 (macro) ci_high"]
    assert "paper" not in csv[0] and csv[0].endswith("n_eval,repeats,model,dataset,profile")
    assert csv[1].endswith(",100,1,net,toyset (n 1000),quick")
    text = terminal_text(bench, table)
    assert f"{cell.ours:.3f} ±{(cell.ci[1] - cell.ci[0]) / 2:.3f}" in text
    assert max(map(len, text.splitlines())) <= WIDTH
    tex = render(table, "tex")
    assert r"\caption{micro-bench results for Made-up table: data toyset (n 1000), profile quick, model(s) net; " \
           "100 evaluated samples.}" in tex


def test_baseline_identical_row_delta_zero_p_one_better_row_starred_holm_across_rows(tmp_path):
    base, better, similar = _predictions(0.5, 1), _predictions(2.0, 2), _predictions(0.55, 3)
    bench = _write_bench(tmp_path, {"base": [base], "same": [dict(base)], "better": [better],
                                    "similar": [similar]}, baseline="base")
    table = build_table(bench)
    rows = {label: cells for label, cells in table.rows}
    same = rows["same"][0]
    assert same.delta == 0 and same.delta_ci == (0.0, 0.0)
    better_cell = rows["better"][0]
    assert better_cell.p < 0.01 and better_cell.significant and better_cell.delta > 0
    # the p-values by hand: paired resamples shared by both rows, Holm over the three compared rows
    idx = resample_indices(N, 1000, 0)
    d = {name: distributions(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"], idx)["f1_macro"]
         for name, p in (("base", base), ("same", base), ("better", better), ("similar", similar))}
    raw = [bootstrap_p_value(d[name] - d["base"]) for name in ("same", "better", "similar")]
    assert raw[0] == 1.0
    adjusted = holm(raw)
    assert [rows[n][0].p for n in ("same", "better", "similar")] == pytest.approx(list(adjusted))
    low, high = percentile_interval(d["better"] - d["base"], 0.95)
    assert better_cell.delta_ci == pytest.approx((low, high))
    md = render(table, "md")
    assert f"Δ {better_cell.delta:+.3f}* [" in md and "p Holm-adjusted over the rows; * p < 0.05" in md
    assert "Δ +0.000 [+0.000, +0.000], p 1" in md
    csv = render(table, "csv").splitlines()
    assert "F1 (macro) p_holm" in csv[0].split(",") and "F1 (macro) delta_ci_low" in csv[0].split(",")
    text = terminal_text(bench, table)
    assert f"{better_cell.delta:+.3f}*" in text and max(map(len, text.splitlines())) <= WIDTH


def test_rows_with_other_samples_are_refused_not_compared(tmp_path):
    base = _predictions(0.5, 1)
    other = _predictions(0.5, 2, ids=np.array([f"t{i}" for i in range(N)]))
    bench = _write_bench(tmp_path, {"base": [base], "other": [other]}, baseline="base")
    table = build_table(bench)
    cell = dict(table.rows)["other"][0]
    assert cell.delta is None or cell.p is None
    assert "other: not compared: evaluated samples differ from 'base''s (100 vs 100 samples)" in "\n".join(table.header)
    result = CliRunner().invoke(cli, ["compare", str(tmp_path), "base", "other"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: bench/other vs bench/base: evaluated samples differ")


def test_repeats_mean_sd_and_interval_of_the_mean(tmp_path):
    reps = [_predictions(1.0, s) for s in (1, 2, 3)]
    bench = _write_bench(tmp_path, {"three": reps, "one": [_predictions(1.0, 9)]}, baseline="one")
    table = build_table(bench)
    cell = dict(table.rows)["three"][0]
    values = [compute_metrics(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"])["f1_macro"] for p in reps]
    assert cell.ours == pytest.approx(np.mean(values)) and cell.sd == pytest.approx(np.std(values, ddof=1))
    idx = resample_indices(N, 1000, 0)
    mean_dist = np.mean([distributions(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"], idx)["f1_macro"]
                         for p in reps], axis=0)
    assert cell.ci == pytest.approx(percentile_interval(mean_dist, 0.95))
    md = render(table, "md")
    assert f"{cell.ours:.3f} (sd {cell.sd:.3f}) [{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]" in md
    assert "repeats: three 3, one 1" in md
    rows = [r for r in tidy_rows(tmp_path) if r["metric"] == "f1_macro" and r["label"] == "three"]
    assert len(rows) == 3 and all(r["n_repeats"] == 3 and r["sd"] == pytest.approx(cell.sd) for r in rows)
    assert all(r["baseline"] == "one" and r["delta"] == pytest.approx(cell.delta) for r in rows)
    own = intervals(["f1_macro"], **{k: reps[0][k] for k in ("y_true", "y_score", "y_pred")})["f1_macro"]
    assert (rows[0]["ci_low"], rows[0]["ci_high"]) == pytest.approx((own.low, own.high))


def test_results_columns_per_class_intervals_and_ci_off(tmp_path):
    p = _predictions(1.0, 1)
    _write_bench(tmp_path, {"a": [p], "b": [_predictions(1.0, 2)]}, baseline="a")
    rows = tidy_rows(tmp_path)
    b = next(r for r in rows if r["label"] == "b" and r["metric"] == "roc_auc_macro")
    assert b["n_eval"] == 100 and b["n_repeats"] == 1 and b["baseline"] == "a"
    assert b["delta_ci_low"] <= b["delta"] <= b["delta_ci_high"] and 0 < b["p_value"] <= 1
    assert b["ci_low"] <= b["value"] <= b["ci_high"]
    off = _write_bench(tmp_path / "off", {"a": [p]}, ci=None)
    index = json.loads((off / "index.json").read_text())
    index["ci"] = None
    (off / "index.json").write_text(json.dumps(index))
    table = build_table(off)
    assert table.rows[0][1][0].ci is None and "no intervals (evaluate.ci: false)" in "\n".join(table.header)


def test_compare_command(tmp_path):
    _write_bench(tmp_path, {"base": [_predictions(0.5, 1)], "better": [_predictions(2.0, 2)]})
    result = CliRunner().invoke(cli, ["compare", str(tmp_path), "base", "bench/better", "--metric", "f1_macro",
                                      "--metric", "roc_auc_macro"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("B - A on the same 100 samples") and "A = bench/base, B = bench/better" in lines[-1]
    f1 = next(line for line in lines if line.startswith("f1_macro"))
    assert f1.rstrip().endswith("*")
    bad = CliRunner().invoke(cli, ["compare", str(tmp_path), "base", "worse"])
    assert bad.exit_code == 2 and "no row 'worse'; rows: bench/base, bench/better" in bad.output
    bad = CliRunner().invoke(cli, ["compare", str(tmp_path), "base", "better", "--metric", "f2"])
    assert bad.exit_code == 2 and "--metric 'f2': not a scalar metric" in bad.output


def test_every_docs_table_file_names_its_dataset_profile_and_models():
    """Issue 27: no table file can be mistaken for the paper's data; stale results say so."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    files = sorted((repo / "docs" / "tables").glob("*/*.*"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        index = json.loads((repo / "benchmarks" / "results" / path.parent.name / path.stem / "index.json").read_text())
        assert index["dataset"]["name"].replace("_", r"\_" if path.suffix == ".tex" else "_") in text, path
        assert index["profile"].replace("_", r"\_" if path.suffix == ".tex" else "_") in text, path
        results = [json.loads((repo / "benchmarks" / "results" / path.parent.name / path.stem / r["key"] /
                               "result.json").read_text()) for r in index["rows"]]
        models = {r["config"]["model"]["name"] for r in results} - {"selected"}
        assert all(m.replace("_", r"\_" if path.suffix == ".tex" else "_") in text for m in models), (path, models)
        if index.get("reference_csv"):
            assert "not the paper's data" in text, path
        if path.suffix == ".tex":
            assert r"\caption{micro-bench results for " in text, path
        assert ("stale" in text.lower()) == (path.parent.name == "gpu_synth"), path


def test_html_report_shows_intervals_and_starred_deltas(tmp_path):
    from micro_bench_report.html import build_report

    _write_bench(tmp_path, {"base": [_predictions(0.5, 1)], "better": [_predictions(2.0, 2)]}, baseline="base")
    table = build_table(tmp_path / "bench")
    cell = dict(table.rows)["better"][0]
    page, n = build_report(tmp_path)
    assert n == 1 and f'<span class="ci">[{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]</span>' in page
    assert f"{cell.delta:+.3f}*" in page and "Evaluated: 100 samples (test split)" in page


def test_compare_two_benchmarks_row_by_row_holm_across_rows(tmp_path):
    """Table IV against Table III: every shared label a pair, Holm over the pairs per metric."""
    const = {"BCE": [_predictions(0.5, 1)], "FL": [_predictions(0.6, 2)], "only3": [_predictions(0.5, 3)]}
    sgdr = {"BCE": [_predictions(2.0, 4)], "FL": [_predictions(0.6, 2)]}
    _write_bench(tmp_path, const, name="t3")
    _write_bench(tmp_path, sgdr, name="t4")
    result = CliRunner().invoke(cli, ["compare", str(tmp_path), "t3", "t4", "--metric", "f1_macro"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "t3/BCE  vs  t4/BCE" in lines and "t3/FL  vs  t4/FL" in lines and not any("only3" in x for x in lines)
    idx = resample_indices(N, 1000, 0)
    d = {k: distributions(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"], idx)["f1_macro"]
         for k, p in (("c_bce", const["BCE"][0]), ("s_bce", sgdr["BCE"][0]), ("c_fl", const["FL"][0]),
                      ("s_fl", sgdr["FL"][0]))}
    raw = [bootstrap_p_value(d["s_bce"] - d["c_bce"]), bootstrap_p_value(d["s_fl"] - d["c_fl"])]
    want = holm(raw)
    rows = [line for line in lines if line.startswith("f1_macro")]
    assert [float(r.split()[-1].rstrip("*")) for r in rows] == pytest.approx(list(want), abs=5e-4)
    assert rows[0].endswith("*") and rows[1].rstrip().endswith("1.000")
    assert "Holm-adjusted across the 2 rows, per metric" in lines[-1]
