"""micro-bench: pluggable multi-label microscopy benchmarks.

The public API. Importing this package is cheap: no torch, scikit-learn, zarr or dask, and no
plugin manager is built until something asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micro_bench.components import (
    KINDS,
    ComponentSpec,
    Dataset,
    Loss,
    Metric,
    Schedule,
    Trainer,
    Transform,
    TTAPolicy,
)
from micro_bench.contract import Run, RunContext, Split, Stash, StashKey
from micro_bench.errors import MicroBenchError
from micro_bench.hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from micro_bench.registry import Registry

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "ComponentSpec",
    "Dataset",
    "Loss",
    "Metric",
    "MicroBenchError",
    "Run",
    "RunContext",
    "Schedule",
    "Split",
    "Stash",
    "StashKey",
    "TTAPolicy",
    "Trainer",
    "Transform",
    "__version__",
    "get_plugin_manager",
    "hookimpl",
    "registries",
    "results_frame",
]


def get_plugin_manager(**kwargs: Any) -> Any:
    """The process-wide plugin manager, built on first use (see :mod:`micro_bench.plugin_manager`)."""
    from micro_bench.plugin_manager import get_plugin_manager as _get

    return _get(**kwargs)


def registries(pm: Any = None) -> dict[str, Registry]:
    """Per-kind registries (``dataset``, ``model``, ...) built from the plugin manager's hooks."""
    from micro_bench.registry import registries as _registries

    return _registries(pm)


def results_frame(runs_dir: Any = "runs") -> Any:
    """Every finished run under ``runs_dir`` as a tidy pandas DataFrame: one row per run x metric
    x split (x class), config flattened into ``config.*`` columns (see :mod:`micro_bench.tidy`).
    Needs pandas (``pip install 'micro-bench[pandas]'``)."""
    from micro_bench.tidy import results_frame as _frame

    return _frame(runs_dir)
