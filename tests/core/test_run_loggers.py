"""The core's run-logger dispatcher (:mod:`micro_bench.runlog`): run loggers are a component kind
(one ``KIND_TABLE`` entry, provider hook ``micro_bench_run_loggers``); the ones ``MICRO_BENCH_LOGGERS``
names are built per run and called in order; one that fails is reported naming its plugin and gets no
more calls (but ``end`` after a failed ``epoch``), and never keeps the others from starting or closing.
When the run raises after ``start``, every open logger gets its optional ``fail(run, error)`` instead of
``end`` (once, in order) and the run's own exception reaches the caller unchanged."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from micro_bench import ComponentSpec, components, hookimpl
from micro_bench.errors import ComponentError, ConfigError
from micro_bench.host import Host
from micro_bench.runlog import RunLoggers, check, chosen

CALLS: list[tuple] = []
FAIL: dict[str, str] = {}


class Recorder:
    name = "?"

    def _step(self, what: str, *args) -> None:
        CALLS.append((self.name, what, *args))
        if FAIL.get(self.name) == what:
            raise RuntimeError(f"{self.name} failed in {what}")

    def start(self, run):
        self._step("start", run.key)

    def epoch(self, run, epoch, metrics):
        self._step("epoch", epoch, dict(metrics))

    def end(self, run, result):
        self._step("end", dict(result.metrics))

    def fail(self, run, error):
        self._step("fail", repr(error))


def _recorder(name: str) -> type:
    return type(name.title(), (Recorder,), {"name": name})


class Picky(Recorder):
    name = "picky"
    checked = 0

    def check(self):
        type(self).checked += 1
        if FAIL.get("picky") == "check":
            raise ConfigError("--log picky needs pickylib")


class Loggers:
    @hookimpl
    def micro_bench_run_loggers(self):
        return [ComponentSpec(n, _recorder(n)) for n in ("first", "second", "third")] + [ComponentSpec("picky", Picky)]


@pytest.fixture
def host(monkeypatch) -> Host:
    CALLS.clear()
    FAIL.clear()
    monkeypatch.delenv("MICRO_BENCH_LOGGERS", raising=False)
    host = Host.load(builtins=False, entrypoints=False)
    host.register(Loggers(), name="recorders")
    return host


RUN = SimpleNamespace(key="k1")
RESULT = SimpleNamespace(metrics={"f1_macro": 0.5})


def _lifecycle(host, names=None, epochs=2) -> list[str]:
    lines: list[str] = []
    loggers = RunLoggers(host, RUN, lines.append, names)  # type: ignore[arg-type]
    for epoch in range(epochs):
        loggers.epoch(epoch, {"train_loss": 1.0 / (epoch + 1)})
    loggers.end(RESULT)  # type: ignore[arg-type]
    assert loggers.names == []  # each ended once
    return lines


def test_logger_is_one_kind_of_the_table():
    entry = components.kind("logger")
    assert (entry.hook, entry.plural, entry.key, entry.protocol) == (
        "micro_bench_run_loggers", "run loggers", None, components.RunLogger)
    assert "logger" not in components.configured().values()  # no config key: the run key is unchanged
    assert set(components.OPTIONAL["logger"]) == {"check", "fail"}


def test_only_the_named_loggers_run_in_the_given_order(host, monkeypatch):
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", " third,first ,third,")
    assert chosen() == ["third", "first"]
    assert _lifecycle(host) == []
    assert CALLS == [
        ("third", "start", "k1"), ("first", "start", "k1"),
        ("third", "epoch", 0, {"train_loss": 1.0}), ("first", "epoch", 0, {"train_loss": 1.0}),
        ("third", "epoch", 1, {"train_loss": 0.5}), ("first", "epoch", 1, {"train_loss": 0.5}),
        ("third", "end", {"f1_macro": 0.5}), ("first", "end", {"f1_macro": 0.5})]


def test_no_logger_named_nothing_is_built(host):
    assert _lifecycle(host) == [] and CALLS == []
    check(host)  # nothing to check


def test_a_failing_end_does_not_keep_the_others_from_closing(host):
    FAIL.update(first="end", second="end")
    lines = _lifecycle(host, ["first", "second", "third"], epochs=0)
    assert [c[:2] for c in CALLS[3:]] == [("first", "end"), ("second", "end"), ("third", "end")]
    assert lines == [f"plugin 'recorders' ({host.origin_of('recorders')}) failed in end of run logger {n!r}: "
                     f"RuntimeError: {n} failed in end; logging to {n!r} stopped for this run" for n in ("first", "second")]


def test_a_failing_start_still_starts_the_others_and_gets_no_more_calls(host):
    FAIL.update(first="start")
    lines = _lifecycle(host, ["first", "second"], epochs=1)
    assert [c[:2] for c in CALLS] == [("first", "start"), ("second", "start"), ("second", "epoch"), ("second", "end")]
    assert len(lines) == 1 and "failed in start of run logger 'first': RuntimeError: first failed in start" in lines[0]


def test_a_failing_epoch_stops_the_epochs_but_end_still_closes(host):
    FAIL.update(second="epoch")
    lines = _lifecycle(host, ["first", "second"], epochs=3)
    assert [c[:2] for c in CALLS if c[0] == "second"] == [("second", "start"), ("second", "epoch"), ("second", "end")]
    assert [c[2] for c in CALLS if c[:2] == ("first", "epoch")] == [0, 1, 2]
    assert len(lines) == 1 and "failed in epoch of run logger 'second'" in lines[0]


def test_an_unknown_name_reaching_a_run_is_reported_not_raised(host):
    lines = _lifecycle(host, ["nosuch", "first"], epochs=1)
    assert [c[:2] for c in CALLS] == [("first", "start"), ("first", "epoch"), ("first", "end")]
    assert lines == ["run logger 'nosuch' failed in start: ComponentError: unknown logger 'nosuch' Available run "
                     "loggers: first, picky, second, third; logging to 'nosuch' stopped for this run"]


def test_check_refuses_unknown_names_and_runs_the_optional_check(host):
    with pytest.raises(ComponentError) as info:
        check(host, ["frist"])
    assert str(info.value) == ("MICRO_BENCH_LOGGERS (run --log): unknown run logger 'frist' (did you mean 'first'?); "
                               "available: first, picky, second, third (micro-bench list logger)")
    Picky.checked = 0
    check(host, ["first", "picky"])
    assert Picky.checked == 1 and CALLS == []  # built and checked, not started
    FAIL.update(picky="check")
    with pytest.raises(ConfigError, match="^--log picky needs pickylib$"):
        check(host, ["picky"])


class Mute:
    """Started, never told about the end of a failed run: it offers no ``fail``."""

    def start(self, run):
        CALLS.append(("mute", "start", run.key))

    def epoch(self, run, epoch, metrics):
        CALLS.append(("mute", "epoch", epoch))

    def end(self, run, result):
        CALLS.append(("mute", "end"))


class MuteLoggers:
    @hookimpl
    def micro_bench_run_loggers(self):
        return [ComponentSpec("mute", Mute)]


def test_fail_reaches_every_open_logger_once_in_order_and_a_failing_one_is_reported(host):
    host.register(MuteLoggers(), name="mute")
    FAIL.update(first="start", second="fail")
    lines: list[str] = []
    loggers = RunLoggers(host, RUN, lines.append, ["first", "second", "mute", "third"])  # type: ignore[arg-type]
    loggers.epoch(0, {"train_loss": 1.0})
    error = ValueError("the trainer gave up")
    loggers.fail(error)
    assert loggers.names == []
    loggers.fail(error)  # nothing open any more: no second call
    loggers.end(RESULT)  # type: ignore[arg-type]
    assert [c[:2] for c in CALLS] == [
        ("first", "start"), ("second", "start"), ("mute", "start"), ("third", "start"),
        ("second", "epoch"), ("mute", "epoch"), ("third", "epoch"),
        ("second", "fail"), ("third", "fail")]  # first never started; mute offers no fail
    assert [c[2] for c in CALLS if c[1] == "fail"] == [repr(error)] * 2
    assert lines[1] == (f"plugin 'recorders' ({host.origin_of('recorders')}) failed in fail of run logger 'second': "
                        "RuntimeError: second failed in fail; logging to 'second' stopped for this run")
    assert len(lines) == 2 and "failed in start of run logger 'first'" in lines[0]


def test_fail_follows_a_failed_epoch(host):
    FAIL.update(first="epoch")
    loggers = RunLoggers(host, RUN, [].append, ["first"])  # type: ignore[arg-type]
    loggers.epoch(0, {})
    loggers.epoch(1, {})
    loggers.fail(KeyboardInterrupt())
    assert [c[:2] for c in CALLS] == [("first", "start"), ("first", "epoch"), ("first", "fail")]


class Crash(Exception):
    """The trainer's own error, to be seen unchanged by whoever runs the benchmark."""


class CrashingTrainer:
    def __init__(self, epochs: int = 2) -> None:
        self.epochs = epochs

    def fit(self, model, dataset, split, *, loss, schedule, transform, context):
        context.epoch_end(0, {"train_loss": 1.0})
        raise Crash("out of patience at epoch 1")

    def predict(self, model, dataset, indices, *, tta, transform, context):  # pragma: no cover - never reached
        raise AssertionError("predict after a failed fit")


class CrashingTrainers:
    @hookimpl
    def micro_bench_trainers(self):
        return [ComponentSpec("crashing", CrashingTrainer)]


def test_a_run_that_raises_fails_its_loggers_and_its_error_goes_on_unchanged(toy_pm, tmp_path, monkeypatch):
    from micro_bench.config import load_config
    from micro_bench.runner import run_benchmark
    from toy_plugin import TOY_BENCH

    CALLS.clear()
    FAIL.clear()
    FAIL.update(first="fail")  # a logger failing in fail() does not replace the run's error
    toy_pm.register(Loggers(), name="recorders")
    toy_pm.register(CrashingTrainers(), name="crashing")
    monkeypatch.setenv("MICRO_BENCH_LOGGERS", "first,second")
    path = tmp_path / "bench.yaml"
    path.write_text(TOY_BENCH.replace("trainer: {name: toy_trainer, epochs: 2}", "trainer: crashing")
                    .replace("reference: ref.csv\n", "").replace("  - {label: noisy, model: {noise: 0.5}}\n", ""))
    config = load_config(path, host=toy_pm)
    with pytest.raises(Crash, match="^out of patience at epoch 1$") as info:
        run_benchmark(config, tmp_path / "runs", host=toy_pm, echo=None)
    assert type(info.value) is Crash
    calls, key = list(CALLS), CALLS[0][2]
    assert calls == [("first", "start", key), ("second", "start", key),
                     ("first", "epoch", 0, {"train_loss": 1.0}), ("second", "epoch", 0, {"train_loss": 1.0}),
                     ("first", "fail", repr(info.value)), ("second", "fail", repr(info.value))]
    log = (tmp_path / "runs" / "toybench" / key / "log.txt").read_text()
    assert "failed in fail of run logger 'first': RuntimeError: first failed in fail" in log
    assert not (tmp_path / "runs" / "toybench" / key / "result.json").exists()
