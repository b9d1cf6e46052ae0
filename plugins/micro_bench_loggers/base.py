"""What the bundled run loggers (``micro-bench run --log tensorboard|mlflow``) share: the library
checked before any run starts (the optional ``check()`` of the
:class:`~micro_bench.components.RunLogger` contract), one open session (a writer, an MLflow run)
per computed run, and only finite numbers logged.

The core builds one logger per computed run (the factory, a :class:`LibraryLogger` subclass, is
called without parameters) and calls ``start``, ``epoch`` and ``end``, or ``fail`` instead of ``end``
when the run raised (:mod:`micro_bench.runlog`);
a third-party logger meets the same Protocol without subclassing anything here."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping
from typing import Any

from micro_bench.errors import ConfigError

__all__ = ["LibraryLogger", "finite"]


def finite(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``metrics`` as floats (no bools, per-class mappings, NaN or inf)."""
    return {k: float(v) for k, v in dict(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class LibraryLogger:
    """A bundled logger: its ``--log`` ``name``, the ``module`` it needs (installed with the extra
    of the same name) and the ``library``'s display name; ``session``: what ``start`` opened."""

    name = ""
    module = ""
    library = ""

    def __init__(self) -> None:
        self.session: Any = None

    def check(self) -> None:
        """A one-line error before any run starts when the library is missing."""
        if importlib.util.find_spec(self.module) is None:
            raise ConfigError(f"--log {self.name} needs {self.library}: pip install 'micro-bench[{self.name}]'")
