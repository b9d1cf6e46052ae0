"""The loggers plugin (TensorBoard and MLflow in one folder) provides ``tensorboard`` and ``mlflow``
through ``micro_bench_run_loggers`` like any plugin; the core calls the ones ``--log``
(``MICRO_BENCH_LOGGERS``) names (tests/core/test_run_loggers.py: the dispatcher;
tests/stories/test_third_party_logger.py: a third party's). Read-back with TensorBoard's and
MLflow's own readers: tests/stories/test_results_export.py."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

import micro_bench_loggers.plugin as plugin
from micro_bench.errors import ConfigError
from micro_bench.host import Host
from micro_bench.runlog import check
from micro_bench_loggers.base import finite
from micro_bench_loggers.mlflow import MlflowLogger
from micro_bench_loggers.tensorboard import TensorBoardLogger


@pytest.fixture
def host(monkeypatch) -> Host:
    monkeypatch.delenv("MICRO_BENCH_LOGGERS", raising=False)
    return Host.load(builtins=False, entrypoints=False, plugins=[plugin])


def test_bundled_loggers_are_tensorboard_and_mlflow_components(host):
    registry = host.registries["logger"]
    assert registry.names() == ["mlflow", "tensorboard"]
    assert {registry.plugin_of(n) for n in registry.names()} == {plugin.__name__}
    assert registry.load("tensorboard") is TensorBoardLogger and registry.load("mlflow") is MlflowLogger
    made = registry.create("tensorboard")
    assert isinstance(made, TensorBoardLogger) and made is not registry.create("tensorboard")  # one per run
    assert [(c.name, c.module, c.library) for c in (TensorBoardLogger, MlflowLogger)] == [
        ("tensorboard", "tensorboard", "TensorBoard"), ("mlflow", "mlflow", "MLflow")]


@pytest.mark.parametrize(("name", "library"), [("mlflow", "MLflow"), ("tensorboard", "TensorBoard")])
def test_check_names_the_missing_library_of_a_named_logger_only(host, monkeypatch, name, library):
    monkeypatch.setitem(sys.modules, name, None)  # not installed
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", name)
    with pytest.raises(ConfigError) as info:
        check(host)
    assert str(info.value) == f"--log {name} needs {library}: pip install 'micro-bench[{name}]'"
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "")
    check(host)  # not asked for: no error


def test_finite_keeps_plain_finite_numbers():
    assert finite({"a": 1, "b": 0.5, "c": math.inf, "d": math.nan, "e": True, "f": {"x": 1.0}, "g": "1"}) == {"a": 1.0, "b": 0.5}


def test_tensorboard_logger_closes_its_writer_even_when_logging_fails(tmp_path):
    """end() closes the SummaryWriter when a value cannot be logged, and leaves no session behind."""
    pytest.importorskip("tensorboard")
    from types import SimpleNamespace

    run = SimpleNamespace(key="k", directory=tmp_path)
    logger = TensorBoardLogger()
    logger.start(run)
    writer = logger.session
    closed = []
    writer.close = lambda: closed.append(True)  # type: ignore[method-assign]
    bad = SimpleNamespace(history={"lr_iter": ["not a number"]}, metrics={})
    with pytest.raises(ValueError):
        logger.end(run, bad)
    assert closed == [True] and logger.session is None


def test_entry_module_imports_no_logging_library():
    import subprocess

    code = ("import sys, micro_bench_loggers.plugin; "
            "print(sorted(m for m in ('torch', 'tensorboard', 'mlflow', 'numpy', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": ":".join(sys.path)}, cwd=Path(__file__).parent).stdout
    assert out.strip() == "[]"


def test_tensorboard_fail_closes_the_writer_and_keeps_the_epochs(tmp_path):
    """fail() (the run raised after start) flushes and closes the writer: the epochs logged are on disk."""
    pytest.importorskip("tensorboard")
    from types import SimpleNamespace

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = SimpleNamespace(key="k", directory=tmp_path)
    logger = TensorBoardLogger()
    logger.start(run)
    writer, closed = logger.session, []
    close = writer.close
    writer.close = lambda: (closed.append(True), close())  # type: ignore[method-assign]
    logger.epoch(run, 0, {"train_loss": 0.75})
    logger.fail(run, RuntimeError("the trainer gave up"))
    assert closed == [True] and logger.session is None
    logger.fail(run, RuntimeError("again"))  # nothing open: no second close
    assert closed == [True]
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("epoch/train_loss")] == [(0, 0.75)]


def test_mlflow_fail_ends_the_run_failed_with_the_error(tmp_path, monkeypatch):
    """fail() (the run raised after start) ends the MLflow run FAILED (KILLED for ^C), read back with
    MLflow's own client; the epochs logged before stay."""
    pytest.importorskip("mlflow")
    from types import SimpleNamespace

    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    config = SimpleNamespace(to_dict=lambda: {"label": "x", "model": {"name": "prevalence"}})
    for label, error in (("crashed", RuntimeError("the trainer gave up")), ("stopped", KeyboardInterrupt())):
        run = SimpleNamespace(key=f"k-{label}", label=label, benchmark="toybench", directory=tmp_path, config=config)
        logger = MlflowLogger()
        logger.start(run)
        logger.epoch(run, 0, {"train_loss": 0.5})
        logger.fail(run, error)
        assert logger.session is None
        logger.fail(run, error)  # a second call has nothing to end
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("toybench")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert {name: r.info.status for name, r in runs.items()} == {"crashed": "FAILED", "stopped": "KILLED"}
    crashed = runs["crashed"]
    assert crashed.data.tags["micro_bench.error"] == "RuntimeError: the trainer gave up"
    assert crashed.data.params["model.name"] == "prevalence" and crashed.info.end_time is not None
    assert [(m.step, m.value) for m in client.get_metric_history(crashed.info.run_id, "train_loss")] == [(0, 0.5)]
