"""Runs inside dask.distributed worker processes compute what they compute locally."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from micro_bench_baselines.features import pixel_features

TESTS = str(Path(__file__).parent)


def _features() -> np.ndarray:
    from test_baselines import FakeDataset

    ds = FakeDataset()
    mean, std = ds.channel_stats()
    return pixel_features(ds, np.arange(40), mean, std, resolution=16)


@pytest.mark.slow
def test_pixel_features_inside_a_worker_process_match_local() -> None:
    """The baselines' feature matrix is filled in the worker's own memory: before the fix the
    store ran on the cluster, filled a copy elsewhere and left zeros (a constant predictor)."""
    distributed = pytest.importorskip("distributed")
    sys.path.insert(0, TESTS)
    local = _features()
    assert local.std() > 0.5
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        client.run(lambda: sys.path.insert(0, TESTS))
        remote = client.submit(_features, pure=False).result()
    np.testing.assert_array_equal(remote, local)
