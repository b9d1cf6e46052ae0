"""Each table row's interval uses that row's own ``evaluate.ci`` (the manifest's ``row_ci``, written
by the tables plugin when the rows' settings differ); the paired tests score both rows on the
baseline row's resamples; the header and legend say that the settings differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from micro_bench.config import CI_DEFAULTS
from micro_bench_commands.cli import cli
from micro_bench_metrics.bootstrap import distributions, intervals, resample_indices
from micro_bench_metrics.paired import bootstrap_p_value, holm
from micro_bench_report.tidy import tidy_rows
from micro_bench_tables.tables import build_table, render
from micro_bench_tables.terminal import WIDTH, terminal_text

from .test_table_stats import N, _predictions, _write_bench

NARROW = {"method": "bootstrap", "n": 200, "level": 0.9, "seed": 3}


def _with_row_ci(bench: Path, row_ci: dict) -> None:
    index = json.loads((bench / "index.json").read_text())
    index["row_ci"] = row_ci
    (bench / "index.json").write_text(json.dumps(index))


def test_rows_use_their_own_interval_settings_and_the_baseline_s_resamples_for_tests(tmp_path: Path) -> None:
    preds = {"narrow": _predictions(1.0, 1), "base": _predictions(0.8, 2), "off": _predictions(1.2, 3)}
    bench = _write_bench(tmp_path, {label: [p] for label, p in preds.items()}, baseline="base", ci=NARROW)
    _with_row_ci(bench, {"narrow": NARROW, "base": dict(CI_DEFAULTS), "off": None})
    table = build_table(bench)
    cells = {label: row for label, row in table.rows}

    def own(label: str, **settings: object) -> tuple[float, float]:
        p = preds[label]
        got = intervals(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"], **settings)["f1_macro"]  # type: ignore[arg-type]
        return got.low, got.high  # type: ignore[return-value]

    assert cells["narrow"][0].ci == pytest.approx(own("narrow", n_resamples=200, level=0.9, seed=3), abs=1e-12)
    assert cells["base"][0].ci == pytest.approx(own("base", n_resamples=1000, level=0.95, seed=0), abs=1e-12)
    assert cells["off"][0].ci is None and cells["off"][0].ours is not None
    # The first row's settings for every row would have given "base" another interval.
    assert cells["base"][0].ci != pytest.approx(own("base", n_resamples=200, level=0.9, seed=3), abs=1e-12)

    # Paired tests: both rows on the baseline's 1,000 resamples (seed 0), Holm over the two compared rows.
    idx = resample_indices(N, 1000, 0)
    dist = {label: distributions(["f1_macro"], p["y_true"], p["y_score"], p["y_pred"], idx)["f1_macro"]
            for label, p in preds.items()}
    raw = [bootstrap_p_value(dist[label] - dist["base"]) for label in ("narrow", "off")]
    assert [cells["narrow"][0].p, cells["off"][0].p] == pytest.approx(list(holm(raw)), abs=1e-12)

    header = "\n".join(table.header)
    assert ("each row's own evaluate.ci (they differ): narrow 90% 200 resamples seed 3; base 95% 1000 resamples "
            "seed 0; off no interval (ci: false)]; paired tests on the resamples of base's settings") in header
    md = render(table, "md")
    assert "Each cell: ours [interval, with each row's own evaluate.ci settings: see Evaluated]" in md
    text = terminal_text(bench, table)
    assert "(they differ)" in text and max(map(len, text.splitlines())) <= WIDTH

    # `results` stores each run's interval with its row's settings.
    stored = {r["label"]: (r["ci_low"], r["ci_high"]) for r in tidy_rows(tmp_path) if r["metric"] == "f1_macro"}
    assert stored["narrow"] == pytest.approx(cells["narrow"][0].ci, abs=1e-12)
    assert stored["base"] == pytest.approx(cells["base"][0].ci, abs=1e-12)
    assert stored["off"] == (None, None)

    # `compare`: each row's interval with its own settings, the test on A's resamples.
    result = CliRunner().invoke(cli, ["compare", str(tmp_path), "base", "narrow", "--metric", "f1_macro"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("f1_macro"))
    low, high = cells["narrow"][0].ci  # type: ignore[misc]
    assert f"[{low:.3f}, {high:.3f}]" in line and f"{bootstrap_p_value(dist['narrow'] - dist['base']):.3f}" in line


def test_equal_settings_read_as_one_and_the_hook_writes_row_ci_only_when_rows_differ(tmp_path: Path) -> None:
    from micro_bench import load_benchmark
    from micro_bench.host import Host
    from micro_bench_tables.plugin import micro_bench_index_fields

    bench = _write_bench(tmp_path, {"a": [_predictions(1.0, 1)], "b": [_predictions(1.0, 2)]}, ci=NARROW)
    _with_row_ci(bench, {"a": NARROW, "b": NARROW})
    header = "\n".join(build_table(bench).header)
    assert "[90% percentile bootstrap interval over the evaluated samples, 200 resamples, seed 3]" in header
    assert "they differ" not in header

    base = ("version: 1\nname: cis\ntitle: t\nseed: 0\ndataset: {name: hpa_synth, n: 60, resolution: 16}\n"
            "model: {name: logreg}\ntrainer: {name: sklearn, n_jobs: 1, resolution: 16}\nloss: null\n"
            "scheduler: null\ntta: null\nmetrics: [f1_macro]\n")
    host = Host.load()
    differ = tmp_path / "differ.yaml"
    differ.write_text(base + "evaluate: {split: val, ci: {n: 200}}\nruns:\n  - {label: a}\n"
                      "  - {label: b, evaluate: {ci: {level: 0.9, seed: 3}}}\n  - {label: c, evaluate: {ci: false}}\n")
    fields = micro_bench_index_fields(load_benchmark(differ, host=host), host)
    assert fields["row_ci"] == {"a": {**CI_DEFAULTS, "n": 200}, "b": {**CI_DEFAULTS, "n": 200, "level": 0.9, "seed": 3},
                                "c": None}
    same = tmp_path / "same.yaml"
    same.write_text(base + "evaluate: {split: val, ci: {n: 200}}\nruns:\n  - {label: a}\n  - {label: b}\n")
    assert "row_ci" not in micro_bench_index_fields(load_benchmark(same, host=host), host)
