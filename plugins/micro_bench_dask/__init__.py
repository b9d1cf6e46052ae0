"""Bundled plugin: the ``dask`` executor, one dask.distributed task per run of a benchmark."""
