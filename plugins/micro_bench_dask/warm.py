"""Imported once by the forkserver of a local CPU cluster: every worker process is forked from it
with these libraries loaded, so a cluster of N workers imports them once, not N times (about
4 s of CPU per process here: scikit-learn and skops alone take 3 s), and a worker restarted
after a crash is ready at once.

What it loads: what every run uses (the runner, the bundled plugins' entry modules, numpy,
scipy, the evaluation's scikit-learn metrics, zarr, dask.array, matplotlib without a display)
and what the baseline trainers use (scikit-learn's estimators, skops). The modules of a
benchmark's own components are added to the forkserver's preload list by
:mod:`micro_bench_dask.cluster`. A library that is not installed is skipped.
"""

from __future__ import annotations

import importlib
import os

__all__ = ["LIBRARIES", "warm"]

LIBRARIES = (
    "numpy", "scipy.optimize", "scipy.sparse", "zarr", "dask.array", "joblib", "threadpoolctl",
    "sklearn.metrics", "sklearn.linear_model", "sklearn.ensemble", "sklearn.multiclass", "skops.io",
    "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.pyplot",
    "micro_bench.runner", "micro_bench.host", "micro_bench.evaluate",
)


def warm(names: tuple[str, ...] = LIBRARIES) -> list[str]:
    """Import ``names`` (skipping those not installed), then build the host whose recipe the
    cluster left in the environment (cached for the tasks); return the modules that loaded.
    Never raises: the forkserver must live (a worker then builds what failed here itself)."""
    os.environ.setdefault("MPLBACKEND", "Agg")  # workers have no display
    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - not installed or broken: the run will say so itself
            continue
        loaded.append(name)
    try:
        from micro_bench_dask.cluster import recipe_from_environment
        from micro_bench_dask.executor import HostRecipe

        recipe = recipe_from_environment()
        if recipe is not None:
            HostRecipe(**{**recipe, "modules": tuple(recipe["modules"])}).build()
    except Exception:  # noqa: BLE001,S110 - see above
        pass
    return loaded


warm()
