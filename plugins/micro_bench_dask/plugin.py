"""Entry module of the ``dask`` executor plugin (``micro-bench run FILE --executor dask``).

Imports only the standard library and :mod:`micro_bench`; dask.distributed loads when used.
"""

from __future__ import annotations

from collections.abc import Mapping

from micro_bench import hookimpl

__all__ = ["micro_bench_executors"]


@hookimpl
def micro_bench_executors() -> Mapping[str, str]:
    """``dask``: a LocalCluster of worker processes, or a running cluster (``--scheduler ADDR``)."""
    return {"dask": "micro_bench_dask.executor:run_dask"}
