"""What the bundled run loggers (``micro-bench run --log tensorboard|mlflow``) share: switched on
by ``MICRO_BENCH_LOGGERS`` (which ``--log`` sets), the library checked before any run starts, one
open session (a writer, an MLflow run) per computed run, and only finite numbers logged."""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping
from typing import Any

from micro_bench import hookimpl
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

    @hookimpl
    def micro_bench_configure(self, config: Any) -> None:
        """A one-line error before any run starts when logging is asked for and the library is
        missing (a logger's entry module exports this bound method as its hook)."""
        if self.enabled() and importlib.util.find_spec(self.module) is None:
            raise ConfigError(f"--log {self.name} needs {self.library}: pip install 'micro-bench[{self.name}]'")
