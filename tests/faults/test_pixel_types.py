"""Issue 28 item 2 and issue 23's parsers under fuzzing: every pixel type a PNG/TIFF can hold is
read by a documented rule or refused by name (Kaggle path, generic path, predict); two files for
one channel are refused by name; the label-table parser and the OME reader never crash."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from micro_bench_hpa.formats import check_dtype, inspect_file, read_file
from micro_bench_hpa.labels import LabelSpec, read_label_table
from micro_bench_hpa.readers import ReadError, SourceError, read_channel
from micro_bench_hpa.store import DONE, open_store
from micro_bench_hpa.synth.generate import write_png_layout

from .conftest import invoke

pytestmark = pytest.mark.filterwarnings("ignore")
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

REFUSED = {
    "int8": "signed 8-bit", "int16": "signed 16-bit", "int32": "signed 32-bit", "int64": "signed 64-bit",
    "uint32": "unsigned 32-bit", "uint64": "unsigned 64-bit", "float16": "floating-point",
    "float32": "floating-point", "float64": "floating-point", "bool": "1-bit",
}


@pytest.mark.parametrize("dtype", sorted(REFUSED))
def test_tiff_pixel_types_refused_by_name_everywhere(tmp_path, dtype):
    a = (np.arange(64 * 64).reshape(64, 64) % 200).astype(dtype)
    path = tmp_path / "x_red.tif"
    tifffile.imwrite(path, a)
    for read in (lambda: read_channel(path, "red"), lambda: read_file(path)):
        with pytest.raises(ReadError, match=REFUSED[dtype]) as err:
            read()
        assert err.value.kind == "wrong_dtype" and err.value.path == path
    with pytest.raises(ReadError, match=REFUSED[dtype]):
        check_dtype(np.dtype(dtype), path)


def _twelve_bit(path: Path, value: int) -> None:
    """A uint16 TIFF of ``value`` that declares a 12-bit camera: its MaxSampleValue tag is 4095."""
    tifffile.imwrite(path, np.full((8, 8), value, np.uint16), extratags=[(281, "H", 1, 4095, True)])


def test_declared_range(tmp_path):
    path = tmp_path / "x.tif"
    _twelve_bit(path, 5000)
    with pytest.raises(ReadError, match="value 5000 above the declared maximum 4095"):
        read_file(path)
    _twelve_bit(path, 4095)
    assert read_file(path).max() == 4095


@pytest.mark.parametrize("mode", ["1", "P", "F", "RGB", "LA"])
def test_png_modes_refused_in_per_channel_layout(tmp_path, mode):
    path = tmp_path / "x.png" if mode != "F" else tmp_path / "x.tif"
    Image.new(mode, (16, 16)).save(path)
    with pytest.raises(ReadError) as err:
        inspect_file(path)
    assert err.value.kind == "wrong_dtype" and err.value.path == path


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory) -> Path:
    return write_png_layout(tmp_path_factory.mktemp("k") / "src", n=4, resolution=512, seed=0)


def test_kaggle_signed_tiff_is_a_named_bad_sample(kaggle, tmp_path):
    src = Path(shutil.copytree(kaggle, tmp_path / "src"))
    folder = src / "train" if (src / "train").is_dir() else src
    first = sorted(folder.glob("*_red.png"))[0]
    sid = first.name[: -len("_red.png")]
    tifffile.imwrite(first.with_suffix(".tif"), np.asarray(Image.open(first)).astype(np.int32))
    first.unlink()
    result = invoke("data", "convert", str(src), str(tmp_path / "d.zarr"), "--resolutions", "64", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "wrong_dtype" in result.output
    g = open_store(tmp_path / "d.zarr")
    assert sid not in list(g["ids"][:]) and (g["status"][:] == DONE).all()
    report = (tmp_path / "d.zarr" / "convert_report.json").read_text()
    assert "signed 32-bit integer pixels (int32)" in report and f"{sid}_red.tif" in report


def test_kaggle_two_files_for_one_channel_refused_by_name(kaggle, tmp_path):
    src = Path(shutil.copytree(kaggle, tmp_path / "src"))
    folder = src / "train" if (src / "train").is_dir() else src
    first = sorted(folder.glob("*_green.png"))[0]
    sid = first.name[: -len("_green.png")]
    tifffile.imwrite(first.with_suffix(".tif"), np.asarray(Image.open(first)))
    result = invoke("data", "convert", str(src), str(tmp_path / "d.zarr"), "--resolutions", "64", "--workers", "1")
    assert result.exit_code == 0 and "duplicate_channel" in result.output, result.output
    report = (tmp_path / "d.zarr" / "convert_report.json").read_text()
    assert f"{sid}_green.png, {sid}_green.tif" in report
    assert sid not in list(open_store(tmp_path / "d.zarr")["ids"][:])
    from micro_bench_predict.sources import FolderSource

    source = FolderSource(folder, ["red", "green", "blue", "yellow"], 64)
    problem = dict(source[i] for i in range(len(source)))[sid]
    assert problem.kind == "duplicate_channel" and f"{sid}_green.tif" in problem.detail


_CELL = st.text(alphabet=st.sampled_from(list("ab01|; ,\t\"\n7x-")), max_size=12)


@FUZZ
@given(rows=st.lists(st.tuples(_CELL, _CELL), max_size=8), sep=st.sampled_from(["|", ";", " ", ","]),
       header=st.sampled_from(["Id,Target", "Id\tTarget", "x,y", "", "Id,Target,extra"]),
       classes=st.sampled_from([None, ("a", "b"), ("0", "1", "7")]), one_hot=st.booleans())
def test_fuzz_label_parser_table_or_one_line_error(rows, sep, header, classes, one_hot):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.csv"
        path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
        spec = LabelSpec(separator=sep, classes=classes, one_hot=one_hot)
        try:
            table = read_label_table(path, spec)
        except SourceError as err:
            text = str(err)
            assert "\n" not in text.strip() or "\n" in header + "".join(a + b for a, b in rows)
            assert str(path) in text
            return
        assert table.labels.shape == (len(table.ids), len(table.classes)) and table.labels.dtype == bool
        assert len(set(table.ids)) == len(table.ids) and all(table.ids)


def _ome_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.ome.tif"
        tifffile.imwrite(path, np.arange(2 * 32 * 32, dtype=np.uint16).reshape(2, 32, 32),
                         metadata={"axes": "CYX", "Channel": {"Name": ["dapi", "gfp"]}})
        return path.read_bytes()


OME = _ome_bytes()


@FUZZ
@given(cuts=st.lists(st.tuples(st.integers(0, len(OME) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       truncate=st.one_of(st.none(), st.integers(0, len(OME))))
def test_fuzz_ome_reader_decodes_or_names_the_file(cuts, truncate):
    data = bytearray(OME)
    for pos, value in cuts:
        data[pos] = value
    if truncate is not None:
        data = data[:truncate]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.ome.tif"
        path.write_bytes(bytes(data))
        try:
            header = inspect_file(path)
            pixels = read_file(path)
        except ReadError as err:
            assert err.path == path and err.kind in {"unreadable", "truncated", "wrong_size", "wrong_dtype"}
            return
        assert pixels.shape == header.shape and pixels.dtype in (np.uint8, np.uint16)
        assert header.channel_names in (None, ["dapi", "gfp"]) or len(header.channel_names) == header.shape[0]


def _ome_zarr_files() -> dict[str, bytes]:
    import zarr
    from ome_zarr.io import parse_url
    from ome_zarr.writer import write_image

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.ome.zarr"
        group = zarr.group(store=parse_url(str(path), mode="w").store)
        write_image(np.arange(2 * 16 * 16, dtype=np.uint16).reshape(2, 16, 16), group=group, axes="cyx",
                    scale_factors=[], storage_options={"chunks": (2, 16, 16)},
                    omero={"channels": [{"label": n, "color": "FFFFFF",
                                         "window": {"start": 0, "end": 65535, "min": 0, "max": 65535}}
                                        for n in ("dapi", "gfp")]})
        return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


OME_ZARR = _ome_zarr_files()
_METADATA = sorted(k for k in OME_ZARR if k.endswith("zarr.json"))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(which=st.sampled_from(_METADATA), cuts=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(
    list(b'{}[]",:0123456789-axyzc ') + [0xff])), min_size=1, max_size=5), drop=st.booleans())
def test_fuzz_ome_zarr_metadata_decodes_or_names_the_image(which, cuts, drop):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "a.ome.zarr"
        for rel, data in OME_ZARR.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        target = root / which
        if drop:
            target.unlink()
        else:
            data = bytearray(target.read_bytes())
            for pos, value in cuts:
                data[pos % len(data)] = value
            target.write_bytes(bytes(data))
        try:
            header = inspect_file(root)
            pixels = read_file(root)
        except ReadError as err:
            assert err.path == root and err.kind in {"unreadable", "truncated", "wrong_size", "wrong_dtype"}
            return
        assert pixels.shape == header.shape and pixels.dtype in (np.uint8, np.uint16)
