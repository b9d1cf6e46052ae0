"""SampleReader: byte-range reads equal zarr's reads byte for byte; the training path's StoreReader."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from zarr.codecs import BloscCodec

from micro_bench_hpa.fastread import EMPTY, SampleReader, fast_path_applies, write_shard
from micro_bench_hpa.store import StoreError, blocks, create_store, open_store, write_samples
from micro_bench_hpa.torch_data import StoreReader

N, R, BLOCK = 37, 16, 8  # 5 shards, the last one partial (5 of 8 samples)
ZERO_ROW = 11  # all-zero pixels: zarr stores no chunk for it (empty index entry)


def _store(path, *, compressor="default", skip_block=None):
    rng = np.random.default_rng(1)
    labels = rng.random((N, 28)) < 0.2
    g = create_store(
        path,
        ids=[f"s{i}" for i in range(N)],
        labels=labels,
        resolutions=(R,),
        source="test",
        block_size=BLOCK,
        compressor=compressor,
    )
    for a, b in blocks(g):
        if a == skip_block:
            continue  # this shard file is never written
        px = rng.integers(0, 256, (b - a, 4, R, R), dtype=np.uint8)
        if a <= ZERO_ROW < b:
            px[ZERO_ROW - a] = 0
        write_samples(g, a, {R: px}, bad=[ZERO_ROW - a] if a <= ZERO_ROW < b else ())
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _store(tmp_path_factory.mktemp("fr") / "s.zarr", skip_block=16)


@pytest.fixture(scope="module")
def array(store):
    return open_store(store)[f"images/{R}"]


def test_fast_reads_equal_zarr_including_empty_chunk_missing_shard_and_partial_shard(
    array, monkeypatch
):
    reader = SampleReader(array)
    assert reader.fast and fast_path_applies(array)
    ref = array[:]
    index = reader.shard_index(ZERO_ROW // BLOCK)
    assert (
        index.shape == (BLOCK, 2) and index[ZERO_ROW % BLOCK, 0] == EMPTY
    )  # the empty-chunk case is real
    assert reader.shard_index(2) is None  # samples 16..23: no shard file, read as fill value
    assert not ref[16:24].any() and ref[32:].any()
    monkeypatch.setattr(
        zarr.Array, "__getitem__", lambda *a: pytest.fail("fast path called zarr indexing")
    )
    for row in range(N):
        got = reader.read(row)
        assert got.dtype == np.uint8 and got.shape == (4, R, R)
        assert np.array_equal(got, ref[row]), row
    assert np.array_equal(reader.read_many(np.arange(N)), ref)
    with pytest.raises(IndexError, match=f"row {N} outside 0..{N - 1}"):
        reader.read(N)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.integers(0, N - 1), min_size=0, max_size=12))
def test_read_many_any_order_and_repeats(array, rows):
    fast, plain = SampleReader(array), SampleReader(array, fast=False)
    got = fast.read_many(rows)
    assert got.shape == (len(rows), 4, R, R)
    assert np.array_equal(got, plain.read_many(rows))
    assert np.array_equal(got, array[:][np.asarray(rows, dtype=np.int64)])


@pytest.fixture(scope="module")
def blosc_array(tmp_path_factory):
    path = _store(tmp_path_factory.mktemp("blosc") / "z.zarr", compressor=BloscCodec(cname="lz4"), skip_block=16)
    return open_store(path)[f"images/{R}"]


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.integers(0, N - 1), min_size=0, max_size=40))
def test_compressed_read_many_any_order_and_repeats(blosc_array, rows):
    """Slice reads of dense shards and single reads of sparse ones give zarr's values."""
    reader = SampleReader(blosc_array)
    assert not reader.fast
    got = reader.read_many(rows)
    assert got.shape == (len(rows), 4, R, R) and got.dtype == np.uint8
    assert np.array_equal(got, blosc_array[:][np.asarray(rows, dtype=np.int64)])


def test_compressed_store_falls_back_to_zarr(tmp_path):
    arr = open_store(_store(tmp_path / "z.zarr", compressor=BloscCodec(cname="lz4")))[f"images/{R}"]
    reader = SampleReader(arr)
    assert not reader.fast and not fast_path_applies(arr)
    assert np.array_equal(reader.read_many([36, 2, 2]), arr[:][[36, 2, 2]])
    with pytest.raises(
        StoreError, match="not an uncompressed one-sample-per-chunk sharded uint8(/uint16)? array"
    ):
        SampleReader(arr, fast=True)


def test_corrupt_shard_index_is_a_clear_error(tmp_path):
    path = _store(tmp_path / "c.zarr")
    shard = path / "images" / str(R) / "c" / "1" / "0" / "0" / "0"
    data = bytearray(shard.read_bytes())
    data[-20] ^= 0xFF  # a byte of the index
    shard.write_bytes(bytes(data))
    reader = SampleReader(open_store(path)[f"images/{R}"])
    assert np.array_equal(
        reader.read(0), open_store(path)[f"images/{R}"][0]
    )  # other shards still read
    with pytest.raises(
        StoreError, match=r"images/16/c/1/0/0/0: shard index checksum \(crc32c\) mismatch"
    ):
        reader.read(BLOCK)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 11),
    per_shard=st.integers(1, 4),
    side=st.sampled_from([3, 4]),  # 36 bytes per sample is not a multiple of 8: both empty tests
    zero=st.sets(st.integers(0, 10)),
    seed=st.integers(0, 2**16),
)
def test_write_shard_writes_the_bytes_zarr_writes(tmp_path_factory, n, per_shard, side, zero, seed):
    """Every shard, written twice (random rows, then rows of which some are all zero: zarr
    leaves those chunks out and removes a shard file that would hold none), equals zarr's file."""
    root = tmp_path_factory.mktemp("ws")
    rng = np.random.default_rng(seed)
    ids, labels = [f"s{i}" for i in range(n)], np.zeros((n, 28), bool)
    by = {how: create_store(root / f"{how}.zarr", ids=ids, labels=labels, resolutions=(side,), source="t",
                            block_size=per_shard) for how in ("zarr", "fast")}
    for fill_zeros in (False, True):
        px = rng.integers(0, 256, (n, 4, side, side), dtype=np.uint8)
        px[[z for z in zero if z < n and fill_zeros]] = 0
        for a, b in blocks(by["zarr"]):
            by["zarr"][f"images/{side}"][a:b] = px[a:b]
            assert write_shard(by["fast"][f"images/{side}"], a, px[a:b])
        assert _files(root / "zarr.zarr" / "images") == _files(root / "fast.zarr" / "images")
        assert np.array_equal(open_store(root / "fast.zarr")[f"images/{side}"][:], px)


def test_write_shard_declines_what_it_cannot_write_whole(tmp_path):
    arr = open_store(_store(tmp_path / "w.zarr"))[f"images/{R}"]
    px = np.ones((BLOCK, 4, R, R), np.uint8)
    assert not write_shard(arr, 1, px)  # not the first row of a shard
    assert not write_shard(arr, 0, px[:3])  # part of a shard
    assert not write_shard(arr, 32, px)  # the last shard holds 5 rows
    assert write_shard(arr, 32, px[:5]) and (arr[32:] == 1).all()
    blosc = open_store(_store(tmp_path / "z.zarr", compressor=BloscCodec(cname="lz4")))[f"images/{R}"]
    assert not write_shard(blosc, 0, px)


def test_store_reader_reads_a_batch_in_one_call(store):
    rows = np.array([30, 2, 35, 11, 9, 2])
    reader = StoreReader(store, R, np.arange(N))
    want = open_store(store)[f"images/{R}"][:][rows]
    np.testing.assert_array_equal(reader(rows), want)
    assert reader.sample_reader().fast
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reader))(rows), want)




def test_local_reads_keep_few_files_open_and_survive_pickling(array, monkeypatch):
    """Local stores are read with preadv on cached descriptors; the cache is bounded (least
    recently used closed first), a closed or pickled reader reopens, values never change."""
    import micro_bench_hpa.fastread as fastread

    monkeypatch.setattr(fastread, "OPEN_FILES", 2)
    reader = SampleReader(array)
    ref = array[:]
    rows = np.random.default_rng(3).permutation(np.repeat(np.arange(N), 2))
    got = reader.read_many(rows)
    assert reader._dir is not None and 0 < len(reader._fds) <= 2
    np.testing.assert_array_equal(got, ref[rows])
    copy = pickle.loads(pickle.dumps(reader))
    reader.close()
    assert not reader._fds
    np.testing.assert_array_equal(reader.read_many(rows[:9]), ref[rows[:9]])
    np.testing.assert_array_equal(copy.read_many(rows[::-1]), ref[rows[::-1]])
    np.testing.assert_array_equal(np.stack([copy.read(r) for r in range(N)]), ref)


def test_truncated_shard_is_a_clear_error(tmp_path):
    """A shard file missing sample bytes (its index intact) names the file and the sample."""
    path = _store(tmp_path / "t.zarr")
    shard = path / "images" / str(R) / "c" / "0" / "0" / "0" / "0"
    data = shard.read_bytes()
    shard.write_bytes(data[4 * R * R :])  # one sample's bytes fewer at the front; index kept
    reader = SampleReader(open_store(path)[f"images/{R}"])
    assert np.array_equal(reader.read(BLOCK), open_store(path)[f"images/{R}"][BLOCK])
    with pytest.raises(StoreError, match=r"images/16/c/0/0/0/0: truncated shard; sample 7 \(bytes"):
        reader.read_many([0, 7])
