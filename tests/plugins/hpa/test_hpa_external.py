"""External training data (issue 18): appended to train only, never in val/test, duplicates out."""

from __future__ import annotations

import numpy as np
import pytest

from micro_bench_hpa.dataset import HPADataset
from micro_bench_hpa.external import WithExternal
from micro_bench_hpa.store import blocks, create_store, write_samples

R = 16


def _store(path, n, seed, copy_from=None):
    rng = np.random.default_rng(seed)
    labels = rng.random((n, 28)) < 0.15
    labels[:, 0] |= ~labels.any(1)
    g = create_store(path, ids=[f"{path.stem}{i}" for i in range(n)], labels=labels, resolutions=(R,),
                     source="test", block_size=8)
    pixels = rng.integers(0, 256, (n, 4, R, R), dtype=np.uint8)
    if copy_from is not None:  # the first 5 samples duplicate the main store's samples 10..14
        pixels[:5] = copy_from[10:15]
    for a, b in blocks(g):
        write_samples(g, a, {R: pixels[a:b]})
    return pixels


@pytest.fixture(scope="module")
def combined(tmp_path_factory):
    root = tmp_path_factory.mktemp("ext")
    main_px = _store(root / "main.zarr", 40, 0)
    _store(root / "ext.zarr", 24, 1, copy_from=main_px)
    return WithExternal(HPADataset(root / "main.zarr", R), HPADataset(root / "ext.zarr", R))


def test_external_samples_are_train_only_and_duplicates_are_left_out(combined):
    assert combined.duplicates_removed == 5 and len(combined) == 40 + 19
    parts = {p: combined.split_indices(p, seed=0) for p in ("train", "val", "test")}
    external = np.flatnonzero(combined.is_external(np.arange(len(combined))))
    assert not np.isin(external, parts["val"]).any() and not np.isin(external, parts["test"]).any()
    assert np.isin(external, parts["train"]).all()
    for part in ("val", "test"):  # the main dataset's own parts, unchanged
        np.testing.assert_array_equal(parts[part], combined.main.split_indices(part, seed=0))
    assert combined.describe()["external"]["duplicates_removed"] == 5


def test_pixels_labels_and_pooled_statistics(combined):
    idx = combined.split_indices("train", seed=0)
    pixels = combined.images(idx).compute()
    np.testing.assert_array_equal(pixels[-19:], combined.external.images(combined.keep).compute())
    np.testing.assert_array_equal(combined.labels[-19:], combined.external.labels[combined.keep])
    mean, std = combined.channel_stats(idx)
    flat = pixels.astype(np.float64).transpose(1, 0, 2, 3).reshape(4, -1)
    np.testing.assert_allclose(mean, flat.mean(axis=1), rtol=1e-10)
    np.testing.assert_allclose(std, flat.std(axis=1), rtol=1e-9)


def test_fingerprint_covers_the_external_store(combined, tmp_path):
    other = WithExternal(combined.main, combined.main)  # every sample a duplicate: nothing added
    assert other.duplicates_removed == len(combined.main) and len(other) == len(combined.main)
    assert other.fingerprint != combined.fingerprint != combined.main.fingerprint


def test_the_trainer_reader_serves_both_stores_in_order(combined):
    import pickle

    reader = pickle.loads(pickle.dumps(combined.reader()))  # as a DataLoader worker gets it
    idx = np.array([45, 3, 40, 58, 0, 41])  # external (>= 40) and main samples mixed
    np.testing.assert_array_equal(reader(idx), combined.images(idx).compute())
    np.testing.assert_array_equal(reader(np.array([1, 2])), combined.main.images(np.array([1, 2])).compute())
    np.testing.assert_array_equal(reader(np.array([50])), combined.images(np.array([50])).compute())


@pytest.mark.slow
def test_a_torch_run_trains_on_the_external_draw_and_records_it(tmp_path):
    import micro_bench

    path = tmp_path / "ext.yaml"
    path.write_text(
        "version: 1\nname: ext\nseed: 0\n"
        "dataset: {name: hpa_synth, n: 120, resolution: 32, external: {n: 60, seed: 1}}\n"
        "model: {name: resnet18_4ch, pretrained: false}\n"
        "trainer: {name: torch, batch_size: 16, lr: 0.01, freeze_epochs: 1, epochs: 0, device: cpu}\n"
        "loss: bce\nscheduler: constant\nevaluate: {split: val, threshold: 0.5}\n"
        "metrics: [roc_auc_macro]\nruns:\n  - {label: BCE}\n")
    (result,) = micro_bench.run(micro_bench.load_benchmark(path), tmp_path / "runs", echo=None)
    external = result.dataset["external"]
    assert external["n"] + external["duplicates_removed"] == 60 and result.dataset["n"] == 120 + external["n"]
    assert sum(result.counts["train"]) >= sum(result.counts["val"])  # counts per class per part
    assert result.metrics["roc_auc_macro"] is not None
