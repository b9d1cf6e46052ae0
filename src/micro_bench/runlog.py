"""Run loggers (registry kind ``logger``, provided by any plugin through ``micro_bench_run_loggers``)
and the one dispatcher that calls them.

``micro-bench run --log NAME`` chooses loggers; ``MICRO_BENCH_LOGGERS`` (comma-separated names)
carries the choice, also into dask worker processes. :func:`check` runs before any run starts;
the runner opens :class:`RunLoggers` for each computed run (on the process that writes it): every
chosen logger is built and started after the ``micro_bench_run_start`` hooks, told each epoch
after the ``micro_bench_epoch_end`` hooks, and ended after every ``micro_bench_run_end`` hook. When
the run raises after the loggers started (the trainer fails, a hook raises, ^C), each logger still
open gets its optional ``fail(run, error)`` instead of ``end`` (an MLflow run ends FAILED, a
TensorBoard writer is closed) and the run's own exception goes on unchanged.

A logger that raises is reported in the run's log in one line naming its plugin and distribution
(:mod:`micro_bench.blame`, else the plugin that registered it) and gets no more calls for that run,
except ``end`` (or ``fail``) after a failed ``epoch`` (so that it can close); the other loggers and the
run go on. A logger failing in ``fail`` is reported the same way and never replaces the run's error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from micro_bench.blame import Culprit, blame
from micro_bench.components import offers
from micro_bench.errors import ComponentError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from micro_bench.contract import Run
    from micro_bench.host import Host
    from micro_bench.results import RunResult

__all__ = ["ENV", "RunLoggers", "check", "chosen", "unknown"]

#: The environment variable naming the chosen loggers (``run --log`` sets it).
ENV = "MICRO_BENCH_LOGGERS"


def chosen() -> list[str]:
    """The logger names in :data:`ENV`, in order, without blanks or repeats."""
    return list(dict.fromkeys(n.strip() for n in os.environ.get(ENV, "").split(",") if n.strip()))


def check(host: Host, names: Iterable[str] | None = None) -> None:
    """Before any run starts: each chosen logger (``names``, default :func:`chosen`) exists (else a
    one-line :class:`~micro_bench.errors.ComponentError` listing the loggers, with a suggestion) and, built,
    passes its optional ``check()`` (a missing library: its one-line ``ConfigError``)."""
    names = chosen() if names is None else list(names)
    if not names:
        return
    registry = host.registries["logger"]
    for name in names:
        try:
            registry.spec(name)
        except ComponentError:
            raise ComponentError(f"{ENV} (run --log): {unknown(host, name)}") from None
        logger = registry.create(name)
        if offers(logger, "check"):
            logger.check()


def unknown(host: Host, name: str) -> str:
    """One line for a logger name no plugin provides: the closest name and the available ones."""
    import difflib

    names = host.registries["logger"].names()
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown run logger {name!r}{hint}; available: {', '.join(names) or '(none)'} (micro-bench list logger)"


class RunLoggers:
    """The chosen loggers of one computed run, started on creation."""

    def __init__(self, host: Host, run: Run, log: Callable[[str], Any], names: Iterable[str] | None = None) -> None:
        self._host, self._run, self._log = host, run, log
        #: name -> started logger (``end`` is due); names in ``_epochs`` still get ``epoch``.
        self._open: dict[str, Any] = {}
        self._epochs: set[str] = set()
        for name in chosen() if names is None else names:
            if self._call(name, "start", None):
                self._epochs.add(name)

    @property
    def names(self) -> list[str]:
        """The loggers started and not yet ended, in order."""
        return list(self._open)

    def epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        for name, logger in self._open.items():
            if name in self._epochs and not self._call(name, "epoch", logger, epoch, metrics):
                self._epochs.discard(name)

    def end(self, result: RunResult) -> None:
        """``end`` on every open logger (each once, a failing one does not stop the others)."""
        while self._open:
            name = next(iter(self._open))
            logger = self._open.pop(name)
            self._epochs.discard(name)
            self._call(name, "end", logger, result)

    def fail(self, error: BaseException) -> None:
        """The run raised ``error`` after the loggers started: ``fail(run, error)`` on every open
        logger that offers it (:data:`~micro_bench.components.OPTIONAL`), in order, each once; one
        without it is only dropped. Never raises for a logger's failure (the caller re-raises
        ``error``)."""
        while self._open:
            name = next(iter(self._open))
            logger = self._open.pop(name)
            self._epochs.discard(name)
            if offers(logger, "fail"):
                self._call(name, "fail", logger, error)

    def _call(self, name: str, stage: str, logger: Any, *args: Any) -> bool:
        """``logger.<stage>(run, *args)``; ``logger`` ``None``: build it and start it."""
        try:
            if logger is None:
                logger = self._host.registries["logger"].create(name)
                logger.start(self._run)
                self._open[name] = logger
            else:
                getattr(logger, stage)(self._run, *args)
        except Exception as exc:  # noqa: BLE001 - one logger's failure is reported, the run goes on
            self._log(f"{self._culprit(name, stage, exc)}; logging to {name!r} stopped for this run")
            return False
        return True

    def _culprit(self, name: str, stage: str, exc: Exception) -> str:
        """The failure in one line, naming the plugin (:func:`~micro_bench.blame.blame`, else the one
        that registered the logger) and its distribution."""
        found = blame(exc, self._host)
        registry = self._host.registries["logger"]
        plugin = found.plugin if found else registry.plugin_of(name) if name in registry else None
        if plugin is None:  # not a known logger (a worker's environment): the error says so
            text = " ".join(str(exc).split())
            return f"run logger {name!r} failed in {stage}: {type(exc).__name__}: {text}"
        return str(Culprit(plugin, self._host.origin_of(plugin), f"{stage} of run logger {name!r}", exc))
