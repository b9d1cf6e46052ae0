"""Hypothesis fuzzing of the source readers: mutated PNG/TIFF bytes decode or raise a ReadError
naming the file (a named bad sample, never a crash); malformed label CSV rows are reported per
row or the whole file is refused with one SourceError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from micro_bench_hpa.classes import N_CLASSES
from micro_bench_hpa.readers import (
    ReadError,
    SourceError,
    inspect_image,
    load_sample,
    parse_label_rows,
)

pytestmark = pytest.mark.filterwarnings("ignore")  # damaged files make PIL and tifffile warn
COLORS = ("red", "green", "blue", "yellow")
KINDS = {"unreadable", "truncated", "wrong_size", "wrong_dtype", "8bit_in_16bit", "missing_channel"}
FAST, SLOW = (settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
              for n in (25, 300))


def _originals() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        png, tif = Path(tmp) / "a.png", Path(tmp) / "a.tif"
        Image.fromarray(rng.integers(0, 256, (512, 512), dtype=np.uint8)).save(png)
        tifffile.imwrite(tif, rng.integers(0, 65536, (512, 512), dtype=np.uint16))
        out[".png"], out[".tif"] = png.read_bytes(), tif.read_bytes()
    return out


ORIGINALS = _originals()


def mutate_bytes(draw, data: bytearray, op: str, at: int) -> bool:
    """Apply the byte-level mutation ``op`` (flip, byte, truncate, insert) at ``at`` in place;
    False for an op that is not one of these (the caller's own, format-aware ones)."""
    if op == "flip":
        if data:
            data[at] ^= 1 << draw(st.integers(0, 7))
    elif op == "byte":
        if data:
            data[at] = draw(st.integers(0, 255))
    elif op == "truncate":
        del data[at:]
    elif op == "insert":
        data[at:at] = draw(st.binary(min_size=1, max_size=16))
    else:
        return False
    return True


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from(sorted(ORIGINALS)))
    data = bytearray(ORIGINALS[suffix])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "header"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if mutate_bytes(draw, data, op, at):
            continue
        if op == "header" and len(data) > 40:  # the part that holds sizes and types
            i = draw(st.integers(0, 39))
            data[i] = draw(st.integers(0, 255))
    return suffix, bytes(data)


def read_mutated(case: tuple[str, bytes]) -> None:
    suffix, data = case
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for c in COLORS:
            files[c] = Path(tmp) / f"s_{c}{suffix}"
            files[c].write_bytes(ORIGINALS[suffix])
        files["green"].write_bytes(data)
        try:
            inspect_image(files["green"])
        except ReadError as err:
            assert err.kind in KINDS and err.path == files["green"]
        try:
            sample = load_sample(files, [64, 32])
        except ReadError as err:  # a named bad sample: which file, which category
            assert err.kind in KINDS and err.path in files.values(), err
            return
        assert {r: (a.shape, a.dtype) for r, a in sample.items()} == {64: ((4, 64, 64), np.uint8), 32: ((4, 32, 32), np.uint8)}


ROW = st.one_of(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12), max_size=4).map(
        lambda cells: ",".join(cells)),
    st.tuples(st.text("abc0123456789_-", min_size=0, max_size=6),
              st.lists(st.integers(-3, 40), max_size=4)).map(lambda t: f"{t[0]},{' '.join(map(str, t[1]))}"),
    st.sampled_from(['"a,b",1', 'x,"1 2', "x,1,extra", ",", "x", "x,1 1 1", "x, 27 ", "\ufeffx,1", "x,0x1"]),
)


def parse_rows(header: str, rows: list[str], encoding: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.csv"
        path.write_bytes((header + "\n" + "\n".join(rows) + "\n").encode(encoding, errors="replace"))
        try:
            good, issues = parse_label_rows(path)
        except SourceError as err:
            assert str(path) in str(err)
            return
        ids = [sid for sid, _ in good]
        assert len(ids) == len(set(ids))
        assert all(classes == sorted(set(classes)) and classes[0] >= 0 and classes[-1] < N_CLASSES
                   for _, classes in good)
        assert {kind for kind, _, _ in issues} <= {"bad_label", "empty_target", "duplicate_id"}


test_mutated_images = FAST(given(mutated())(read_mutated))
test_mutated_images_many = pytest.mark.slow(SLOW(given(mutated())(read_mutated)))
_csv = given(st.sampled_from(["Id,Target", "Target,Id", "id,target", "Id;Target", "\ufeffId,Target"]),
             st.lists(ROW, max_size=12), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
test_malformed_csv_rows = FAST(_csv(parse_rows))
test_malformed_csv_rows_many = pytest.mark.slow(SLOW(_csv(parse_rows)))
