"""The runner end to end on in-test plugins: results on disk, caching, --force, hooks, tables."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import toy_plugin
from micro_bench import hookimpl
from micro_bench.config import load_config
from micro_bench.errors import ConfigError
from micro_bench.runner import run_benchmark
from micro_bench.validate import validate_config
from micro_bench_commands.cli import cli
from micro_bench_tables.tables import build_table, render
from toy_plugin import TOY_BENCH

BENCH = TOY_BENCH


@pytest.fixture
def bench(toy_bench):
    return toy_bench()


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def micro_bench_run_start(self, run):
        self.events.append(("start", run.label))

    @hookimpl
    def micro_bench_epoch_end(self, run, epoch, metrics):
        self.events.append(("epoch", run.label, epoch, metrics["train_loss"]))

    @hookimpl
    def micro_bench_run_end(self, run, result):
        self.events.append(("end", run.label, round(result.metrics["mean_score"], 6)))


def test_cli_run_writes_results_and_table(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    result = CliRunner().invoke(cli, ["run", str(bench), "--out", str(out), "--no-progress"], obj=toy_pm)
    assert result.exit_code == 0, result.output
    assert "[run 1/2] quiet" in result.output and "[run 2/2] noisy" in result.output
    index = json.loads((out / "toybench" / "index.json").read_text())
    assert [r["label"] for r in index["rows"]] == ["quiet", "noisy"]
    run_dir = out / "toybench" / index["rows"][0]["key"]
    res = json.loads((run_dir / "result.json").read_text())
    preds = np.load(run_dir / "predictions.npz")
    # quiet: every score equals the train prevalence, so mean_score is its mean over classes.
    assert res["metrics"]["mean_score"] == pytest.approx(float(np.mean(preds["y_score"])))
    assert res["metrics"]["accuracy"] == pytest.approx(float(np.mean(preds["y_true"] == preds["y_pred"])))
    assert res["thresholds"] == {"rule": 0.5, "description": "constant 0.5 for every class",
                                 "fitted_on": None, "values": [0.5, 0.5, 0.5]}
    assert sum(res["counts"]["n"].values()) == 40
    assert json.loads((run_dir / "config.json").read_text())["run"]["model"] == {"name": "prevalence", "noise": 0.0}
    assert "toy fit done" in (run_dir / "log.txt").read_text()
    # The table: ours, the paper's, the delta.
    md = (out / "toybench" / "table.md").read_text()
    ours = res["metrics"]["mean_score"]
    assert f"| quiet | {ours:.4f} (0.2500, {ours - 0.25:+.4f})" in md
    assert "Toy table" in result.output


def test_second_run_reuses_and_force_recomputes(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    config = load_config(bench)
    before = toy_plugin.CALLS["fit"]
    first = run_benchmark(config, out, host=toy_pm, echo=None)
    assert toy_plugin.CALLS["fit"] == before + 2
    second = run_benchmark(config, out, host=toy_pm, echo=None)
    assert toy_plugin.CALLS["fit"] == before + 2  # no work done
    assert all(r.cached for r in second)
    assert [r.metrics for r in second] == [r.metrics for r in first]
    run_benchmark(config, out, host=toy_pm, echo=None, force=True)
    assert toy_plugin.CALLS["fit"] == before + 4


def test_model_factories_get_the_run_seed(bench, toy_pm):
    from micro_bench.build import prepare

    cfg = load_config(bench, overrides=["seed=11"]).runs[0]
    assert prepare(cfg, toy_pm).model.seed == 11
    pinned = load_config(bench, overrides=["seed=11", "model.seed=5"]).runs[0]
    assert prepare(pinned, toy_pm).model.seed == 5  # a seed set in the config wins


def test_failed_force_keeps_the_finished_run(bench, tmp_path, toy_pm, monkeypatch):
    out = tmp_path / "runs"
    config = load_config(bench)
    first = run_benchmark(config, out, host=toy_pm, echo=None)
    run_dir = out / "toybench" / first[0].key
    before = (run_dir / "result.json").read_text()

    def broken_fit(self, *args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(toy_plugin.ToyTrainer, "fit", broken_fit)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_benchmark(config, out, host=toy_pm, echo=None, force=True)
    assert (run_dir / "result.json").read_text() == before
    assert not list((out / "toybench").glob(".*.replaced"))


def test_key_changes_with_config(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    a = run_benchmark(load_config(bench), out, host=toy_pm, echo=None)
    b = run_benchmark(load_config(bench, overrides=["seed=4"]), out, host=toy_pm, echo=None)
    assert {r.key for r in a}.isdisjoint({r.key for r in b})


def test_lifecycle_hooks_fire_in_order(bench, tmp_path, toy_pm):
    recorder = Recorder()
    toy_pm.register(recorder)
    run_benchmark(load_config(bench), tmp_path / "runs", host=toy_pm, echo=None)
    labels = [e[:2] for e in recorder.events]
    assert labels == [("start", "quiet"), ("epoch", "quiet"), ("epoch", "quiet"), ("end", "quiet"),
                      ("start", "noisy"), ("epoch", "noisy"), ("epoch", "noisy"), ("end", "noisy")]
    assert recorder.events[2][2:] == (1, 0.5)


def test_fitted_thresholds_come_from_a_threshold_rule_component(bench, tmp_path, toy_pm):
    from micro_bench import RunContext
    from micro_bench.build import prepare

    cfg = load_config(bench, overrides=["evaluate.threshold=median"])
    results = run_benchmark(cfg, tmp_path / "runs", host=toy_pm, echo=None)
    assert results[0].thresholds["rule"] == "median"
    assert results[0].thresholds["fitted_on"] == "val"
    assert results[0].thresholds["description"] == "per class, the median validation score"
    built = prepare(cfg.runs[0], toy_pm)  # the rule got the validation scores: their median
    context = RunContext(tmp_path, seed=cfg.runs[0].seed, log=lambda line: None)
    built.trainer.fit(built.model, built.dataset, built.split, loss=None, schedule=None, transform=None,
                      context=context)
    val_score = built.trainer.predict(built.model, built.dataset, built.split.val, tta=None, transform=None,
                                      context=context)
    assert results[0].thresholds["values"] == pytest.approx(list(np.median(val_score, axis=0)))
    predictions = np.load(tmp_path / "runs" / "toybench" / results[0].key / "predictions.npz")
    assert (predictions["y_pred"] == (predictions["y_score"] > np.asarray(results[0].thresholds["values"]))).all()


def test_validate_names_an_unknown_threshold_rule(bench, toy_pm):
    from micro_bench.validate import validate_config

    with pytest.raises(ConfigError, match=r"unknown threshold 'medain' \(--set 'evaluate.threshold=medain' .*"
                                          r"evaluate.threshold\)\nDid you mean: median\?"):
        validate_config(load_config(bench, overrides=["evaluate.threshold=medain"]), toy_pm)


def test_tables_formats_and_command(bench, tmp_path, toy_pm):
    out = tmp_path / "runs"
    run_benchmark(load_config(bench), out, host=toy_pm, echo=None)
    table = build_table(out / "toybench")
    assert table.columns == ["mean_score", "accuracy"]
    quiet = table.rows[0][1][0]
    assert quiet.paper == 0.25 and quiet.delta == pytest.approx(quiet.ours - 0.25)
    csv_text = render(table, "csv").splitlines()
    assert csv_text[0] == ("Run,mean_score,mean_score paper,mean_score delta,accuracy,accuracy paper,accuracy delta,"
                           "n_eval,repeats,model,dataset,profile")
    assert csv_text[1].startswith(f"quiet,{quiet.ours:.4f},0.2500,{quiet.delta:+.4f}")
    assert csv_text[1].endswith(',4,1,prevalence,"toy (n 40, 4 px)",full configuration')
    tex = render(table, "tex")
    assert r"\begin{tabular}{l" + "r" * 11 + "}" in tex and r"mean\_score" in tex
    assert r"\caption{micro-bench results for Toy table: data toy (n 40, 4 px), profile full configuration, " \
           "model(s) prevalence; 4 evaluated samples.}" in tex
    docs = tmp_path / "docs"
    result = CliRunner().invoke(cli, ["tables", str(out), "--out", str(docs)], obj=toy_pm)
    assert result.exit_code == 0, result.output
    assert (docs / "toybench.md").read_text() == render(table, "md")


def test_table_against_a_baseline_row(tmp_path, toy_pm):
    path = tmp_path / "base.yaml"
    path.write_text(BENCH.replace("reference: ref.csv", "table: {kind: metrics, baseline: quiet}"))
    out = tmp_path / "runs"
    results = run_benchmark(load_config(path), out, host=toy_pm, echo=None)
    table = build_table(out / "toybench")
    assert table.reference == "quiet"
    quiet, noisy = (cells[0] for _, cells in table.rows)
    assert quiet.delta == 0 and noisy.paper == pytest.approx(results[0].metrics["mean_score"], abs=1e-12)
    assert noisy.delta == pytest.approx(results[1].metrics["mean_score"] - results[0].metrics["mean_score"], abs=1e-12)
    assert "Each cell: ours (quiet, Δ = ours − quiet)." in render(table, "md")
    assert render(table, "csv").splitlines()[0].startswith("Run,mean_score,mean_score baseline,mean_score delta")
    path.write_text(BENCH.replace("reference: ref.csv", "table: {kind: metrics, baseline: loud}"))
    with pytest.raises(ConfigError, match="table.baseline: no run labelled 'loud'"):  # the tables plugin's check
        validate_config(load_config(path), toy_pm)
    path.write_text(BENCH.replace("reference: ref.csv", "table: {kind: pie}"))
    with pytest.raises(ConfigError, match="table.kind: expected 'metrics' or 'per_class', got 'pie'"):
        validate_config(load_config(path), toy_pm)


def test_per_class_table(tmp_path, toy_pm):
    (tmp_path / "pc.csv").write_text("class,label,positives\n0,quiet,3\n")
    (tmp_path / "pc_counts.csv").write_text("class,test,val,train\n0,1,2,3\n")
    path = tmp_path / "pc.yaml"
    path.write_text(BENCH.replace("reference: ref.csv", "reference: pc.csv\ntable: {kind: per_class, metrics: [per_class_positives]}")
                    .replace("[mean_score, accuracy]", "[per_class_positives]"))
    out = tmp_path / "runs"
    results = run_benchmark(load_config(path), out, host=toy_pm, echo=None)
    table = build_table(out / "toybench")
    assert table.columns == ["positives quiet", "positives noisy", "Test", "Val", "Train"]
    assert [label for label, _ in table.rows] == ["0", "1", "2"]
    first = table.rows[0][1]
    assert first[0].ours == results[0].metrics["per_class_positives"]["0"] and first[0].paper == 3.0
    assert first[2].ours == results[0].counts["test"][0] and first[2].paper == 1.0
    assert first[2].count and first[2].delta is None  # counts sit beside the paper's, no delta
    md = render(table, "md")
    assert f"| {int(first[2].ours)} (1) |" in md or f"| {int(first[2].ours)} (1) " in md


class IndexFields:
    def __init__(self, fields):
        self.fields = fields

    @hookimpl
    def micro_bench_index_fields(self, config):
        return self.fields


def test_plugins_add_manifest_fields_in_the_place_the_tables_plugin_had_them(tmp_path, toy_pm):
    """``metric_info`` and ``reference_counts_csv`` come from the tables plugin's
    ``micro_bench_index_fields``, after the header and before ``rows`` (the order the core wrote
    them in, so manifests stay byte for byte); a third party adds its own; a manifest field is refused."""
    from micro_bench.errors import PluginError

    (tmp_path / "pc.csv").write_text("class,label,positives\n0,quiet,3\n")
    (tmp_path / "pc_counts.csv").write_text("class,test,val,train\n0,1,2,3\n")
    path = tmp_path / "pc.yaml"
    path.write_text(BENCH.replace("reference: ref.csv", "reference: pc.csv"))
    toy_pm.register(IndexFields({"lab_notebook": "p. 12"}), name="notebook")
    run_benchmark(load_config(path), tmp_path / "runs", host=toy_pm, echo=None)
    index = json.loads((tmp_path / "runs" / "toybench" / "index.json").read_text())
    assert list(index)[list(index).index("reference_csv") + 1:] == [
        "metric_info", "reference_counts_csv", "lab_notebook", "rows", "ci", "dataset"]
    assert index["reference_counts_csv"] == "class,test,val,train\n0,1,2,3\n"
    assert index["metric_info"] == {m: {k: v for k, v in toy_pm.registries["metric"].spec(m).extra.items()
                                        if k in ("title", "per_class", "reference")} for m in index["metrics"]}
    toy_pm.register(IndexFields({"rows": []}), name="greedy")
    with pytest.raises(PluginError, match="plugin 'greedy': micro_bench_index_fields gave 'rows'"):
        run_benchmark(load_config(path), tmp_path / "runs", host=toy_pm, echo=None)


def test_a_manifest_field_two_plugins_give_is_the_first_registered_ones(tmp_path, toy_pm, monkeypatch):
    """The one duplicate policy: the plugin registered first keeps the field, the later one is
    reported naming both (strict mode: an error)."""
    from micro_bench.errors import PluginError

    path = tmp_path / "b.yaml"
    path.write_text(BENCH.replace("reference: ref.csv\n", ""))
    toy_pm.register(IndexFields({"lab_notebook": "p. 12"}), name="first")
    toy_pm.register(IndexFields({"lab_notebook": "p. 99"}), name="second")
    run_benchmark(load_config(path), tmp_path / "runs", host=toy_pm, echo=None)
    assert json.loads((tmp_path / "runs" / "toybench" / "index.json").read_text())["lab_notebook"] == "p. 12"
    assert [p for p, m in toy_pm.problems if "duplicate index field 'lab_notebook'" in m and "'first'" in m] == ["second"]
    monkeypatch.setenv("MICRO_BENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="duplicate index field 'lab_notebook': provided by plugin 'first' and by plugin 'second'"):
        run_benchmark(load_config(path), tmp_path / "runs", host=toy_pm, echo=None)


class Rank:
    def __init__(self, rank):
        self.rank = rank

    @hookimpl
    def micro_bench_process_rank(self):
        return self.rank


def test_a_process_a_plugin_ranks_above_0_computes_but_writes_nothing(bench, tmp_path, toy_pm):
    """The core asks ``micro_bench_process_rank`` which process writes (no launcher convention of its own)."""
    from micro_bench.dist import rank

    assert rank(toy_pm) == 0  # no plugin answers: one process
    toy_pm.register(Rank(1), name="launcher")
    assert rank(toy_pm) == 1
    events = Recorder()
    toy_pm.register(events)
    results = run_benchmark(load_config(bench), tmp_path / "runs", host=toy_pm, echo=None)
    assert [r.label for r in results] == ["quiet", "noisy"] and all("mean_score" in r.metrics for r in results)
    assert not (tmp_path / "runs").exists() and events.events == []
    toy_pm.unregister(name="launcher")
    again = run_benchmark(load_config(bench), tmp_path / "runs", host=toy_pm, echo=None)
    assert [r.metrics for r in again] == [r.metrics for r in results]
    assert (tmp_path / "runs" / "toybench" / "index.json").is_file()


@pytest.mark.parametrize("value, expected", [(None, None), ("0", 0), ("3", 3), ("x", 0)])
def test_the_torch_plugin_answers_the_rank_by_torchruns_convention(monkeypatch, value, expected):
    from micro_bench.dist import is_main_process, rank
    from micro_bench.host import Host
    from micro_bench_torch import plugin

    if value is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", value)
    assert plugin.micro_bench_process_rank() == expected
    host = Host.load(builtins=False, entrypoints=False, plugins=[plugin])
    assert rank(host) == (expected or 0) and is_main_process(host) == (not expected)


def test_nan_metrics_are_written_as_null(tmp_path):
    from micro_bench.results import read_result, write_json

    write_json(tmp_path / "result.json", {"benchmark": "b", "label": "l", "key": "k",
                                          "metrics": {"roc_auc_macro": float("nan"), "x": {"0": float("inf")}}})
    assert '"roc_auc_macro": null' in (tmp_path / "result.json").read_text()
    assert read_result(tmp_path).metrics == {"roc_auc_macro": None, "x": {"0": None}}


@pytest.mark.slow
def test_dask_executor_matches_local(bench, tmp_path, toy_pm, monkeypatch):
    pytest.importorskip("distributed")
    import os

    import micro_bench_dask.plugin

    toy_pm.register(micro_bench_dask.plugin)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))  # worker processes import toy_plugin
    local = run_benchmark(load_config(bench), tmp_path / "a", host=toy_pm, echo=None)
    remote = run_benchmark(load_config(bench), tmp_path / "b", host=toy_pm, echo=None, executor="dask")
    assert [r.metrics for r in remote] == [r.metrics for r in local]
    assert [r.key for r in remote] == [r.key for r in local]


def test_cli_errors_are_one_line_and_nonzero(tmp_path, toy_pm):
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "missing.yaml")], obj=toy_pm)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: benchmark file '{tmp_path / 'missing.yaml'}' not found"


def test_list_verbose_shows_factory_and_metadata(toy_pm):
    from micro_bench import ComponentSpec, hookimpl

    class Meta:
        @hookimpl
        def micro_bench_losses(self):
            return [ComponentSpec("meta_loss", "toy_plugin:mean_score", "A loss", {"paper": "X et al."})]

    toy_pm.register(Meta(), name="meta")
    out = CliRunner().invoke(cli, ["list", "loss", "-v"], obj=toy_pm).output
    assert "meta_loss" in out and "factory: toy_plugin:mean_score" in out and "paper: X et al." in out
    plain = CliRunner().invoke(cli, ["list", "loss"], obj=toy_pm).output
    assert "factory:" not in plain


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from micro_bench_commands.cli import cli\n"
            "try:\n    cli(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
            "cli(['list'], standalone_mode=False)\n"
            "heavy = [m for m in ('torch', 'sklearn', 'zarr', 'dask', 'timm') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_importtime_shows_no_heavy_import():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "micro_bench", "--help"],
                          capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert imported.isdisjoint({"torch", "sklearn", "zarr", "dask"})
