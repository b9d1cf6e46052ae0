"""Channel statistics as the paper: over the training images at the largest stored resolution (the
paper standardized its 512x512x4 arrays "with respect to the training set", then resized), applied
at every served resolution; ``stats_resolution: served`` keeps the statistics of the served pixels.

Checked on the bundled real HPA PNGs (tests/data/hpa_png), against numpy on PIL-decoded pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from micro_bench_hpa.convert import convert
from micro_bench_hpa.dataset import HPADataset
from micro_bench_hpa.store import StoreError

from .test_hpa_convert import COLORS, block_mean, make_source


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("stats")
    src, ids = make_source(root / "src", n=8)
    convert(src, root / "hpa.zarr", resolutions=(512, 64), workers=1, block_size=4, progress=False)
    return root / "hpa.zarr", src, ids


def _pixels(src: Path, sample: str, r: int) -> np.ndarray:
    chans = [np.asarray(Image.open(src / "train" / f"{sample}_{c}.png")) for c in COLORS]
    return np.stack([a if r == 512 else block_mean(a, r) for a in chans]).astype(np.float64)


def test_statistics_at_512_applied_at_64_equal_numpy(store):
    path, src, ids = store
    ds = HPADataset(path, 64)
    assert ds.stats_resolution == 512 and ds.describe()["stats_resolution"] == 512
    train = ds.split_indices("train", fractions=(0.5, 0.25, 0.25), seed=0)
    x512 = np.stack([_pixels(src, ids[i], 512) for i in train])  # (n, 4, 512, 512)
    mean, std = ds.channel_stats(train)
    np.testing.assert_allclose(mean, x512.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, x512.std(axis=(0, 2, 3)), rtol=1e-9)
    # the same numbers standardize the 64 px pixels the trainers read
    from micro_bench_baselines.features import pixel_features

    feats = pixel_features(ds, train, mean, std, resolution=64)
    x64 = np.stack([_pixels(src, ids[i], 64) for i in train])
    want = (x64 - mean[None, :, None, None]) / std[None, :, None, None]
    np.testing.assert_allclose(feats, want.reshape(len(train), -1), rtol=1e-4, atol=1e-4)
    # kept in the store per split (the train rows), shared by every served resolution
    assert np.array_equal(HPADataset(path, 512).channel_stats(train)[1], std)


def test_served_statistics_are_the_old_behaviour_and_change_the_key(store):
    path, src, ids = store
    largest, served = HPADataset(path, 64), HPADataset(path, 64, stats_resolution="served")
    train = largest.split_indices("train", fractions=(0.5, 0.25, 0.25), seed=0)
    x64 = np.stack([_pixels(src, ids[i], 64) for i in train])
    mean, std = served.channel_stats(train)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, x64.std(axis=(0, 2, 3)), rtol=1e-9)
    # resizing averages pixels: a lower std at 64 px (what an L2 penalty sees as a larger C)
    big = largest.channel_stats(train)[1]
    assert (std < big).all()
    # other statistics standardize other numbers: another fingerprint (run key); at 512 the same
    assert largest.fingerprint != served.fingerprint
    assert HPADataset(path, 512).fingerprint == HPADataset(path, 512, stats_resolution="served").fingerprint
    with pytest.raises(StoreError, match="stats_resolution must be 'largest', 'served' or a stored resolution"):
        HPADataset(path, 64, stats_resolution=256)
