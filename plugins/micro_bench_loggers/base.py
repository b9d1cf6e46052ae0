"""What the bundled run loggers (``micro-bench run --log tensorboard|mlflow``) share: switched on
by ``MICRO_BENCH_LOGGERS`` (which ``--log`` sets), the library checked before any run starts, one
open session (a writer, an MLflow run) per computed run, and only finite numbers logged.

A logger is a :class:`RunLogger` subclass with ``start``, ``epoch`` and ``end``; the plugin's entry
module (:mod:`micro_bench_loggers.plugin`) calls every logger that ``--log`` named from one
implementation of each lifecycle hook."""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from typing import Any

from micro_bench.errors import ConfigError

__all__ = ["RunLogger", "finite"]


def finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``metrics`` as floats (no bools, per-class mappings, NaN or inf)."""
    return {k: float(v) for k, v in dict(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class RunLogger:
    """One logger: ``name`` in ``MICRO_BENCH_LOGGERS``, the ``module`` it needs (installed with
    the extra of the same name), and its open sessions by run key."""

    def __init__(self, name: str, module: str, library: str) -> None:
        self.name, self.module, self.library = name, module, library
        self.sessions: dict[str, Any] = {}

    def enabled(self) -> bool:
        """Whether ``MICRO_BENCH_LOGGERS`` (set by ``run --log``) names this logger."""
        return self.name in {p.strip() for p in os.environ.get("MICRO_BENCH_LOGGERS", "").split(",")}

    def check(self) -> None:
        """A one-line error before any run starts when logging is asked for and the library is
        missing."""
        if self.enabled() and importlib.util.find_spec(self.module) is None:
            raise ConfigError(f"--log {self.name} needs {self.library}: pip install 'micro-bench[{self.name}]'")

    def start(self, run: Any) -> None:
        """Open this run's session (only called when :meth:`enabled`)."""
        raise NotImplementedError

    def epoch(self, run: Any, session: Any, epoch: int, metrics: Mapping[str, Any]) -> None:
        """Log one epoch's numbers into the run's open ``session``."""
        raise NotImplementedError

    def end(self, run: Any, session: Any, result: Any) -> None:
        """Log the final numbers and close the run's ``session`` (already taken off :attr:`sessions`)."""
        raise NotImplementedError
