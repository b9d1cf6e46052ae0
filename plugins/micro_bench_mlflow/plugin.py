"""Entry module of the ``mlflow`` logger: with ``micro-bench run --log mlflow`` (or
``MICRO_BENCH_LOGGERS=mlflow``) each computed run becomes an MLflow run in the experiment named
after the benchmark: the resolved config as params (``model.name``, ``trainer.lr``, ...), the
per-epoch numbers as metrics with ``step=epoch``, the final metrics, and the run folder as
artifacts. Tracking goes to ``MLFLOW_TRACKING_URI`` when set, else to a local ``./mlruns``
file store (MLflow 3 asks ``MLFLOW_ALLOW_FILE_STORE=true`` for it; this plugin sets that default
for its own local store only). Needs ``pip install 'micro-bench[mlflow]'``.

Imports only the standard library and micro_bench until a run starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from micro_bench import hookimpl
from micro_bench_report.loggers import RunLogger, finite

__all__ = ["LOGGER", "NAME", "enabled", "tracking_uri"]

NAME = "mlflow"
LOGGER = RunLogger(NAME, "mlflow", "MLflow")
enabled = LOGGER.enabled
micro_bench_configure = LOGGER.micro_bench_configure  # the library is there before any run


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the local file store ``./mlruns`` (as a ``file:`` URI)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return (Path.cwd() / "mlruns").resolve().as_uri()


@hookimpl
def micro_bench_run_start(run: Any) -> None:
    if not enabled():
        return
    from mlflow.entities import Param
    from mlflow.tracking import MlflowClient

    from micro_bench_report.tidy import flatten

    client = MlflowClient(tracking_uri())
    experiment = client.get_experiment_by_name(run.benchmark)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(run.benchmark)
    info = client.create_run(experiment_id, run_name=run.label,
                             tags={"micro_bench.key": run.key, "micro_bench.run_dir": str(run.directory)})
    config = run.config.to_dict()
    params = flatten({k: v for k, v in config.items() if k != "label"}, "").items()
    client.log_batch(info.info.run_id, params=[Param(k.lstrip("."), str(v)[:6000]) for k, v in params])
    LOGGER.sessions[run.key] = (client, info.info.run_id)


@hookimpl
def micro_bench_epoch_end(run: Any, epoch: int, metrics: Any) -> None:
    if run.key not in LOGGER.sessions:
        return
    import time

    from mlflow.entities import Metric

    client, run_id = LOGGER.sessions[run.key]
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, now, epoch) for k, v in finite(metrics).items()])


@hookimpl(trylast=True)  # after the plugins that write figures and the model card
def micro_bench_run_end(run: Any, result: Any) -> None:
    if run.key not in LOGGER.sessions:
        return
    import time

    from mlflow.entities import Metric

    client, run_id = LOGGER.sessions.pop(run.key)
    now = int(time.time() * 1000)
    try:
        client.log_batch(run_id, metrics=[Metric(f"final.{k}", v, now, 0) for k, v in finite(result.metrics).items()])
        client.log_artifacts(run_id, str(run.directory))
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
