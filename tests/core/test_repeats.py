"""``repeats: N``: N cached runs per row with seeds seed, seed + 1, ...; adding repeats reuses."""

from __future__ import annotations

import json

import pytest

import toy_plugin
from micro_bench.config import load_config
from micro_bench.errors import ConfigError
from micro_bench.runner import run_benchmark
from toy_plugin import TOY_BENCH


def _bench(text: str) -> str:
    return TOY_BENCH.replace("seed: 3\n", text)


def test_repeats_expand_rows_with_consecutive_seeds(toy_bench):
    config = load_config(toy_bench(_bench("seed: 3\nrepeats: 2\n").replace(
        "{label: noisy, model: {noise: 0.5}}", "{label: noisy, model: {noise: 0.5}, repeats: 3}")))
    got = [(r.label, r.seed, r.repeat, r.repeats) for r in config.runs]
    assert got == [("quiet", 3, 0, 2), ("quiet", 4, 1, 2),
                   ("noisy", 3, 0, 3), ("noisy", 4, 1, 3), ("noisy", 5, 2, 3)]
    assert config.runs[3].display == "noisy (repeat 2/3, seed 4)" and config.runs[0].repeats == 2


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "true", "'3'", "101"])
def test_bad_repeats_is_one_located_line(toy_bench, value):
    path = toy_bench(_bench(f"seed: 3\nrepeats: {value}\n"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: repeats: expected an integer from 1 to 100") and "\n" not in message


def test_bad_row_repeats_names_the_row(toy_bench):
    path = toy_bench(_bench("seed: 3\n").replace("{label: noisy, model: {noise: 0.5}}",
                                                 "{label: noisy, model: {noise: 0.5}, repeats: 0}"))
    with pytest.raises(ConfigError, match=r"toy.yaml: runs\[1\]\.repeats: expected an integer"):
        load_config(path)


def test_repeats_reuse_cached_runs(toy_bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    one = load_config(toy_bench(_bench("seed: 3\n")))
    first = run_benchmark(one, out, host=toy_pm, progress=False, echo=None)
    fits = toy_plugin.CALLS["fit"]
    three = load_config(toy_bench(_bench("seed: 3\nrepeats: 3\n")))
    results = run_benchmark(three, out, host=toy_pm, progress=False, echo=None)
    # repeat 0 of each row is the run already done (same seed, same key): only 2 x 2 new fits
    assert toy_plugin.CALLS["fit"] - fits == 4
    assert [r.cached for r in results] == [True, False, False, True, False, False]
    assert results[0].key == first[0].key and results[3].key == first[1].key
    assert len({r.key for r in results}) == 6
    index = json.loads((out / "toybench" / "index.json").read_text())
    assert [row["label"] for row in index["rows"]] == ["quiet", "noisy"]
    assert index["rows"][0]["repeats"] == [r.key for r in results[:3]]
    assert index["rows"][0]["key"] == results[0].key
    seeds = [json.loads((out / "toybench" / k / "config.json").read_text())["run"]["seed"]
             for k in index["rows"][1]["repeats"]]
    assert seeds == [3, 4, 5]
    again = run_benchmark(three, out, host=toy_pm, progress=False, echo=None)
    assert all(r.cached for r in again) and toy_plugin.CALLS["fit"] - fits == 4


@pytest.mark.parametrize(("value", "where"), [
    ("{method: bca}", "evaluate.ci.method: expected 'bootstrap'"),
    ("{n: 10}", "evaluate.ci.n: expected an integer from 100"),
    ("{level: 95}", "evaluate.ci.level: expected a number in [0.5, 1)"),
    ("{seed: -1}", "evaluate.ci.seed: expected an integer >= 0"),
    ("{levle: 0.9}", "evaluate.ci.levle: unknown key"),
    ("7", "evaluate.ci: expected a mapping"),
])
def test_bad_ci_is_one_located_line(toy_bench, value, where):
    path = toy_bench(_bench("seed: 3\n").replace("threshold: 0.5}", f"threshold: 0.5, ci: {value}}}"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {where}") and "\n" not in str(err.value)


def test_ci_is_not_part_of_the_run_key(toy_bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    plain = run_benchmark(load_config(toy_bench(_bench("seed: 3\n"))), out, host=toy_pm, progress=False, echo=None)
    with_ci = load_config(toy_bench(_bench("seed: 3\n").replace("threshold: 0.5}", "threshold: 0.5, ci: {n: 200}}")))
    again = run_benchmark(with_ci, out, host=toy_pm, progress=False, echo=None)
    assert [r.key for r in again] == [r.key for r in plain] and all(r.cached for r in again)
    index = json.loads((out / "toybench" / "index.json").read_text())
    assert index["ci"] == {"method": "bootstrap", "n": 200, "level": 0.95, "seed": 0}


def test_run_with_repeats_and_baseline_gives_intervals_in_every_table_file(toy_bench, tmp_path, toy_pm):
    """End to end through the runner: saved predictions -> intervals, mean (sd), paired tests."""
    import micro_bench_metrics.plugin
    from micro_bench_tables.tables import build_table, render

    toy_pm.register(micro_bench_metrics.plugin)
    text = (_bench("seed: 3\nrepeats: 2\n").replace("n: 40", "n: 400").replace("reference: ref.csv\n", "")
            .replace("[mean_score, accuracy]", "[f1_macro, roc_auc_macro]")
            .replace("runs:\n", "table: {baseline: quiet}\nruns:\n"))
    results = run_benchmark(load_config(toy_bench(text)), tmp_path / "runs", host=toy_pm, progress=False, echo=None)
    assert len(results) == 4
    table = build_table(tmp_path / "runs" / "toybench")
    quiet, noisy = (cells for _, cells in table.rows)
    assert all(c.ci is not None and c.ci[0] <= c.ours <= c.ci[1] for c in quiet + noisy)
    assert noisy[1].sd is not None and noisy[1].p is not None and quiet[1].p is None
    md = render(table, "md")
    assert "Evaluated: 40 samples (test split); 2 repeats per row" in md and "paper" not in md
    assert render(table, "csv").splitlines()[1].endswith(",40,2,prevalence,\"toy (n 400, 4 px)\",full configuration")


def test_read_results_lists_every_repeat(toy_bench, tmp_path, toy_pm):
    from micro_bench.api import read_results

    done = run_benchmark(load_config(toy_bench(_bench("seed: 3\nrepeats: 2\n"))), tmp_path / "runs", host=toy_pm,
                         progress=False, echo=None)
    got = read_results(tmp_path / "runs" / "toybench")
    assert [(r.label, r.key) for r in got] == [(r.label, r.key) for r in done] and len(got) == 4


def test_per_class_table_shows_the_mean_over_repeats(toy_bench, tmp_path, toy_pm):
    from micro_bench_tables.tables import build_table

    text = (_bench("seed: 3\nrepeats: 3\n").replace("reference: ref.csv\n", "")
            .replace("[mean_score, accuracy]", "[per_class_positives]")
            .replace("runs:\n", "table: {kind: per_class, metrics: [per_class_positives]}\nruns:\n")
            .replace("n: 40", "n: 200"))
    done = run_benchmark(load_config(toy_bench(text)), tmp_path / "runs", host=toy_pm, progress=False, echo=None)
    table = build_table(tmp_path / "runs" / "toybench")
    first = table.rows[0][1][0]  # class 0, row "quiet"
    assert first.ours == pytest.approx(sum(r.metrics["per_class_positives"]["0"] for r in done[:3]) / 3)
