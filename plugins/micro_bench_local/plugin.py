"""Entry module of the ``local`` plugin: the default executor, rows one after another here.

Imports only the standard library and :mod:`micro_bench`.
"""

from __future__ import annotations

from micro_bench import hookimpl

__all__ = ["micro_bench_executors"]


@hookimpl
def micro_bench_executors() -> dict[str, str]:
    """``local``: run the rows in this process, in order."""
    return {"local": "micro_bench_local.executor:run_local"}
