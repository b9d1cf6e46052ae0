"""A store at a ``file://`` URL or in fsspec's ``memory://`` filesystem is read by the same dataset
code as a local folder, with identical samples, fingerprint and metrics."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from micro_bench_hpa.dataset import HPADataset, hpa
from micro_bench_hpa.integrity import seal
from micro_bench_hpa.store import StoreError, blocks, create_store, write_samples

N, R = 48, 16


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    path = tmp_path_factory.mktemp("remote") / "s.zarr"
    rng = np.random.default_rng(1)
    labels = rng.random((N, 28)) < 0.2
    labels[:, 0] |= ~labels.any(1)
    g = create_store(path, ids=[f"s{i}" for i in range(N)], labels=labels, resolutions=(R,), source="test",
                     block_size=8)
    for a, b in blocks(g):
        write_samples(g, a, {R: rng.integers(0, 256, (b - a, 4, R, R), dtype=np.uint8)})
    seal(path)
    return path


@pytest.fixture
def memory_url(local):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    root = f"/mb-{uuid.uuid4().hex[:8]}/s.zarr"
    fs.put(str(local), root, recursive=True)
    yield f"memory://{root}"
    fs.rm(root, recursive=True)


def _same(a: HPADataset, b: HPADataset) -> None:
    assert list(a.ids) == list(b.ids) and a.fingerprint == b.fingerprint
    np.testing.assert_array_equal(a.labels, b.labels)
    idx = np.arange(0, len(a), 5)
    np.testing.assert_array_equal(a.images(idx).compute(), b.images(idx).compute())
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(a.split_indices(part, seed=2), b.split_indices(part, seed=2))
    train = a.split_indices("train", seed=2)
    for x, y in zip(a.channel_stats(train), b.channel_stats(train), strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(a.reader()(idx), b.reader()(idx))  # the torch trainer's reads


def test_memory_url_reads_like_the_local_folder(local, memory_url):
    _same(HPADataset(local, R), hpa(memory_url, resolution=R))


def test_file_url_reads_like_the_local_folder(local):
    _same(HPADataset(local, R), hpa(f"file://{local}", resolution=R))


def test_missing_remote_shard_is_refused(local, memory_url):
    import fsspec

    fsspec.filesystem("memory").rm(f"{memory_url[len('memory://'):]}/images/{R}/c/2/0/0/0")
    with pytest.raises(StoreError, match=r"shard file images/16/c/2/0/0/0 \(samples 16\.\. from id 's16'\) is missing"):
        hpa(memory_url, resolution=R)


def test_not_a_store_at_a_url():
    with pytest.raises(StoreError, match=r"memory://nowhere/x.zarr: not a micro-bench/hpa zarr store"):
        hpa("memory://nowhere/x.zarr", resolution=R)


BENCH = """\
version: 1
name: remote_check
seed: 0
dataset: {name: hpa, store: "STORE", resolution: 16}
split: {fractions: [0.6, 0.2, 0.2], seed: 0}
model: {name: logreg, C: 0.1}
trainer: {name: sklearn, resolution: 16, n_jobs: 1}
evaluate: {split: val, threshold: 0.5}
metrics: [roc_auc_macro, f1_micro, hamming_loss]
runs:
  - {label: LR}
"""


@pytest.mark.slow
def test_a_run_on_the_url_gives_the_local_metrics(local, memory_url, tmp_path):
    from micro_bench.config import load_config
    from micro_bench.host import Host
    from micro_bench.runner import run_benchmark

    host, metrics = Host.load(entrypoints=False), []
    for i, store in enumerate((str(local), memory_url)):
        path = tmp_path / f"b{i}.yaml"
        path.write_text(BENCH.replace("STORE", store))
        (result,) = run_benchmark(load_config(path), tmp_path / f"runs{i}", host=host, echo=None)
        metrics.append(result.metrics)
    assert metrics[0] == metrics[1]
    assert metrics[0]["hamming_loss"] is not None


def test_convert_to_a_url_stages_locally_then_uploads(tmp_path):
    import fsspec

    from micro_bench_hpa.convert import convert

    from .test_hpa_convert import make_source

    src, ids = make_source(tmp_path / "src", n=8)
    local = convert(src, tmp_path / "local.zarr", resolutions=(64,), workers=1, block_size=4, progress=False)
    url = f"memory://mb-{uuid.uuid4().hex[:8]}/hpa.zarr"
    remote = convert(src, url, resolutions=(64,), workers=1, block_size=4, progress=False)
    assert remote["uploaded_to"] == url and remote["written"] == local["written"] == 8
    a, b = HPADataset(tmp_path / "local.zarr", 64), hpa(url, resolution=64)
    assert list(b.ids) == ids and a.fingerprint == b.fingerprint
    np.testing.assert_array_equal(a.images().compute(), b.images().compute())
    fsspec.filesystem("memory").rm(url[len("memory://"):], recursive=True)
