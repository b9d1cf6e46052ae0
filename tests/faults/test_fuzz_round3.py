"""Fuzzing of the parsers issue 23 added (issue 28 item 10): generic label tables of any layout and
OME-TIFF files. Each input parses, or is refused with one line naming the file; never another
exception, never a wrong shape."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micro_bench_hpa.errors import ReadError, SourceError
from micro_bench_hpa.formats import inspect_file, read_file
from micro_bench_hpa.labels import LabelSpec, read_label_table

from .test_fuzz_readers import mutate_bytes  # the byte-level mutations both fuzzers share

pytestmark = pytest.mark.filterwarnings("ignore")  # damaged files make tifffile warn
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

_cell = st.one_of(
    st.text(alphabet=st.sampled_from(list("abcXYZ019 |;,\t\"'\u00e9-_")), max_size=12),
    st.sampled_from(["", "0", "1", "2 5", "a|b", "7;3", "-1", "999", "nan", "a b", "\"q,uoted\""]),
)


@st.composite
def tables(draw) -> tuple[str, str, LabelSpec]:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    ncols = draw(st.integers(1, 4))
    header = draw(st.lists(st.sampled_from(["Id", "Target", "a", "b", "c", "", "Id"]), min_size=ncols, max_size=ncols))
    rows = draw(st.lists(st.lists(_cell, min_size=0, max_size=ncols + 1), max_size=8))
    text = "\n".join(delimiter.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    one_hot = draw(st.booleans())
    spec = LabelSpec(
        id_column=draw(st.sampled_from(["Id", "0", "1", "missing"])),
        label_column=None if one_hot else draw(st.sampled_from(["Target", "1", "a", "9"])),
        separator=draw(st.sampled_from([" ", "|", ";"])),
        one_hot=one_hot,
        label_columns=draw(st.sampled_from([(), ("a", "b")])) if one_hot else (),
        classes=draw(st.sampled_from([None, ("a", "b"), ("0", "1", "2")])),
        delimiter=delimiter,
    )
    return draw(st.sampled_from(["labels.csv", "labels.tsv"])), text, spec


@FAST
@given(tables())
def test_generic_label_tables_parse_or_refuse_by_name(case: tuple[str, str, LabelSpec]) -> None:
    name, text, spec = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        try:
            table = read_label_table(path, spec)
        except SourceError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc), str(exc)
            return
    assert table.labels.dtype == np.bool_ and table.labels.shape == (len(table.ids), len(table.classes))
    assert len(set(table.ids)) == len(table.ids) and all(table.ids)


def _ome_original() -> bytes:
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.ome.tif"
        tifffile.imwrite(path, rng.integers(0, 65536, (3, 64, 64), dtype=np.uint16), ome=True,
                         metadata={"axes": "CYX", "Channel": {"Name": ["red", "green", "blue"]}})
        return path.read_bytes()


OME = _ome_original()


@st.composite
def mutated_ome(draw) -> bytes:
    data = bytearray(OME)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "xml"]))
        at = draw(st.integers(0, len(data) - 1)) if data else 0
        if mutate_bytes(draw, data, op, at):
            continue
        if op == "xml":  # the OME-XML: channel names, sizes, types
            start = bytes(data).find(b"<OME")
            if start >= 0:
                i = start + draw(st.integers(0, 400))
                if i < len(data):
                    data[i] = draw(st.sampled_from(list(b"<>\"=0 9Zx")))
    return bytes(data)


@FAST
@given(mutated_ome())
def test_mutated_ome_tiff_reads_or_refuses_by_name(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.ome.tif"
        path.write_bytes(data)
        try:
            header = inspect_file(path)
            pixels = read_file(path)
        except ReadError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc).strip(), str(exc)
            return
    assert pixels.ndim == 3 and pixels.dtype in (np.uint8, np.uint16)
    assert header.shape[0] == pixels.shape[0]


def test_an_id_with_a_line_break_is_refused_on_one_line(tmp_path: Path) -> None:
    """Found by the fuzzer above: a quoted id holding a line break reached the message unescaped."""
    path = tmp_path / "labels.csv"
    path.write_text('Id,Target\n"0\n0",a\n', encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        read_label_table(path, LabelSpec(id_column="Id", label_column="Target", classes=("a", "b")))
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "'0\\n0'" in message
