"""micro-bench: pluggable multi-label microscopy benchmarks.

The public API. Importing this package is cheap: no torch, scikit-learn, zarr or dask, and no
plugin manager is built until something asks for one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from micro_bench._version import __version__
from micro_bench.api import load_benchmark, prepare_run, read_results, run
from micro_bench.clihost import pass_host
from micro_bench.components import (
    KINDS,
    ComponentSpec,
    Dataset,
    Loss,
    Metric,
    RunLogger,
    Sampler,
    Schedule,
    ThresholdRule,
    Trainer,
    Transform,
    TTAPolicy,
)
from micro_bench.contract import Run, RunContext, Scores, Split, Stash, StashKey
from micro_bench.errors import MicroBenchError
from micro_bench.hookspecs import hookimpl
from micro_bench.params import Param

if TYPE_CHECKING:  # pragma: no cover
    from micro_bench.host import Host

__all__ = [
    "KINDS",
    "ComponentSpec",
    "Host",
    "Dataset",
    "Loss",
    "Metric",
    "MicroBenchError",
    "Param",
    "Run",
    "RunContext",
    "RunLogger",
    "Sampler",
    "Schedule",
    "Scores",
    "Split",
    "Stash",
    "StashKey",
    "TTAPolicy",
    "ThresholdRule",
    "Trainer",
    "Transform",
    "__version__",
    "hookimpl",
    "load_benchmark",
    "pass_host",
    "prepare_run",
    "read_results",
    "run",
]


def __getattr__(name: str) -> Any:
    """``Host`` is imported on first use (pluggy)."""
    if name == "Host":
        from micro_bench.host import Host

        return Host
    raise AttributeError(f"module 'micro_bench' has no attribute {name!r}")
