"""Entry module of the ``loggers`` plugin: the run loggers ``tensorboard``
(:mod:`micro_bench_loggers.tensorboard`, extra ``[tensorboard]``) and ``mlflow``
(:mod:`micro_bench_loggers.mlflow`, extra ``[mlflow]``) for ``micro-bench run --log NAME``, provided
through ``micro_bench_run_loggers`` like any plugin's; the core calls the chosen ones
(:mod:`micro_bench.runlog`).

Imports only the standard library and micro_bench until a run starts.
"""

from __future__ import annotations

from micro_bench import ComponentSpec, hookimpl

__all__ = ["micro_bench_run_loggers"]


@hookimpl
def micro_bench_run_loggers() -> list[ComponentSpec]:
    return [
        ComponentSpec("tensorboard", "micro_bench_loggers.tensorboard:TensorBoardLogger",
                      "TensorBoard events in <run>/tensorboard/: epoch scalars, final metrics, figures",
                      extra={"install": "pip install 'micro-bench[tensorboard]'"}),
        ComponentSpec("mlflow", "micro_bench_loggers.mlflow:MlflowLogger",
                      "An MLflow run per computed run (MLFLOW_TRACKING_URI, else ./mlruns): params, "
                      "metrics, artifacts", extra={"install": "pip install 'micro-bench[mlflow]'"}),
    ]
