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
