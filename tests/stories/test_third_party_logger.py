"""A third party's run logger is chosen by ``run --log NAME`` like the bundled tensorboard and mlflow:
provided through ``micro_bench_run_loggers`` by a plugin file (no bundled loggers plugin loaded), it
records what the run produced; a failing one is blamed on its plugin and does not keep the others
from closing; an unknown name is one line; conformance checks the kind."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import toy_plugin
from micro_bench.host import Host
from micro_bench_commands.cli import cli

RECORDER = '''\
import json
import os

from micro_bench import ComponentSpec, hookimpl
from micro_bench.errors import ConfigError


class Recorder:
    """Appends each call, with what it was given, to <run>/NAME.jsonl."""

    name = "toy"

    def start(self, run):
        self.path = run.directory / f"{self.name}.jsonl"
        self._write({"call": "start", "key": run.key, "label": run.label, "benchmark": run.benchmark,
                     "pid": os.getpid()})

    def epoch(self, run, epoch, metrics):
        self._write({"call": "epoch", "epoch": epoch, "metrics": dict(metrics)})

    def end(self, run, result):
        self._write({"call": "end", "metrics": result.metrics})

    def _write(self, record):
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\\n")


class Broken(Recorder):
    name = "broken"

    def end(self, run, result):
        super().end(run, result)
        raise RuntimeError("the tracking server hung up")


class Needy(Recorder):
    def check(self):
        raise ConfigError("--log needy needs needylib: pip install needylib")


class Mute:
    def start(self, run):
        pass


@hookimpl
def micro_bench_run_loggers():
    return [ComponentSpec("toy", Recorder, "records every call"), ComponentSpec("broken", Broken, "fails in end"),
            ComponentSpec("needy", Needy, "its library is missing"), ComponentSpec("mute", Mute, "no epoch, no end")]
'''


@pytest.fixture
def host(tmp_path: Path, monkeypatch) -> Host:
    import micro_bench_commands.plugin
    import micro_bench_local.plugin

    monkeypatch.delenv("MICRO_BENCH_LOGGERS", raising=False)
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "recorder.py").write_text(RECORDER, encoding="utf-8")
    return Host.load(builtins=False, entrypoints=False, plugins_dir=folder,
                     plugins=[toy_plugin, micro_bench_local.plugin, micro_bench_commands.plugin])


def _run(host: Host, bench: Path, out: Path, *args: str):
    return CliRunner().invoke(cli, ["run", str(bench), "--out", str(out), "--no-progress", *args], obj=host)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_log_toy_records_start_each_epoch_and_end_with_the_runs_values(host, toy_bench, tmp_path):
    out = tmp_path / "runs"
    result = _run(host, toy_bench(), out, "--log", "toy")
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "toybench" / "index.json").read_text())["rows"]
    assert [row["label"] for row in rows] == ["quiet", "noisy"]
    for row in rows:
        folder = out / "toybench" / row["key"]
        written = json.loads((folder / "result.json").read_text())
        losses = written["history"]["train_loss"]
        assert losses == [1.0, 0.5]  # the toy trainer's two epochs
        assert _records(folder / "toy.jsonl") == [
            {"call": "start", "key": row["key"], "label": row["label"], "benchmark": "toybench", "pid": os.getpid()},
            *({"call": "epoch", "epoch": e, "metrics": {"train_loss": loss}} for e, loss in enumerate(losses)),
            {"call": "end", "metrics": written["metrics"]}]
    # the environment variable is only set for the run
    assert "MICRO_BENCH_LOGGERS" not in os.environ
    # not asked for: nothing recorded
    again = _run(host, toy_bench(), tmp_path / "plain")
    assert again.exit_code == 0 and not list((tmp_path / "plain").rglob("toy.jsonl"))


def test_a_failing_logger_is_blamed_on_its_plugin_and_the_others_still_close(host, toy_bench, tmp_path):
    out = tmp_path / "runs"
    result = _run(host, toy_bench(), out, "--log", "broken", "--log", "mute", "--log", "toy")
    assert result.exit_code == 0, result.output  # the runs and their results are intact
    for row in json.loads((out / "toybench" / "index.json").read_text())["rows"]:
        folder = out / "toybench" / row["key"]
        assert [r["call"] for r in _records(folder / "broken.jsonl")] == ["start", "epoch", "epoch", "end"]
        assert [r["call"] for r in _records(folder / "toy.jsonl")] == ["start", "epoch", "epoch", "end"]
        lines = (folder / "log.txt").read_text().splitlines()
        blamed = [line.split(" ", 2)[2] for line in lines if "run logger" in line]
        origin = host.origin_of("recorder")
        assert origin.endswith("recorder.py")
        assert blamed == [  # in the order the calls failed; the blame names the plugin and its file
            f"plugin 'recorder' ({origin}) failed in epoch of run logger 'mute': AttributeError: 'Mute' object has "
            "no attribute 'epoch'; logging to 'mute' stopped for this run",
            f"plugin 'recorder' ({origin}) failed in end of run logger 'broken': RuntimeError: the tracking server "
            "hung up; logging to 'broken' stopped for this run",
            f"plugin 'recorder' ({origin}) failed in end of run logger 'mute': AttributeError: 'Mute' object has "
            "no attribute 'end'; logging to 'mute' stopped for this run",
        ]
        assert (folder / "result.json").is_file() and (folder / ".finalised").exists()


def test_an_unknown_logger_is_one_line_with_a_suggestion_before_any_run(host, toy_bench, tmp_path):
    for name, hint in (("nosuch", ""), ("toi", " (did you mean 'toy'?)")):
        result = _run(host, toy_bench(), tmp_path / "runs", "--log", name)
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert errors == [f"Error: Invalid value for '--log': unknown run logger {name!r}{hint}; available: "
                          "broken, mute, needy, toy (micro-bench list logger)"]
    result = _run(host, toy_bench(), tmp_path / "runs", "--log", "needy")
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        "Error: --log needy needs needylib: pip install needylib"]
    assert not (tmp_path / "runs").exists()



def test_an_unknown_name_in_the_environment_is_one_line_before_any_run(host, toy_bench, tmp_path, monkeypatch):
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "toy,nosuch")
    result = _run(host, toy_bench(), tmp_path / "runs")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        "Error: MICRO_BENCH_LOGGERS (run --log): unknown run logger 'nosuch'; available: broken, mute, needy, toy "
        "(micro-bench list logger)"]
    assert not (tmp_path / "runs").exists()


def test_list_and_conformance_see_the_kind(host):
    from micro_bench_conformance import check_plugin

    listed = CliRunner().invoke(cli, ["list", "logger"], obj=host)
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == ["broken", "mute", "needy", "toy"]
    assert all(line.endswith("[recorder]") for line in listed.output.splitlines())
    results = {r.name: r for r in check_plugin(host, "recorder")}
    assert {name: r.status for name, r in results.items()} == {"broken": "PASS", "needy": "PASS", "toy": "PASS",
                                                                "mute": "FAIL"}
    assert results["mute"].message == "has no epoch() (a RunLogger has start, epoch and end)"
    assert results["needy"].message.endswith("; optional: check")


def test_the_csv_logger_of_writing_plugins_md_works_as_written(toy_bench, tmp_path, monkeypatch):
    """The run logger example of docs/writing-plugins.md, extracted as written, is chosen by --log csv."""
    import csv
    import textwrap

    import micro_bench_commands.plugin
    import micro_bench_local.plugin

    doc = (Path(__file__).resolve().parents[2] / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    start = doc.index("  # my_plugins/csvlog.py\n")
    code = textwrap.dedent(doc[start:doc.index("  ```\n", start)])
    folder = tmp_path / "my_plugins"
    folder.mkdir()
    (folder / "csvlog.py").write_text(code, encoding="utf-8")
    monkeypatch.delenv("MICRO_BENCH_LOGGERS", raising=False)
    host = Host.load(builtins=False, entrypoints=False, plugins_dir=folder,
                     plugins=[toy_plugin, micro_bench_local.plugin, micro_bench_commands.plugin])
    out = tmp_path / "runs"
    result = _run(host, toy_bench(), out, "--log", "csv")
    assert result.exit_code == 0, result.output
    for row in json.loads((out / "toybench" / "index.json").read_text())["rows"]:
        folder = out / "toybench" / row["key"]
        written = json.loads((folder / "result.json").read_text())
        with (folder / "epochs.csv").open(newline="") as fh:
            epochs = [(int(r["epoch"]), float(r["train_loss"])) for r in csv.DictReader(fh)]
        assert epochs == list(enumerate(written["history"]["train_loss"])) == [(0, 1.0), (1, 0.5)]
        with (folder / "final.csv").open(newline="") as fh:
            final = {k: float(v) for k, v in csv.reader(fh)}
        assert final == {k: v for k, v in written["metrics"].items() if isinstance(v, float)}
        assert set(final) == {"mean_score", "accuracy"}


@pytest.mark.slow
def test_the_chosen_logger_runs_in_the_dask_worker_processes(tmp_path, monkeypatch, toy_bench):
    """MICRO_BENCH_LOGGERS reaches the workers: each run is logged once, by the process that ran it."""
    pytest.importorskip("distributed")
    import micro_bench_dask.plugin
    import micro_bench_local.plugin
    from micro_bench.config import load_config
    from micro_bench.runner import run_benchmark

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(toy_plugin.__file__).parent), *sys.path]))
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "toy")
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "recorder.py").write_text(RECORDER, encoding="utf-8")
    host = Host.load(builtins=False, entrypoints=False, plugins_dir=folder,
                     plugins=[toy_plugin, micro_bench_dask.plugin, micro_bench_local.plugin])
    config = load_config(toy_bench())
    out = tmp_path / "runs"
    results = run_benchmark(config, out, host=host, echo=None, executor="dask", executor_options={"workers": 1})
    for result in results:
        records = _records(out / "toybench" / result.key / "toy.jsonl")
        assert [r["call"] for r in records] == ["start", "epoch", "epoch", "end"]
        assert records[0]["pid"] != os.getpid() and records[-1]["metrics"] == result.metrics
