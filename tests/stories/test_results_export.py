"""Results into other tools: the tidy table (`micro-bench results`, `results_frame`), the HTML
report, logging and `run --json`, and the TensorBoard and MLflow loggers read back with their
own readers."""

from __future__ import annotations

import csv
import io
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import toy_plugin
from micro_bench import hookimpl
from micro_bench.config import load_config
from micro_bench.host import Host
from micro_bench.runner import run_benchmark
from micro_bench_commands.cli import cli
from micro_bench_report.tidy import BASE_COLUMNS, results_frame, tidy_rows
from toy_plugin import TOY_BENCH

BENCH = TOY_BENCH.replace("epochs: 2", "epochs: 3").replace("metrics: [mean_score, accuracy]",
                                                             "metrics: [mean_score, accuracy, per_class_positives]")


class Figures:
    """Draws one small PNG per run, as the torch plugin's figures do."""

    @hookimpl(tryfirst=True)
    def micro_bench_run_end(self, run, result):
        from PIL import Image

        Image.fromarray(np.full((8, 12, 3), 200, np.uint8)).save(run.directory / "curve.png")


@pytest.fixture
def pm(monkeypatch):
    import micro_bench_commands.plugin as commands_plugin
    import micro_bench_environment.plugin as env_plugin
    import micro_bench_local.plugin as local_plugin
    import micro_bench_loggers.plugin as loggers_plugin
    import micro_bench_report.plugin as report_plugin
    import micro_bench_tables.plugin as tables_plugin

    monkeypatch.delenv("MICRO_BENCH_LOGGERS", raising=False)
    pm = Host.load(builtins=False, entrypoints=False,
                             plugins=[toy_plugin, Figures(), commands_plugin, env_plugin, local_plugin, report_plugin, tables_plugin, loggers_plugin])
    return pm


@pytest.fixture
def bench(toy_bench):
    return toy_bench(BENCH)


def _run(host, *args: str):
    result = CliRunner().invoke(cli, list(args), obj=host)
    assert result.exit_code == 0, result.output
    return result


def test_tidy_table_has_a_row_per_run_metric_split_and_class(bench, tmp_path, pm):
    out = tmp_path / "runs"
    results = run_benchmark(load_config(bench), out, host=pm, echo=None, progress=False)
    rows = tidy_rows(out)
    k = 3  # toy classes
    assert len(rows) == 2 * (2 + k)
    assert list(rows[0])[: len(BASE_COLUMNS)] == list(BASE_COLUMNS)
    for result in results:
        mine = [r for r in rows if r["key"] == result.key]
        assert {r["split"] for r in mine} == {"test"} and {r["label"] for r in mine} == {result.label}
        for r in mine:
            expected = result.metrics[r["metric"]]
            assert r["value"] == (expected[r["class"]] if r["class"] is not None else expected)
            assert r["config.model.noise"] == result.config["model"]["noise"]
            assert r["config.trainer.epochs"] == 3 and r["config.split.fractions"] == "[0.8, 0.1, 0.1]"
    assert [r["label"] for r in rows][:: 2 + k] == ["quiet", "noisy"]  # the table's row order

    text = _run(pm, "results", str(out)).stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == len(rows) and float(parsed[0]["value"]) == pytest.approx(rows[0]["value"])
    assert json.loads(_run(pm, "results", str(out), "--format", "json").stdout) == json.loads(json.dumps(rows))

    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    _run(pm, "results", str(out), "--format", "parquet", "--out", str(tmp_path / "r.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), results_frame(out))


def test_results_frame_without_pandas_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(Exception, match=r"pip install 'micro-bench\[pandas\]'"):
        results_frame(tmp_path)


def test_report_is_one_self_contained_page(bench, tmp_path, pm):
    out = tmp_path / "runs"
    run_benchmark(load_config(bench), out, host=pm, echo=None, progress=False)
    _run(pm, "report", str(out), "--out", str(tmp_path / "report.html"))
    page = (tmp_path / "report.html").read_text()
    # the same figure in both runs is shown once, for all runs
    assert "<h2>Toy table</h2>" in page and page.count('src="data:image/png;base64,') == 1
    assert "<figcaption>all runs: curve</figcaption>" in page
    quiet = json.loads((out / "toybench" / "index.json").read_text())["rows"][0]["key"]
    ours = json.loads((out / "toybench" / quiet / "result.json").read_text())["metrics"]["mean_score"]
    # ours, the paper's 0.25 and the delta in one cell
    assert f"<td>{ours:.4f}<br><span class=\"paper\">0.2500</span>" in page
    assert f"{ours - 0.25:+.4f}</span>" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_library_prints_nothing_and_cli_separates_logs_from_output(bench, tmp_path, pm, capsys):
    run_benchmark(load_config(bench), tmp_path / "a", host=pm, progress=False)  # default echo: logging
    assert capsys.readouterr() == ("", "")
    result = CliRunner().invoke(cli, ["run", str(bench), "--out", str(tmp_path / "b"), "--json"], obj=pm)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["label"] for r in data["runs"]] == ["quiet", "noisy"] and not data["runs"][0]["cached"]
    assert "[run 1/2] quiet" in result.stderr and "[run" not in result.stdout
    quiet = CliRunner().invoke(cli, ["-q", "run", str(bench), "--out", str(tmp_path / "b")], obj=pm)
    assert quiet.exit_code == 0 and quiet.stderr == "" and "\nquiet\nnoisy\n" in quiet.stdout  # the table only
    verbose = CliRunner().invoke(cli, ["-v", "validate", str(bench)], obj=pm)
    assert verbose.exit_code == 0 and verbose.stdout.startswith(f"{bench}: OK")


def test_tensorboard_logger_read_back(bench, tmp_path, pm):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "runs"
    _run(pm, "run", str(bench), "--out", str(out), "--log", "tensorboard", "--no-progress")
    key = json.loads((out / "toybench" / "index.json").read_text())["rows"][1]["key"]
    events = EventAccumulator(str(out / "toybench" / key / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    loss = events.Scalars("epoch/train_loss")
    assert [(e.step, e.value) for e in loss] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    result = json.loads((out / "toybench" / key / "result.json").read_text())
    assert events.Scalars("final/mean_score")[0].value == pytest.approx(result["metrics"]["mean_score"])
    assert events.Images("figures/curve")[0].width == 12
    # not asked: nothing written
    _run(pm, "run", str(bench), "--out", str(tmp_path / "plain"), "--no-progress")
    assert not list((tmp_path / "plain").rglob("tensorboard"))


@pytest.mark.slow
def test_mlflow_logger_read_back(bench, tmp_path, pm, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    _run(pm, "run", str(bench), "--out", "runs", "--log", "mlflow", "--no-progress")
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("toybench")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"quiet", "noisy"}
    noisy = runs["noisy"]
    result_dir = tmp_path / "runs" / "toybench" / noisy.data.tags["micro_bench.key"]
    result = json.loads((result_dir / "result.json").read_text())
    assert noisy.info.status == "FINISHED"
    assert noisy.data.params["model.noise"] == "0.5" and noisy.data.params["trainer.epochs"] == "3"
    assert noisy.data.metrics["final.mean_score"] == pytest.approx(result["metrics"]["mean_score"])
    history = client.get_metric_history(noisy.info.run_id, "train_loss")
    assert sorted((m.step, m.value) for m in history) == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    artifacts = {a.path for a in client.list_artifacts(noisy.info.run_id)}
    assert {"result.json", "config.json", "environment.json", "curve.png"} <= artifacts


@pytest.mark.parametrize(("logger", "library"), [("mlflow", "MLflow"), ("tensorboard", "TensorBoard")])
def test_a_logger_without_its_library_is_one_line_before_any_run(bench, tmp_path, pm, monkeypatch, logger, library):
    monkeypatch.setitem(sys.modules, logger, None)  # not installed
    result = CliRunner().invoke(cli, ["run", str(bench), "--out", str(tmp_path / "r"), "--log", logger], obj=pm)
    assert result.exit_code == 1
    assert f"Error: --log {logger} needs {library}: pip install 'micro-bench[{logger}]'\n" in result.output
    assert not (tmp_path / "r").exists()
