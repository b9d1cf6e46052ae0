"""Entry module of the ``select`` plugin: the ``select`` trainer and its ``selected`` model.

Imports only the standard library and :mod:`micro_bench`; the factories are lazy strings.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, Param, hookimpl
from micro_bench.params import seed_param

__all__ = ["micro_bench_models", "micro_bench_trainers"]

_SKIP = {"conformance_skip": "evaluates the finished runs of other benchmarks; tested in tests/plugins/select/test_select.py"}


@hookimpl
def micro_bench_models() -> list[ComponentSpec]:
    """``selected``: the placeholder a ``select`` row names as its model (nothing is trained)."""
    return [ComponentSpec("selected", "micro_bench_select.select:selected",
                          "The model a 'select' trainer loads from another benchmark's best run",
                          {**_SKIP, "params": {"seed": Param("int", ge=0, le=seed_param().le, nullable=True)}})]


@hookimpl
def micro_bench_trainers() -> list[ComponentSpec]:
    """``select``: picks the best validation row of other benchmarks and predicts with its model."""
    return [ComponentSpec(
        "select", "micro_bench_select.select:SelectTrainer",
        "Model selection: the best validation row of source benchmarks, its trained model, no retraining",
        {**_SKIP, "paper": "Zhao & Tang, Table V: the best LR, RF and ResNet50 on validation",
         "params": {"source": Param(("str", "list[str]"), min_length=1, doc="benchmark names or files"),
                    "metric": Param("str", names="metric", doc="a metric the source rows recorded"), "profile": Param("str", nullable=True), "device": Param("str")}},
    )]
