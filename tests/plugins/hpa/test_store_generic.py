"""Stores of any channels, classes and pixel type (issue 23): layout, byte-range reads, the
``images`` dataset, and the torch input path scaling by the stored dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from micro_bench_hpa.dataset import HPADataset, images
from micro_bench_hpa.fastread import SampleReader, fast_path_applies
from micro_bench_hpa.integrity import seal, verify
from micro_bench_hpa.store import (
    FORMAT_VERSION,
    StoreError,
    array_at,
    create_store,
    open_store,
    write_samples,
)
from micro_bench_torch.inputs import Batches, DevicePipeline, reader_for

CLASSES = [f"class {c}" for c in "abcdefgh"]  # 8 named classes
CHANNELS = ["dapi", "gfp", "tub", "actin", "er"]  # 5 channels
RES = (16, 8)


def make_store(path, *, dtype="uint16", n=12, channels=CHANNELS, classes=CLASSES, seed=0):
    """A finished store of random pixels (sample 0 all zero), returned with its pixels."""
    rng = np.random.default_rng(seed)
    labels = rng.random((n, len(classes))) < 0.4
    labels[np.arange(n), np.arange(n) % len(classes)] = True
    group = create_store(path, ids=[f"s{i:02d}" for i in range(n)], labels=labels, resolutions=RES, source="test",
                         block_size=5, classes=classes, channels=channels, dtype=dtype, digest="xxh3-64")
    top = np.iinfo(dtype).max
    pixels = {r: rng.integers(0, top, (n, len(channels), r, r), dtype=dtype, endpoint=True) for r in RES}
    for r in RES:
        pixels[r][0] = 0
    for a in range(0, n, 5):
        write_samples(group, a, {r: p[a:a + 5] for r, p in pixels.items()})
    seal(path)
    return labels, pixels


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
def test_generic_store_layout_and_attrs(tmp_path, dtype):
    labels, pixels = make_store(tmp_path / "s.zarr", dtype=dtype)
    g = open_store(tmp_path / "s.zarr")
    assert g.attrs["format_version"] == FORMAT_VERSION == 4
    assert g.attrs["classes"] == CLASSES and g.attrs["channels"] == CHANNELS and g.attrs["dtype"] == dtype
    assert g["labels"].shape == (12, 8)
    img = array_at(g, "images/16")
    assert img.shape == (12, 5, 16, 16) and img.dtype == np.dtype(dtype)
    assert np.array_equal(img[:], pixels[16])
    report = verify(tmp_path / "s.zarr", workers=1)
    assert report["checked"] == 12 and not report["damaged"] and not report["missing_shards"]


def test_uint16_byte_range_reads_equal_zarr(tmp_path):
    _, pixels = make_store(tmp_path / "s.zarr")
    arr = array_at(open_store(tmp_path / "s.zarr"), "images/16")
    assert fast_path_applies(arr)
    fast, slow = SampleReader(arr), SampleReader(arr, fast=False)
    rows = np.array([3, 0, 11, 3, 7])
    got = fast.read_many(rows)
    assert got.dtype == np.uint16 and np.array_equal(got, pixels[16][rows])
    assert np.array_equal(got, slow.read_many(rows))
    assert np.array_equal(fast.read(9), pixels[16][9])


def test_images_dataset_takes_classes_channels_and_dtype_from_the_store(tmp_path):
    labels, pixels = make_store(tmp_path / "s.zarr")
    ds = images(str(tmp_path / "s.zarr"), resolution=8)
    assert isinstance(ds, HPADataset) and ds.name == "images"
    assert list(ds.classes) == CLASSES and list(ds.channels) == CHANNELS
    assert ds.dtype == "uint16" and ds.max_value == 65535
    assert np.array_equal(ds.labels, labels)
    assert np.array_equal(np.asarray(ds.images(np.arange(3))), pixels[8][:3])
    assert np.array_equal(ds.reader()(np.array([2, 1])), pixels[8][[2, 1]])
    # channel statistics from the largest stored resolution (16), as the paper; `served`: at 8
    for rule, res in (("largest", 16), ("served", 8)):
        mean, std = images(str(tmp_path / "s.zarr"), resolution=8, stats_resolution=rule).channel_stats(np.arange(12))
        x = pixels[res].astype(np.float64)
        np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
        np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-9)
    assert ds.describe()["dtype"] == "uint16" and ds.describe()["class_names"] == CLASSES
    with pytest.raises(StoreError, match="data convert"):
        images(str(tmp_path / "missing.zarr"))


def test_torch_pipeline_scales_uint16_by_65535(tmp_path):
    make_store(tmp_path / "s.zarr")
    ds = images(str(tmp_path / "s.zarr"), resolution=8)
    mean, std = ds.channel_stats(np.arange(12))
    batch = Batches(reader_for(ds), np.arange(12), ds.labels)[[1, 2, 3]][0]
    assert batch.dtype == torch.uint16
    pipe = DevicePipeline(torch.device("cpu"), mean, std)
    got = pipe.eval(batch)
    x = torch.from_numpy(ds.reader()(np.array([1, 2, 3])).astype(np.float64))
    want = (x - torch.as_tensor(mean)[None, :, None, None]) / torch.as_tensor(std)[None, :, None, None]
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-5)
    # the same pixels as uint8 (x / 257 exact here) standardize to the same values
    eight = DevicePipeline(torch.device("cpu"), np.asarray(mean) / 257, np.asarray(std) / 257)
    with pytest.raises(ValueError, match="one pixel type"):
        pipe.eval(torch.zeros((1, 5, 8, 8), dtype=torch.uint8))
    assert eight.max_value is None


def test_uint8_pipeline_unchanged():
    pipe = DevicePipeline(torch.device("cpu"), [127.5], [63.75])
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    torch.testing.assert_close(pipe.eval(x), torch.tensor([[[[-2.0, 2.0]]]]))
    assert pipe.max_value == 255.0


def test_store_refuses_bad_names_and_dtypes(tmp_path):
    labels = np.zeros((2, 3), bool)
    for kwargs, match in [({"classes": ["a", "a", "b"]}, "class names"), ({"channels": []}, "channel names"),
                          ({"classes": ["a", "b", "c"], "dtype": "int16"}, "pixel type 'int16'"),
                          ({"classes": ["a", "b"]}, r"labels must be \(2, 2\)")]:
        with pytest.raises(StoreError, match=match):
            create_store(tmp_path / "x.zarr", ids=["a", "b"], labels=labels, resolutions=(8,), source="t",
                         **{"channels": ["c"], "classes": ["a", "b", "c"], **kwargs})


def test_data_info_json_and_text(tmp_path):
    import json

    from click.testing import CliRunner

    from micro_bench_hpa.cli import data

    labels, _ = make_store(tmp_path / "s.zarr")
    res = CliRunner().invoke(data, ["info", str(tmp_path / "s.zarr"), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert {"n", "channels", "classes", "dtype", "resolutions"} <= set(info)
    assert info["n"] == 12 and info["channels"] == CHANNELS and info["classes"] == CLASSES
    assert info["dtype"] == "uint16" and info["resolutions"] == [16, 8]
    assert info["label_counts"] == {c: int(k) for c, k in zip(CLASSES, labels.sum(axis=0), strict=True)}
    text = CliRunner().invoke(data, ["info", str(tmp_path / "s.zarr")])
    assert text.exit_code == 0 and "channels (5): dapi, gfp, tub, actin, er" in text.output
    assert f"class h  {int(labels[:, 7].sum())}" in text.output
