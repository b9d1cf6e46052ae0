"""The converter's fast paths: the four-band resize equals PIL resizing each channel on its own,
pixel for pixel; local workers are forked from a single-threaded process."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from micro_bench_hpa.readers import resize_channels


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
    got = resize_channels(channels, sides)
    assert sorted(got) == sorted(sides)
    for r in sides:
        assert got[r].shape == (4, r, r) and got[r].dtype == np.uint8
        for c in range(4):
            assert np.array_equal(got[r][c], _one_by_one(channels[c], r)), (side, r, c)


def test_real_hpa_channels_at_the_store_sides():
    from pathlib import Path

    pngs = sorted((Path(__file__).parent / "data" / "hpa_png").glob("*.png"))[:4]
    channels = [np.asarray(Image.open(p)) for p in pngs]
    got = resize_channels(channels, (512, 256, 64))
    assert np.array_equal(got[512], np.stack(channels))
    for r in (256, 64):
        assert np.array_equal(got[r], np.stack([_one_by_one(c, r) for c in channels]))


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
