"""micro-bench bundled plugin: the run loggers, TensorBoard and MLflow (``run --log tensorboard|mlflow``;
extras ``[tensorboard]``, ``[mlflow]``). Was two plugins, ``micro_bench_tensorboard`` and
``micro_bench_mlflow``, before 0.2: one concern, one folder (the old names still disable it,
see ``micro_bench.host.RENAMED_PLUGINS``)."""
