"""Entry module of the ``loggers`` plugin: the run loggers of ``micro-bench run --log NAME``
(``tensorboard``: :mod:`micro_bench_loggers.tensorboard`, extra ``[tensorboard]``; ``mlflow``:
:mod:`micro_bench_loggers.mlflow`, extra ``[mlflow]``). A logger acts only when ``--log`` (or
``MICRO_BENCH_LOGGERS``) names it; one implementation of each lifecycle hook calls every such
logger in :data:`LOGGERS` order, and a logger that fails does not keep the others from closing
their sessions (the first failure is raised after all have run).

Imports only the standard library and micro_bench until a run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from micro_bench import hookimpl
from micro_bench_loggers import mlflow, tensorboard
from micro_bench_loggers.base import RunLogger

__all__ = ["LOGGERS"]

#: Every bundled logger, by ``--log`` name.
LOGGERS: dict[str, RunLogger] = {logger.name: logger for logger in (tensorboard.LOGGER, mlflow.LOGGER)}


def _each(call: Callable[[RunLogger], None], loggers: list[RunLogger]) -> None:
    """``call`` on every logger; the first exception is raised once all have been called."""
    failure: BaseException | None = None
    for logger in loggers:
        try:
            call(logger)
        except BaseException as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


@hookimpl
def micro_bench_configure(config: Any) -> None:
    """A one-line error before any run starts when ``--log NAME`` is asked and its library is missing."""
    for logger in LOGGERS.values():
        logger.check()


@hookimpl
def micro_bench_run_start(run: Any) -> None:
    _each(lambda logger: logger.start(run), [logger for logger in LOGGERS.values() if logger.enabled()])


@hookimpl
def micro_bench_epoch_end(run: Any, epoch: int, metrics: Mapping[str, Any]) -> None:
    open_ = [logger for logger in LOGGERS.values() if run.key in logger.sessions]
    _each(lambda logger: logger.epoch(run, logger.sessions[run.key], epoch, metrics), open_)


@hookimpl(trylast=True)  # after the plugins that draw figures and write the model card
def micro_bench_run_end(run: Any, result: Any) -> None:
    open_ = [logger for logger in LOGGERS.values() if run.key in logger.sessions]
    _each(lambda logger: logger.end(run, logger.sessions.pop(run.key), result), open_)
