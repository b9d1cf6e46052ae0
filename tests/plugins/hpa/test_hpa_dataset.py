"""HPADataset: the Dataset protocol, split/stat caching, the uint8 reader, plugin and CLI wiring."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from micro_bench.components import Dataset
from micro_bench_hpa.dataset import HPADataset
from micro_bench_hpa.store import blocks, create_store, open_store, write_samples

N, R = 40, 16


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("ds") / "s.zarr"
    rng = np.random.default_rng(0)
    labels = rng.random((N, 28)) < 0.15
    labels[:, 0] |= ~labels.any(1)
    g = create_store(path, ids=[f"s{i}" for i in range(N)], labels=labels, resolutions=(R,), source="test", block_size=8)
    for a, b in blocks(g):
        px = rng.integers(0, 256, (b - a, 4, R, R), dtype=np.uint8)
        px[:, 1] //= 4  # channels with different statistics
        write_samples(g, a, {R: px}, bad=[3] if a == 8 else ())
        if a == 8:
            px[3] = 0
    return path


def test_protocol_ids_labels_describe(store):
    ds = HPADataset(store, R)
    assert isinstance(ds, Dataset)
    assert len(ds) == N - 1 and "s11" not in ds.ids  # the bad sample is left out
    assert ds.labels.shape == (N - 1, 28) and ds.labels.dtype == bool
    assert len(ds.classes) == 28 and list(ds.channels) == ["red", "green", "blue", "yellow"]
    assert ds.describe()["n"] == N - 1 and ds.describe()["fingerprint"] == ds.fingerprint
    with pytest.raises(ValueError, match="no images at resolution 64; it holds \\[16\\]"):
        HPADataset(store, 64)


def test_split_is_cached_in_store_and_partitions(store):
    ds = HPADataset(store, R)
    parts = [ds.split_indices(p, fractions=(0.6, 0.2, 0.2), seed=3) for p in ("train", "val", "test")]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(ds)))
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)
    assert "splits/ms_0.6_0.2_0.2_seed3" in open_store(store)
    again = HPADataset(store, R).split_indices("val", fractions=(0.6, 0.2, 0.2), seed=3)
    assert np.array_equal(again, parts[1])
    with pytest.raises(ValueError, match="unknown split part 'dev'"):
        ds.split_indices("dev")


def test_channel_stats_match_numpy_over_train(store):
    ds = HPADataset(store, R)
    train = ds.split_indices("train")
    ref = open_store(store)["images/16"][:][ds.rows[train]].astype(np.float64)
    mean, std = ds.channel_stats(train)
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, ref.std(axis=(0, 2, 3)), rtol=1e-9)
    assert len(list(open_store(store)["stats"].group_keys())) == 1  # cached once per index set
    np.testing.assert_allclose(HPADataset(store, R).channel_stats(train)[0], mean)
    other = ds.split_indices("val")
    np.testing.assert_allclose(ds.channel_stats(other)[0], open_store(store)["images/16"][:][ds.rows[other]]
                               .astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-12)


def test_reader_serves_uint8_samples_by_dataset_index(store):
    ds = HPADataset(store, R)
    idx = np.array([20, 0, 5, 5])
    reader = ds.reader()
    got = pickle.loads(pickle.dumps(reader))(idx)  # as a DataLoader worker gets it
    assert got.dtype == np.uint8 and got.shape == (4, 4, R, R)
    np.testing.assert_array_equal(got, ds.images(idx).compute())


def test_plugin_and_cli_stay_cheap():
    code = (
        "import sys, click; from micro_bench_hpa import plugin; from micro_bench_hpa.cli import data;"
        "names=[s.name for s in plugin.micro_bench_datasets()]; assert names == ['hpa', 'images', 'hpa_synth'], names;"
        "g=click.Group('mb'); plugin.micro_bench_add_commands(g); assert 'data' in g.commands;"
        "bad=[m for m in ('torch','zarr','dask','numpy','sklearn') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from micro_bench_hpa.cli import data

    out = CliRunner().invoke(data, ["--help"]).output
    assert "convert" in out and "split" in out and "stats" in out
