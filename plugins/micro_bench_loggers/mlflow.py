"""The ``mlflow`` logger: with ``micro-bench run --log mlflow`` (or
``MICRO_BENCH_LOGGERS=mlflow``) each computed run becomes an MLflow run in the experiment named
after the benchmark: the resolved config as params (``model.name``, ``trainer.lr``, ...), the
per-epoch numbers as metrics with ``step=epoch``, the final metrics, and the run folder as
artifacts. Tracking goes to ``MLFLOW_TRACKING_URI`` when set, else to a local ``./mlruns``
file store (MLflow 3 asks ``MLFLOW_ALLOW_FILE_STORE=true`` for it; this logger sets that default
for its own local store only). Needs ``pip install 'micro-bench[mlflow]'``.

Imports only the standard library and micro_bench until a run starts (``mlflow`` below is the
MLflow library, imported absolutely, not this module).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from micro_bench_loggers.base import LibraryLogger, finite

__all__ = ["NAME", "MlflowLogger", "tracking_uri"]

NAME = "mlflow"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else the local file store ``./mlruns`` (as a ``file:`` URI)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return (Path.cwd() / "mlruns").resolve().as_uri()


class MlflowLogger(LibraryLogger):
    """One MLflow run per computed run; the session is ``(client, run_id)``."""

    name, module, library = NAME, "mlflow", "MLflow"

    def start(self, run: Any) -> None:
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
        self.session = (client, info.info.run_id)

    def epoch(self, run: Any, epoch: int, metrics: Mapping[str, Any]) -> None:
        import time

        from mlflow.entities import Metric

        client, run_id = self.session
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(k, v, now, epoch) for k, v in finite(metrics).items()])

    def end(self, run: Any, result: Any) -> None:
        import time

        from mlflow.entities import Metric

        (client, run_id), self.session = self.session, None
        now = int(time.time() * 1000)
        try:
            client.log_batch(run_id, metrics=[Metric(f"final.{k}", v, now, 0) for k, v in finite(result.metrics).items()])
            client.log_artifacts(run_id, str(run.directory))
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")


    def fail(self, run: Any, error: BaseException) -> None:
        """The run raised after ``start``: its MLflow run ends ``FAILED`` (``KILLED`` for ^C), with the
        error in the tag ``micro_bench.error``."""
        if self.session is None:
            return
        (client, run_id), self.session = self.session, None
        try:
            client.set_tag(run_id, "micro_bench.error", f"{type(error).__name__}: {error}"[:5000])
        finally:
            client.set_terminated(run_id, "KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
