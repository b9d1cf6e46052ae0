"""Fast reads and writes of whole samples in the store's sharded, uncompressed image arrays.

``zarr.Array.__getitem__`` costs about 1 ms per call before any byte is read: it hands the
request to zarr's asyncio loop thread, builds an indexer, reads the shard index (a second file
read) and decodes both through the codec pipeline. The torch Dataset reads one sample per item,
so that overhead, not the disk, bounded training input to ~500 samples/s per core at 256 px.

:class:`SampleReader` reads the same bytes with two synchronous byte-range gets of zarr's own
store API (``StorePath.get_sync``): the shard index once per shard (then cached), and one inner
chunk (= one sample) per read. In a local store (``LocalStore``) the chunk is read instead with
one ``os.preadv`` on the shard's file, kept open (:data:`OPEN_FILES` at most per reader),
straight into the sample's row of the output batch: no bytes object, no copy, no zarr call
(~15 us per 256 px sample against ~50 us through ``get_sync``; docs/performance.md). It applies only to the exact layout :func:`create_store
<micro_bench_hpa.store.create_store>` writes without a compressor; every other array (a
compressor, another chunking, a store without synchronous gets) is read with plain zarr
indexing, so results never depend on which path ran.

The zarr v3 ``sharding_indexed`` codec as written by the store (spec:
https://zarr-specs.readthedocs.io/en/latest/v3/codecs/sharding-indexed/)::

    shard file = chunk bytes ... | index | crc32c
    index      = S pairs (offset, nbytes), little-endian uint64, one per inner chunk in C order
                 (here S = samples per shard, inner chunk = one sample (1, C, R, R));
                 (2**64-1, 2**64-1) marks an empty chunk (never written, or all fill value)
    crc32c     = 4 bytes, little-endian CRC-32C (Castagnoli) of the index bytes

Inner chunks use only the ``bytes`` codec, so a chunk's bytes are the sample's pixels in C
order. A missing shard file or an empty chunk reads as the fill value, as zarr does.
The index and the open files are cached per reader: a store must not be rewritten while a reader
is open (datasets refuse unfinished stores, so training never reads a store that is being
written). A forked DataLoader worker shares the parent's descriptors, which is safe since
``preadv`` does not move a file position; a pickled reader reopens its files.

:func:`write_shard` is the other direction, for the converter: a block of samples that is one whole
shard is already the shard's chunk bytes in order, so the file is the block's rows (all-zero rows
left out, as zarr leaves out chunks equal to the fill value) + index + crc32c, written in one
atomic file write (a ``*.partial`` file renamed into place, as zarr's ``LocalStore`` does). The
bytes equal those zarr writes for the same assignment (tested); it replaces zarr's per-chunk
codec pipeline, which cost about half as much as decoding the PNGs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import google_crc32c
import numpy as np
import zarr
from zarr.abc.store import RangeByteRequest, SuffixByteRequest, SupportsGetSync
from zarr.codecs import BytesCodec, Crc32cCodec, Endian, ShardingCodec, ShardingCodecIndexLocation
from zarr.core.metadata import ArrayV3Metadata
from zarr.storage import LocalStore

from micro_bench_hpa.errors import StoreError

__all__ = ["EMPTY", "SampleReader", "fast_path_applies", "write_shard"]

#: Offset and length of an index entry whose chunk is empty (not stored: reads as the fill value).
EMPTY = np.uint64(2**64 - 1)
_EMPTY = 2**64 - 1
#: Shard files a :class:`SampleReader` keeps open (least recently used closed first).
OPEN_FILES = 64


def fast_path_applies(array: zarr.Array) -> bool:
    """Whether ``array`` has exactly the layout :class:`SampleReader` byte-range reads.

    That is: zarr v3, uint8 or little-endian uint16, one ``sharding_indexed`` codec whose inner chunk is one whole
    sample ``(1, *shape[1:])`` encoded by ``bytes`` alone, index ``bytes`` (little endian) +
    ``crc32c`` at the end of the shard, shards spanning whole samples, in a store with
    synchronous gets (``LocalStore``, ``MemoryStore``).
    """
    meta = array.metadata
    if not isinstance(meta, ArrayV3Metadata) or array.dtype not in (np.uint8, np.uint16) or len(meta.codecs) != 1:
        return False
    codec = meta.codecs[0]
    if not isinstance(codec, ShardingCodec) or array.shards is None:
        return False
    index_ok = (
        len(codec.index_codecs) == 2
        and isinstance(codec.index_codecs[0], BytesCodec)
        and codec.index_codecs[0].endian == Endian.little
        and isinstance(codec.index_codecs[1], Crc32cCodec)
    )
    return (
        tuple(codec.chunk_shape) == (1, *array.shape[1:])
        and tuple(array.shards[1:]) == tuple(array.shape[1:])
        and len(codec.codecs) == 1
        and isinstance(codec.codecs[0], BytesCodec)
        and (array.dtype == np.uint8 or (codec.codecs[0].endian == Endian.little and sys.byteorder == "little"))
        and index_ok
        and codec.index_location == ShardingCodecIndexLocation.end
        and isinstance(array.store_path.store, SupportsGetSync)
    )


class SampleReader:
    """Reads samples (rows along axis 0) of an ``(N, C, R, R)`` uint8 or uint16 zarr array.

    Args:
        array: the zarr array (e.g. ``images/256`` of a store).
        fast: use the byte-range path when it applies (``None``: decide by
            :func:`fast_path_applies`; ``False``: always plain zarr reads, for comparison).

    Attributes:
        fast: whether the byte-range path is in use.
        shape: the array's shape ``(N, C, R, R)``.
    """

    def __init__(self, array: zarr.Array, *, fast: bool | None = None) -> None:
        self.array = array
        self.shape: tuple[int, ...] = tuple(array.shape)
        applies = fast_path_applies(array)
        if fast and not applies:
            raise StoreError(
                f"{array.store_path}: not an uncompressed one-sample-per-chunk sharded uint8/uint16 array"
            )
        self.fast = applies if fast is None else bool(fast)
        self._per_shard = int(array.shards[0]) if array.shards else 1
        self.dtype = np.dtype(array.dtype)
        self._sample_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fill = self.dtype.type(array.fill_value or 0)
        self._index: dict[int, np.ndarray | None] = {}
        self._spans: dict[int, list[list[int]]] = {}  # the index as Python ints (per-read lookups)
        store = array.store_path.store
        #: folder of the array in a local store: samples are read with ``os.preadv`` on cached
        #: file descriptors straight into the output (no intermediate bytes, no zarr call)
        self._dir = Path(store.root) / array.store_path.path if self.fast and isinstance(store, LocalStore) else None
        self._fds: OrderedDict[int, int] = OrderedDict()

    def close(self) -> None:
        """Close the cached shard files (reading again reopens them)."""
        while self._fds:
            os.close(self._fds.popitem()[1])

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown os may be gone
            self.close()

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_fds"] = OrderedDict()  # file descriptors do not travel; the copy reopens
        return state

    def __repr__(self) -> str:
        return f"SampleReader({str(self.array.store_path)!r}, fast={self.fast})"

    def _chunk_key(self, shard: int) -> str:
        return self.array.metadata.encode_chunk_key((shard,) + (0,) * (len(self.shape) - 1))

    def _shard_key(self, shard: int) -> zarr.storage.StorePath:
        return self.array.store_path / self._chunk_key(shard)

    def shard_index(self, shard: int) -> np.ndarray | None:
        """``(S, 2) uint64`` (offset, nbytes) of each sample of ``shard``; ``None`` if no file."""
        if shard not in self._index:
            path = self._shard_key(shard)
            size = 16 * self._per_shard + 4
            buf = path.get_sync(byte_range=SuffixByteRequest(size))
            if buf is None:
                self._index[shard] = None
            else:
                raw = buf.to_bytes()
                if len(raw) != size:
                    raise StoreError(f"{path}: shard index is {len(raw)} bytes, expected {size}")
                if google_crc32c.value(raw[:-4]) != int.from_bytes(raw[-4:], "little"):
                    raise StoreError(
                        f"{path}: shard index checksum (crc32c) mismatch; the file is corrupt"
                    )
                self._index[shard] = np.frombuffer(raw[:-4], dtype="<u8").reshape(
                    self._per_shard, 2
                )
        return self._index[shard]

    def _fd(self, shard: int) -> int:
        """A read-only descriptor of ``shard``'s file, kept open (at most :data:`OPEN_FILES`)."""
        fd = self._fds.get(shard)
        if fd is None:
            assert self._dir is not None
            fd = os.open(self._dir / self._chunk_key(shard), os.O_RDONLY)
            if len(self._fds) >= OPEN_FILES:
                os.close(self._fds.popitem(last=False)[1])
            self._fds[shard] = fd
        else:
            self._fds.move_to_end(shard)
        return fd

    def _span(self, row: int) -> tuple[int, int, int] | None:
        """``(shard, offset, nbytes)`` of sample ``row``'s chunk, ``None`` when it is not stored
        (reads as the fill value); the index as Python ints, cached per shard."""
        shard, pos = divmod(row, self._per_shard)
        spans = self._spans.get(shard)
        if spans is None:
            index = self.shard_index(shard)
            spans = self._spans[shard] = [] if index is None else index.tolist()
        if not spans or spans[pos][0] == _EMPTY:
            return None
        offset, nbytes = spans[pos]
        if nbytes != self._sample_bytes:
            raise StoreError(
                f"{self._shard_key(shard)}: sample {row} holds {nbytes} bytes, expected {self._sample_bytes}"
            )
        return shard, offset, nbytes

    def _read_local(self, rows: list[int], out: np.ndarray) -> None:
        """Rows of a local store into ``out``: one ``preadv`` per sample into its row of ``out``."""
        flat = out.reshape(len(rows), self._sample_bytes // self.dtype.itemsize).view(np.uint8)  # rows' bytes
        for k, row in enumerate(rows):
            span = self._span(row)
            if span is None:
                out[k] = self._fill
                continue
            shard, offset, nbytes = span
            if os.preadv(self._fd(shard), [flat[k]], offset) != nbytes:
                raise StoreError(
                    f"{self._shard_key(shard)}: truncated shard; sample {row} "
                    f"(bytes {offset}..{offset + nbytes}) is missing"
                )

    def _read_into(self, row: int, out: np.ndarray) -> None:
        span = self._span(row)
        if span is None:
            out.fill(self._fill)
            return
        shard, offset, nbytes = span
        path = self._shard_key(shard)
        buf = path.get_sync(byte_range=RangeByteRequest(offset, offset + nbytes))
        data = None if buf is None else buf.as_numpy_array()
        if data is None or data.size != nbytes:
            raise StoreError(
                f"{path}: truncated shard; sample {row} (bytes {offset}..{offset + nbytes}) is missing"
            )
        out[...] = data.view(np.uint8).view(self.dtype.newbyteorder("<")).reshape(out.shape)

    def read(self, row: int | np.integer) -> np.ndarray:
        """Sample ``row`` as a new ``(C, R, R)`` array of the array's dtype."""
        row = self._check(row)
        if not self.fast:
            return np.asarray(self.array[row])
        out = np.empty(self.shape[1:], dtype=self.dtype)
        if self._dir is not None:
            self._read_local([row], out[None])
        else:
            self._read_into(row, out)
        return out

    def read_many(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Samples ``rows`` (any order, repeats allowed) as a new ``(n, C, R, R)`` array of the
        array's dtype."""
        rows = [self._check(r) for r in np.asarray(rows, dtype=np.int64).reshape(-1)]
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if not self.fast:
            self._zarr_read_many(rows, out)
            return out
        if self._dir is not None:
            self._read_local(rows, out)
            return out
        for k, row in enumerate(rows):
            self._read_into(row, out[k])
        return out

    def _zarr_read_many(self, rows: list[int], out: np.ndarray) -> None:
        """Plain zarr reads (a compressor, another layout), by shard: one slice read of the rows
        spanning a shard's requested samples when they are dense enough, else one read per sample.

        A slice read costs one zarr call plus one chunk decode per row it spans, so it is used when
        at least half the rows it spans are wanted (consecutive batches: 3x a loop of single reads
        on a blosc store; shuffled batches read sample by sample, as fast as the loop; measured by
        ``benchmarks/perf/loader.py``). ``get_orthogonal_selection`` of a batch, used before, was
        ~40x slower than the loop.
        """
        by_shard: dict[int, list[int]] = {}
        for k, row in enumerate(rows):
            by_shard.setdefault(row // self._per_shard, []).append(k)
        for ks in by_shard.values():
            wanted = sorted({rows[k] for k in ks})
            lo, hi = wanted[0], wanted[-1] + 1
            if hi - lo <= 2 * len(wanted):
                part = np.asarray(self.array[lo:hi])
                for k in ks:
                    out[k] = part[rows[k] - lo]
            else:
                got = {row: np.asarray(self.array[row]) for row in wanted}
                for k in ks:
                    out[k] = got[rows[k]]

    def _check(self, row: int | np.integer) -> int:
        row = int(row)
        if not 0 <= row < self.shape[0]:
            raise IndexError(f"{self.array.store_path}: row {row} outside 0..{self.shape[0] - 1}")
        return row


def _nonzero_rows(block: np.ndarray) -> np.ndarray:
    """``(n,) bool``: which rows of a C-contiguous block hold a non-zero byte."""
    flat = block.reshape(len(block), -1).view(np.uint8)
    if flat.shape[1] % 8 == 0:
        flat = flat.view(np.uint64)  # 8x fewer elements to test
    return np.asarray(flat.any(axis=1))  # numpy types ndarray.any(axis=...) as "bool_ | NDArray"


def write_shard(array: zarr.Array, start: int, block: np.ndarray,
                record: dict[str, list[int]] | None = None) -> bool:
    """Write rows ``start .. start + len(block)`` of ``array`` as one whole shard file.

    Applies when :func:`fast_path_applies`, the store is a ``LocalStore``, the array's fill value
    is 0, ``start`` is the first row of a shard and the block covers the shard's rows that exist
    (all ``shards[0]`` of them, or the array's last rows). Returns ``False`` without writing
    anything when it does not apply (the caller then assigns through zarr).

    ``record`` (optional) receives ``{file: [size, mtime_ns, crc32c]}`` for the file written
    (``file`` relative to the store root, as ``images/256/c/0/0/0/0``): the CRC-32C of the whole
    file, computed from the bytes while they are written, for the store's shard manifest.
    """
    per_shard = int(array.shards[0]) if array.shards else 0
    n_rows = int(array.shape[0])
    store = array.store_path.store
    if not isinstance(store, LocalStore):
        return False
    applies = (
        per_shard > 0
        and fast_path_applies(array)
        and int(array.fill_value or 0) == 0
        and start % per_shard == 0
        and len(block) == min(per_shard, n_rows - start)
        and block.shape[1:] == tuple(array.shape[1:])
        and block.dtype == array.dtype
    )
    if not applies:
        return False
    block = np.ascontiguousarray(block)
    keep = _nonzero_rows(block)
    sample_bytes = block[0].nbytes if len(block) else 0
    index = np.full((per_shard, 2), EMPTY, dtype="<u8")
    kept = np.flatnonzero(keep)
    index[kept, 0] = np.arange(len(kept), dtype=np.uint64) * np.uint64(sample_bytes)
    index[kept, 1] = sample_bytes
    key = array.metadata.encode_chunk_key((start // per_shard,) + (0,) * (array.ndim - 1))
    path = Path(store.root) / array.store_path.path / key
    if not len(kept):  # zarr stores no file for a shard of fill values
        path.unlink(missing_ok=True)
        return True
    raw = index.tobytes()
    tail = raw + google_crc32c.value(raw).to_bytes(4, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{uuid.uuid4().hex}.partial")
    crc = 0
    try:
        with tmp.open("wb") as fh:
            for part in [block] if keep.all() else [block[k] for k in kept]:
                fh.write(part.data.cast("B"))
                if record is not None:
                    crc = google_crc32c.extend(crc, part)  # takes the array's buffer (any dtype), no copy
            fh.write(tail)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if record is not None:
        st = path.stat()
        key_path = f"{array.store_path.path}/{key}".lstrip("/")
        record[key_path] = [st.st_size, st.st_mtime_ns, int(google_crc32c.extend(crc, tail))]
    return True
