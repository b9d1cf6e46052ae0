"""The zarr v3 store: layout, block writes, reopening for resume, clear errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import zarr

from micro_bench_hpa.classes import HPA_CLASSES
from micro_bench_hpa.store import (
    BAD,
    DONE,
    FORMAT_VERSION,
    HPA_FORMAT_VERSION,
    PENDING,
    StoreError,
    blocks,
    create_store,
    open_store,
    pending_blocks,
    pixel_digest,
    write_samples,
)

RES = (32, 16)


def _make(path, n=10, block=4):
    rng = np.random.default_rng(0)
    labels = rng.random((n, 28)) < 0.2
    ids = [f"id{i}" for i in range(n)]
    return create_store(path, ids=ids, labels=labels, resolutions=RES, source="test", block_size=block), labels


def _pixels(rng, a, b):
    return {r: rng.integers(0, 256, (b - a, 4, r, r), dtype=np.uint8) for r in RES}


def test_layout_and_attrs(tmp_path):
    group, labels = _make(tmp_path / "s.zarr")
    g = open_store(tmp_path / "s.zarr")
    assert g.attrs["format"] == "micro-bench/hpa" and g.attrs["format_version"] == HPA_FORMAT_VERSION == 3 and FORMAT_VERSION == 4
    assert "dtype" not in g.attrs  # HPA stores keep their version-3 bytes
    assert g.attrs["classes"] == list(HPA_CLASSES) and len(HPA_CLASSES) == 28
    assert g.attrs["channels"] == ["red", "green", "blue", "yellow"]
    assert g.attrs["resolutions"] == [32, 16]
    assert list(g["ids"][:]) == [f"id{i}" for i in range(10)]
    assert np.array_equal(g["labels"][:], labels)
    img = g["images/32"]
    assert img.shape == (10, 4, 32, 32) and img.dtype == np.uint8
    assert img.chunks == (1, 4, 32, 32) and img.shards == (4, 4, 32, 32)
    assert (g["status"][:] == PENDING).all()
    assert blocks(g) == [(0, 4), (4, 8), (8, 10)]


def test_parallel_block_writes_then_resume_state(tmp_path):
    path = tmp_path / "s.zarr"
    group, labels = _make(path)
    rng = np.random.default_rng(1)
    data = {ab: _pixels(rng, *ab) for ab in blocks(group)}
    first = blocks(group)[:2]
    with ThreadPoolExecutor(2) as pool:  # shard-aligned blocks: no shared shard file
        list(pool.map(lambda ab: write_samples(path, ab[0], data[ab]), first))
    assert pending_blocks(group) == [(8, 10)]
    again, _ = _make(path)  # same content: reopened, not cleared
    assert pending_blocks(again) == [(8, 10)]
    write_samples(again, 8, data[(8, 10)], bad=[1])
    g = open_store(path)
    assert g["status"][:].tolist() == [DONE] * 9 + [BAD]
    for (a, b), px in data.items():
        for r in RES:
            assert np.array_equal(g[f"images/{r}"][a:b], px[r])
    assert g["digest"][0] == pixel_digest({r: data[(0, 4)][r][0] for r in RES})
    assert g["digest"][9] == 0


def test_reopening_with_other_content_is_refused(tmp_path):
    _make(tmp_path / "s.zarr")
    with pytest.raises(StoreError, match="s.zarr: holds a different store"):
        create_store(tmp_path / "s.zarr", ids=["x"], labels=np.zeros((1, 28), bool), resolutions=RES, source="t")


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(StoreError, match=r"labels must be \(2, 28\) bool"):
        create_store(tmp_path / "a.zarr", ids=["a", "b"], labels=np.zeros((2, 27), bool), resolutions=RES, source="t")
    with pytest.raises(StoreError, match="ids must be unique"):
        create_store(tmp_path / "a.zarr", ids=["a", "a"], labels=np.zeros((2, 28), bool), resolutions=RES, source="t")
    with pytest.raises(StoreError, match="nothing.zarr: not a micro-bench/hpa zarr store"):
        open_store(tmp_path / "nothing.zarr")
    zarr.open_group(tmp_path / "other.zarr", mode="w").attrs["format"] = "else"
    with pytest.raises(StoreError, match="other.zarr: zarr attribute format is 'else', expected 'micro-bench/hpa'"):
        open_store(tmp_path / "other.zarr")
    group, _ = _make(tmp_path / "s.zarr")
    with pytest.raises(StoreError, match="got resolutions \\[32\\], the store has \\[16, 32\\]"):
        write_samples(group, 0, {32: np.zeros((4, 4, 32, 32), np.uint8)})
    with pytest.raises(StoreError, match=r"images\[16\] must be \(4, 4, 16, 16\) uint8"):
        write_samples(group, 0, {32: np.zeros((4, 4, 32, 32), np.uint8), 16: np.zeros((4, 4, 16, 16), np.float32)})


def test_cache_array_written_atomically_once_by_racing_writers(tmp_path):
    """torchrun ranks may cache the same split at once: one copy lands whole, no reader sees half."""
    from concurrent.futures import ThreadPoolExecutor

    from micro_bench_hpa.store import create_store, open_store, write_cache_array

    path = tmp_path / "s.zarr"
    create_store(path, ids=["a", "b", "c"], labels=np.zeros((3, 28), bool), resolutions=[8], source="test")
    data = np.array([0, 1, 2], dtype=np.int8)
    with ThreadPoolExecutor(4) as pool:
        wrote = list(pool.map(lambda _: write_cache_array(path, "splits/x", data, {"seed": 0}), range(8)))
    assert sum(wrote) >= 1
    group = open_store(path)
    assert np.array_equal(group["splits/x"][:], data) and group["splits/x"].attrs["seed"] == 0
    assert not [p.name for p in (path / "splits").iterdir() if p.name.startswith(".tmp-")]  # none left


def test_digest_algorithms_and_version_1_stores_resume_with_theirs(tmp_path):
    import hashlib

    import xxhash

    rng = np.random.default_rng(3)
    px = _pixels(rng, 0, 4)
    sample = {r: px[r][0] for r in RES}
    flat = b"".join(sample[r].tobytes() for r in sorted(RES, reverse=True))
    assert pixel_digest(sample, "xxh3-64") == int.from_bytes(xxhash.xxh3_64(flat).digest(), "little")
    assert pixel_digest(sample) == int.from_bytes(hashlib.blake2b(flat, digest_size=8).digest(), "little")
    ids, labels = [f"id{i}" for i in range(10)], np.zeros((10, 28), bool)
    g = create_store(tmp_path / "x.zarr", ids=ids, labels=labels, resolutions=RES, source="t", block_size=4, digest="xxh3-64")
    assert g.attrs["digest"] == "xxh3-64"
    write_samples(g, 0, px)
    assert open_store(tmp_path / "x.zarr")["digest"][0] == pixel_digest(sample, "xxh3-64")
    # a version 1 store (no digest attribute), reopened by a caller asking for xxh3, keeps blake2b
    v1 = create_store(tmp_path / "v1.zarr", ids=ids, labels=labels, resolutions=RES, source="t", block_size=4)
    v1.attrs.update({"format_version": 1})
    v1.attrs.__delitem__("digest")
    again = create_store(tmp_path / "v1.zarr", ids=ids, labels=labels, resolutions=RES, source="t", block_size=4, digest="xxh3-64")
    write_samples(again, 0, px)
    assert open_store(tmp_path / "v1.zarr")["digest"][0] == pixel_digest(sample, "blake2b-64")
    with pytest.raises(StoreError, match="digest must be one of blake2b-64, xxh3-64, got 'md5'"):
        create_store(tmp_path / "m.zarr", ids=ids, labels=labels, resolutions=RES, source="t", digest="md5")


def test_wrongly_typed_nodes_and_attributes_are_one_line_store_errors(tmp_path):
    """A group where an array belongs, or an attribute of the wrong JSON type, is refused with a
    StoreError naming the key (the accessors that narrow zarr's ``Array | Group`` and JSON types)."""
    from micro_bench_hpa.store import array_at, read_array, resolutions_of, strings_attr

    group, labels = _make(tmp_path / "s.zarr")
    assert read_array(group, "labels").tolist() == labels.tolist()
    assert resolutions_of(group) == sorted(RES, reverse=True)
    assert strings_attr(group, "classes") == list(HPA_CLASSES)
    with pytest.raises(StoreError, match=r"images is a zarr group, expected an array") as err:
        array_at(group, "images")
    assert "\n" not in str(err.value)
    group.attrs["resolutions"] = "32"
    with pytest.raises(StoreError, match=r"attribute resolutions is '32', expected a list of integers"):
        resolutions_of(group)
    group.attrs["channels"] = [1, 2]
    with pytest.raises(StoreError, match=r"attribute channels is \[1, 2\], expected a list of strings"):
        strings_attr(group, "channels")
    group.attrs["format_version"] = "2"
    with pytest.raises(StoreError, match=r"format_version is '2', expected an integer"):
        open_store(tmp_path / "s.zarr")
