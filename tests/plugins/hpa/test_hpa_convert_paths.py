"""The converter's resizes and fast paths: ``box`` equals the exact block mean (and OpenCV's
``INTER_AREA``, fastai 0.7's resize, but for its rounding of exact halves); the four-band
``bilinear`` resize equals PIL resizing each channel on its own, pixel for pixel; local workers
are forked from a single-threaded process."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from micro_bench_hpa.readers import resize, resize_channels


def _one_by_one(channel: np.ndarray, r: int) -> np.ndarray:
    return np.asarray(Image.fromarray(channel).resize((r, r), Image.Resampling.BILINEAR))


@settings(max_examples=40, deadline=None)
@given(
    side=st.integers(2, 96),
    sides=st.lists(st.integers(1, 96), min_size=1, max_size=3, unique=True),
    seed=st.integers(0, 2**32 - 1),
    extremes=st.booleans(),
)
def test_four_band_resize_equals_per_channel_pil(side, sides, seed, extremes):
    rng = np.random.default_rng(seed)
    values = [0, 1, 254, 255] if extremes else np.arange(256)
    channels = [rng.choice(values, (side, side)).astype(np.uint8) for _ in range(4)]
    got = resize_channels(channels, sides, "bilinear")
    assert sorted(got) == sorted(sides)
    for r in sides:
        assert got[r].shape == (4, r, r) and got[r].dtype == np.uint8
        for c in range(4):
            assert np.array_equal(got[r][c], _one_by_one(channels[c], r)), (side, r, c)


def test_real_hpa_channels_at_the_store_sides():
    from pathlib import Path

    pngs = sorted((Path(__file__).parents[2] / "data" / "hpa_png").glob("*.png"))[:4]
    channels = [np.asarray(Image.open(p)) for p in pngs]
    got = resize_channels(channels, (512, 256, 64), "bilinear")
    assert np.array_equal(got[512], np.stack(channels))
    for r in (256, 64):
        assert np.array_equal(got[r], np.stack([_one_by_one(c, r) for c in channels]))
    into = {r: np.full((4, r, r), 7, np.uint8) for r in (512, 256, 64)}
    box = resize_channels(channels, (512, 256, 64), "box", into=into)
    assert all(box[r] is into[r] for r in into) and np.array_equal(box[512], np.stack(channels))
    for r in (256, 64):
        assert np.array_equal(box[r], np.stack([_block_mean(c, 512 // r) for c in channels]))
        _check_against_opencv(channels, r, box[r])


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """The trusted reference: the mean of each f x f block, rounded half up, in exact integers."""
    h, w = a.shape[0] // f, a.shape[1] // f
    total = a.reshape(h, f, w, f).sum(axis=(1, 3), dtype=np.int64)
    return ((2 * total + f * f) // (2 * f * f)).astype(np.uint8)


def _check_against_opencv(channels, r, got):
    """fastai 0.7 resized with ``cv2.resize(..., interpolation=cv2.INTER_AREA)``: equal, except
    by one grey level where the block mean ends in exactly .5 (OpenCV rounds some to even)."""
    cv2 = pytest.importorskip("cv2")
    side = channels[0].shape[0]
    f = side // r
    for c, channel in enumerate(channels):
        ref = cv2.resize(channel, (r, r), interpolation=cv2.INTER_AREA)
        total = channel.reshape(r, f, r, f).sum(axis=(1, 3), dtype=np.int64)
        tie = (2 * total) % (f * f * 2) == f * f  # mean = k + 0.5 exactly
        diff = got[c].astype(int) - ref
        assert np.abs(diff).max(initial=0) <= 1 and not diff[~tie].any(), (side, r, c)


@settings(max_examples=40, deadline=None)
@given(
    out_side=st.integers(1, 24),
    factors=st.lists(st.sampled_from([1, 2, 3, 4, 6, 8]), min_size=1, max_size=3, unique=True),
    seed=st.integers(0, 2**32 - 1),
    extremes=st.booleans(),
)
def test_box_resize_is_the_block_mean_and_opencv_area(out_side, factors, seed, extremes):
    """Integer factors (HPA: 512 -> 256, 64): ``box`` is the exact block mean, and OpenCV's
    INTER_AREA up to its rounding of exact halves."""
    side = out_side * max(factors)
    sides = sorted({side // f for f in factors if side % f == 0})
    rng = np.random.default_rng(seed)
    values = [0, 1, 254, 255] if extremes else np.arange(256)
    channels = [rng.choice(values, (side, side)).astype(np.uint8) for _ in range(4)]
    got = resize_channels(channels, sides)  # box is the default
    for r in sides:
        assert got[r].shape == (4, r, r) and got[r].dtype == np.uint8
        assert np.array_equal(got[r], np.stack([_block_mean(c, side // r) for c in channels])), (side, r)
        _check_against_opencv(channels, r, got[r])


def test_box_resize_other_factors_use_pil_box_and_bad_methods_are_refused():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (50, 50), dtype=np.uint8)
    assert np.array_equal(resize(a, 20), np.asarray(Image.fromarray(a).resize((20, 20), Image.Resampling.BOX)))
    assert resize(a, 50) is a
    with pytest.raises(ValueError, match="unknown resize method 'lanczos'; expected one of box, bilinear"):
        resize(a, 25, "lanczos")


FORK_CHECK = """
import sys, threading
import numpy as np
from tqdm.auto import tqdm
from micro_bench_hpa.convert import _start_method
from micro_bench_hpa.store import create_store

group = create_store(sys.argv[1], ids=["a"], labels=np.zeros((1, 28), bool), resolutions=(8,), source="t")
assert group["status"][:].tolist() == [0]  # zarr's I/O thread runs now
with tqdm(total=1, disable=False, mininterval=0, file=sys.stdout) as bar:  # and tqdm's monitor
    assert threading.active_count() > 1
    method = _start_method()
    assert method == "fork", (method, [t.name for t in threading.enumerate()])
    assert threading.active_count() == 1
    bar.update(1)
assert group["status"][:].tolist() == [0]  # zarr works again afterwards
print("ok")
"""


def test_workers_fork_from_a_single_threaded_process(tmp_path):
    """In a process like the CLI's (zarr and tqdm threads running), local workers are forked."""
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", FORK_CHECK, str(tmp_path / "s.zarr")], capture_output=True,
                         text=True, env={**os.environ}, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
