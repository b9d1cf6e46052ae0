"""``convert`` on real HPA PNGs grouped into stand-in samples, bad inputs, 16-bit, kill and resume.

The real PNGs in tests/data/hpa_png/ are single channels of DIFFERENT samples (two per colour);
the tests group four of them (one per colour) into 16 stand-in samples. They are not real HPA
samples; their labels are borrowed from data/hpa/train.csv.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from micro_bench_hpa.convert import convert
from micro_bench_hpa.readers import read_channel, to_uint8
from micro_bench_hpa.store import DONE, open_store

DATA = Path(__file__).resolve().parents[2] / "data"
COLORS = ("red", "green", "blue", "yellow")
LABELS = ["16 0", "7 1 2 0", "5", "1", "18", "0", "25 2", "0", "2 0", "7", "23", "25", "21 25", "0 2", "0", "25"]
RES = (256, 64)


def make_source(root: Path, n: int = 16) -> tuple[Path, list[str]]:
    """Kaggle layout ``root/train.csv`` + ``root/train/<id>_<color>.png`` of n stand-in samples."""
    (root / "train").mkdir(parents=True)
    by_color = {c: sorted(DATA.glob(f"hpa_png/*_{c}.png")) for c in COLORS}
    ids = []
    for k, combo in enumerate(itertools.islice(itertools.product(*by_color.values()), n)):
        sid = f"standin{k:02d}"
        ids.append(sid)
        for color, f in zip(COLORS, combo, strict=True):
            shutil.copy(f, root / "train" / f"{sid}_{color}.png")
    (root / "train.csv").write_text("Id,Target\n" + "".join(f"{i},{t}\n" for i, t in zip(ids, LABELS, strict=False)))
    return root, ids


def block_mean(a: np.ndarray, r: int) -> np.ndarray:
    """``(H, H)`` -> ``(r, r)``: the mean of each block, rounded half up (exact integers)."""
    f = a.shape[0] // r
    total = a.reshape(r, f, r, f).sum(axis=(1, 3), dtype=np.int64)
    return ((2 * total + f * f) // (2 * f * f)).astype(np.uint8)


def pil_reference(files: dict[str, Path], r: int, method: str = "box") -> np.ndarray:
    """Independent decode (PIL) and resize -> (4, r, r) uint8: block means (store format 3, as
    fastai 0.7's cv2.INTER_AREA) or PIL's antialiased bilinear (formats 1 and 2)."""
    chans = [np.asarray(Image.open(files[c])) for c in COLORS]
    if method == "bilinear":
        return np.stack([np.asarray(Image.fromarray(a).resize((r, r), Image.Resampling.BILINEAR)) for a in chans])
    return np.stack([block_mean(a, r) for a in chans])


def store_bytes(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_convert_real_pngs_matches_pil_and_loads(tmp_path):
    src, ids = make_source(tmp_path / "src", n=6)
    report = convert(src, tmp_path / "hpa.zarr", resolutions=RES, workers=1, block_size=4, progress=False)
    assert report["written"] == 6 and report["skipped"] == []
    g = open_store(tmp_path / "hpa.zarr")
    assert list(g["ids"][:]) == ids
    assert np.flatnonzero(g["labels"][1]).tolist() == [0, 1, 2, 7]
    for i in (0, 5):
        files = {c: src / "train" / f"{ids[i]}_{c}.png" for c in COLORS}
        for r in RES:
            assert np.array_equal(g[f"images/{r}"][i], pil_reference(files, r))
    from micro_bench_hpa.dataset import HPADataset

    ds = HPADataset(tmp_path / "hpa.zarr", 64)
    x = ds.images(np.array([1, 3])).compute()
    assert x.shape == (2, 4, 64, 64) and x.dtype == np.uint8
    assert np.array_equal(x[1], g["images/64"][3])


def test_every_bad_input_is_reported_and_skipped(tmp_path):
    src, ids = make_source(tmp_path / "src", n=12)
    t = src / "train"
    (t / "standin00_yellow.png").unlink()  # missing channel
    (t / "standin01_green.png").write_bytes(b"not a png at all")  # unreadable
    raw = (t / "standin02_blue.png").read_bytes()
    (t / "standin02_blue.png").write_bytes(raw[: len(raw) // 2])  # truncated (header intact)
    Image.fromarray(np.zeros((500, 500), np.uint8)).save(t / "standin03_red.png")  # wrong size
    Image.fromarray(np.zeros((512, 512), np.float32)).save(t / "standin04_red.tif")  # wrong dtype
    (t / "standin04_red.png").unlink()
    for c in COLORS:  # images whose id is not in the CSV
        shutil.copy(t / f"standin05_{c}.png", t / f"orphan_{c}.png")
    csv = (src / "train.csv").read_text().splitlines()
    csv[7] = "standin06,3 28"  # label outside 0-27
    csv[8] = "standin07,"  # empty target
    csv += ["standin08,1", "ghost,0"]  # duplicate id; listed without images
    (src / "train.csv").write_text("\n".join(csv) + "\n")
    report = convert(src, tmp_path / "hpa.zarr", resolutions=RES, workers=1, block_size=4, progress=False)
    found = {(s["kind"], s["id"]) for s in report["skipped"]}
    assert found == {
        ("missing_channel", "standin00"),
        ("unreadable", "standin01"),
        ("truncated", "standin02"),
        ("wrong_size", "standin03"),
        ("wrong_dtype", "standin04"),
        ("not_in_csv", "orphan"),
        ("bad_label", "standin06"),
        ("empty_target", "standin07"),
        ("duplicate_id", "standin08"),
        ("no_images", "ghost"),
    }
    g = open_store(tmp_path / "hpa.zarr")
    assert "standin02" in list(g["ids"][:])  # only its decode failed: kept as a bad row
    from micro_bench_hpa.dataset import HPADataset

    ds = HPADataset(tmp_path / "hpa.zarr", 64)
    assert list(ds.ids) == ["standin05", "standin09", "standin10", "standin11"] == [
        i for i, s in zip(g["ids"][:], g["status"][:], strict=True) if s == DONE
    ]
    assert report["written"] == 4 and report["skipped_after_decode"] == 1


def test_16bit_field_rule_and_conversion(tmp_path):
    crop = DATA / "hpa_16bit" / "1000_A12_2_green_crop256.png"
    a16 = np.asarray(Image.open(crop))
    assert a16.dtype == np.uint16 and a16.max() > 255
    a8 = read_channel(crop, "green")
    assert a8.dtype == np.uint8
    assert np.array_equal(a8, np.round(a16 / 257.0).astype(np.uint8))
    assert to_uint8(np.array([0, 128, 129, 65535], np.uint16)).tolist() == [0, 0, 1, 255]
    # a full-size-release source: four 16-bit channels (the crop tiled to 512, rolled per channel)
    src = tmp_path / "full"
    src.mkdir()
    tile = np.tile(a16, (2, 2))
    for k, c in enumerate(COLORS):
        Image.fromarray(np.roll(tile, 37 * k, axis=1)).save(src / f"1000_A12_2_{c}.png")
    shutil.copy(crop, src / "1000_A12_2_cellmask.png")  # masks beside the fields are ignored
    (src / "train.csv").write_text("Id,Target\n1000_A12_2,0 25\n")
    convert(src, tmp_path / "f.zarr", resolutions=(64,), workers=1, progress=False)
    got = open_store(tmp_path / "f.zarr")["images/64"][0]
    assert np.array_equal(got[1], block_mean(np.round(np.roll(tile, 37, axis=1) / 257).astype(np.uint8), 64))


def test_a_format_2_store_resumes_with_its_own_resize_and_seal_reuses_the_writers_checksums(tmp_path):
    """Old stores keep their pixels: a version 2 store (bilinear, no ``resize`` attribute) that
    was interrupted is finished with bilinear; a new one records ``resize: box``. The manifest
    built from the checksums computed while writing equals one that reads every shard again,
    and a checksum whose file changed since is not trusted."""
    import json

    from micro_bench_hpa.integrity import MANIFEST, seal

    src, ids = make_source(tmp_path / "src", n=6)
    dest = tmp_path / "old.zarr"
    convert(src, dest, resolutions=RES, workers=1, block_size=2, progress=False)
    g = open_store(dest, mode="r+")
    assert g.attrs["resize"] == "box" and g.attrs["format_version"] == 3
    manifest = (dest / MANIFEST).read_bytes()
    seal(dest)  # every shard read again
    assert (dest / MANIFEST).read_bytes() == manifest
    g.attrs["format_version"] = 2
    del g.attrs["resize"]
    g["status"][2:6] = 0  # as if interrupted after the first block
    convert(src, dest, resolutions=RES, workers=1, block_size=2, progress=False)
    g = open_store(dest)
    assert "resize" not in g.attrs and (g["status"][:] == DONE).all()
    for i in range(6):
        files = {c: src / "train" / f"{ids[i]}_{c}.png" for c in COLORS}
        for r in RES:
            want = pil_reference(files, r, "box" if i < 2 else "bilinear")
            assert np.array_equal(g[f"images/{r}"][i], want), (i, r)
    shard = dest / "images" / "64" / "c" / "0" / "0" / "0" / "0"
    rel = shard.relative_to(dest).as_posix()
    st = shard.stat()
    seal(dest, {rel: [st.st_size, st.st_mtime_ns + 1, 12345]})  # stale record: read instead
    entries = json.loads((dest / MANIFEST).read_text())["shards"]["64"]
    assert entries["0"] == [st.st_size, _crc32c(shard.read_bytes())] and entries["0"][1] != 12345


def _crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))


SCRIPT = textwrap.dedent(
    """
    import sys, time
    import micro_bench_hpa.convert as c
    real = c.convert_block
    def slow(*args, **kwargs):
        n = real(*args, **kwargs)
        time.sleep(0.15)
        return n
    c.convert_block = slow
    c.convert(sys.argv[1], sys.argv[2], resolutions=(256, 64), workers=1, block_size=2, progress=False)
    """
)


def test_kill_and_resume_gives_the_uninterrupted_store(tmp_path):
    src, _ = make_source(tmp_path / "src", n=16)
    convert(src, tmp_path / "ref.zarr", resolutions=RES, workers=2, block_size=2, progress=False)
    dest = tmp_path / "resumed.zarr"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(src), str(dest)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = dest / "status" / "c"
        if status.is_dir() and len(list(status.iterdir())) >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    status = open_store(dest)["status"][:]
    assert 0 < (status == DONE).sum() < 16, "the kill must land mid-conversion"
    (dest / "images" / "64" / "c" / "stray.partial").write_bytes(b"half a shard")  # as a kill mid-write leaves
    convert(src, dest, resolutions=RES, workers=1, block_size=2, progress=False)
    assert store_bytes(dest) == store_bytes(tmp_path / "ref.zarr")


def test_missing_store_error_says_what_to_do(tmp_path):
    from micro_bench.errors import MicroBenchError
    from micro_bench_hpa.dataset import hpa

    with pytest.raises(MicroBenchError, match=r"HPA store not found at .*nope.zarr.*micro-bench data convert.*--profile smoke"):
        hpa(store=str(tmp_path / "nope.zarr"))


def test_distributed_scheduler_gives_the_same_store(tmp_path):
    """`--scheduler ADDR`: the same blocks sent to a dask.distributed cluster (here an in-process one)."""
    distributed = pytest.importorskip("distributed")
    src, _ = make_source(tmp_path / "src", n=6)
    convert(src, tmp_path / "local.zarr", resolutions=RES, workers=1, block_size=4, progress=False)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as cluster:
        report = convert(src, tmp_path / "dist.zarr", resolutions=RES, scheduler=cluster.scheduler_address,
                         block_size=4, progress=False)
    assert report["written"] == 6
    assert store_bytes(tmp_path / "dist.zarr") == store_bytes(tmp_path / "local.zarr")
