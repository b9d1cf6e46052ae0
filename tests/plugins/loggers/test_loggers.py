"""The loggers plugin (TensorBoard and MLflow in one folder): each logger acts only when ``--log``
(``MICRO_BENCH_LOGGERS``) names it, one hook implementation calls every such logger, and one that
fails still lets the others close their sessions. Read-back with TensorBoard's and MLflow's own
readers: tests/stories/test_results_export.py."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import micro_bench_loggers.plugin as plugin
from micro_bench.errors import ConfigError
from micro_bench_loggers.base import RunLogger, finite


class Recorder(RunLogger):
    """A logger writing what it is told into ``calls`` (a list shared by all recorders)."""

    def __init__(self, name: str, calls: list, fail_at: str | None = None) -> None:
        super().__init__(name, "json", name.upper())
        self.calls, self.fail_at = calls, fail_at

    def _step(self, what: str, *args) -> None:
        self.calls.append((self.name, what, *args))
        if what == self.fail_at:
            raise RuntimeError(f"{self.name} failed in {what}")

    def start(self, run):
        self.sessions[run.key] = f"{self.name}-session"
        self._step("start")

    def epoch(self, run, session, epoch, metrics):
        self._step("epoch", session, epoch, dict(metrics))

    def end(self, run, session, result):
        self._step("end", session, dict(result.metrics))


@pytest.fixture
def loggers(monkeypatch):
    calls: list = []

    def install(fail_at: dict[str, str] | None = None) -> dict[str, Recorder]:
        fail_at = fail_at or {}
        made = {name: Recorder(name, calls, fail_at.get(name)) for name in ("first", "second", "third")}
        monkeypatch.setattr(plugin, "LOGGERS", made)
        return made

    install.calls = calls  # type: ignore[attr-defined]
    return install


RUN = SimpleNamespace(key="k1")
RESULT = SimpleNamespace(metrics={"f1_macro": 0.5, "per_class": {"a": 1.0}, "nan": math.nan, "flag": True})


def test_bundled_loggers_are_tensorboard_then_mlflow():
    assert list(plugin.LOGGERS) == ["tensorboard", "mlflow"]
    assert [(lg.module, lg.library) for lg in plugin.LOGGERS.values()] == [("tensorboard", "TensorBoard"), ("mlflow", "MLflow")]


def test_only_the_named_loggers_run(loggers, monkeypatch):
    made = loggers()
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "third,first")
    plugin.micro_bench_run_start(run=RUN)
    plugin.micro_bench_epoch_end(run=RUN, epoch=0, metrics={"train_loss": 1.0})
    plugin.micro_bench_run_end(run=RUN, result=RESULT)
    assert loggers.calls == [
        ("first", "start"), ("third", "start"),
        ("first", "epoch", "first-session", 0, {"train_loss": 1.0}), ("third", "epoch", "third-session", 0, {"train_loss": 1.0}),
        ("first", "end", "first-session", RESULT.metrics), ("third", "end", "third-session", RESULT.metrics)]
    assert all(not lg.sessions for lg in made.values())


def test_no_logger_named_nothing_runs(loggers, monkeypatch):
    loggers()
    monkeypatch.delenv("MICRO_BENCH_LOGGERS", raising=False)
    plugin.micro_bench_run_start(run=RUN)
    plugin.micro_bench_epoch_end(run=RUN, epoch=0, metrics={"train_loss": 1.0})
    plugin.micro_bench_run_end(run=RUN, result=RESULT)
    assert loggers.calls == []


def test_a_failing_logger_does_not_keep_the_others_from_closing(loggers, monkeypatch):
    made = loggers({"first": "end", "second": "end"})
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "first,second,third")
    plugin.micro_bench_run_start(run=RUN)
    with pytest.raises(RuntimeError, match="^first failed in end$"):  # the first failure, after all ran
        plugin.micro_bench_run_end(run=RUN, result=RESULT)
    assert [c[:2] for c in loggers.calls[3:]] == [("first", "end"), ("second", "end"), ("third", "end")]
    assert all(not lg.sessions for lg in made.values())


def test_a_failing_start_still_starts_the_others(loggers, monkeypatch):
    made = loggers({"first": "start"})
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "first,second")
    with pytest.raises(RuntimeError, match="first failed in start"):
        plugin.micro_bench_run_start(run=RUN)
    assert made["second"].sessions == {"k1": "second-session"}


@pytest.mark.parametrize(("name", "library"), [("mlflow", "MLflow"), ("tensorboard", "TensorBoard")])
def test_configure_names_the_missing_library_of_a_named_logger_only(monkeypatch, name, library):
    monkeypatch.setitem(sys.modules, name, None)  # not installed
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", name)
    with pytest.raises(ConfigError) as info:
        plugin.micro_bench_configure(config=None)
    assert str(info.value) == f"--log {name} needs {library}: pip install 'micro-bench[{name}]'"
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "")
    plugin.micro_bench_configure(config=None)  # not asked for: no error


def test_finite_keeps_plain_finite_numbers():
    assert finite({"a": 1, "b": 0.5, "c": math.inf, "d": math.nan, "e": True, "f": {"x": 1.0}, "g": "1"}) == {"a": 1.0, "b": 0.5}


def test_entry_module_imports_no_logging_library():
    import subprocess

    code = ("import sys, micro_bench_loggers.plugin; "
            "print(sorted(m for m in ('torch', 'tensorboard', 'mlflow', 'numpy', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": ":".join(sys.path)}, cwd=Path(__file__).parent).stdout
    assert out.strip() == "[]"
