"""``data convert`` of any layout (issue 23): one dataset written as one PNG per channel, a
multi-channel TIFF, an OME-TIFF with channel names and an OME-Zarr converts to the same arrays,
byte for byte; 16-bit kept or mapped; every bad layout is one line naming the file, row or id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from micro_bench_hpa.cli import data
from micro_bench_hpa.store import open_store, read_array
from owndata import (
    CHANNELS3,
    CHANNELS5,
    CLASSES,
    make_pixels,
    write_labels,
    write_ome_zarr,
    write_png_per_channel,
    write_tiff,
)

RES = "32,16"


def _convert(src: Path, dest: Path, *args: str):
    from micro_bench_commands.cli import cli

    return CliRunner().invoke(cli, ["data", "convert", str(src), str(dest), "--resolutions", RES, "--workers", "1", *args])


def _ok(src, dest, *args):
    result = _convert(src, dest, *args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return open_store(dest)


def _array_files(store: Path) -> dict[str, bytes]:
    skip = {"zarr.json", "convert_report.json", "shard_manifest.json"}
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*"))
            if p.is_file() and not (p.parent == store and p.name in skip) and "convert_issues" not in str(p)}


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    """The 5-channel dataset in four layouts."""
    root = tmp_path_factory.mktemp("five")
    ids, labels, pixels = make_pixels(n=12, channels=5)
    write_labels(root / "labels.csv", ids, labels)
    write_png_per_channel(root / "png", ids, pixels, CHANNELS5)
    write_tiff(root / "tif", ids, pixels)
    write_tiff(root / "ome", ids, pixels, CHANNELS5, ome=True)
    write_ome_zarr(root / "zarr", ids, pixels, CHANNELS5)
    return root, ids, labels, pixels


def test_four_layouts_give_byte_identical_stores(five, tmp_path):
    root, ids, labels, pixels = five
    common = ["--labels", str(root / "labels.csv"), "--id-column", "sample", "--label-column", "labels",
              "--separator", ";", "--classes", ",".join(CLASSES)]
    stores = {
        "png": _ok(root / "png", tmp_path / "png.zarr", *common, "--pattern", "{id}_{channel}.png",
                   "--channels", ",".join(CHANNELS5)),
        "tif": _ok(root / "tif", tmp_path / "tif.zarr", *common, "--pattern", "{id}.tif", "--channels", ",".join(CHANNELS5)),
        "ome": _ok(root / "ome", tmp_path / "ome.zarr", *common, "--pattern", "{id}.ome.tif"),
        "zarr": _ok(root / "zarr", tmp_path / "zarr.zarr", *common, "--pattern", "{id}.ome.zarr"),
    }
    files = {k: _array_files(tmp_path / f"{k}.zarr") for k in stores}
    assert files["png"] and all(files[k] == files["png"] for k in files)
    for g in stores.values():
        assert g.attrs["classes"] == CLASSES and g.attrs["channels"] == CHANNELS5 and g.attrs["dtype"] == "uint16"
        assert g.attrs["intensity_rule"] == "uint16 as is"
    g = stores["ome"]
    assert list(read_array(g, "ids")) == ids and np.array_equal(read_array(g, "labels"), labels)
    # 48 -> 16 is block means of 3x3, rounded half up, in uint16 (nothing lost)
    want = (pixels.reshape(12, 5, 16, 3, 16, 3).sum(axis=(3, 5), dtype=np.uint64) * 2 + 9) // 18
    assert np.array_equal(g["images/16"][:], want.astype(np.uint16))
    assert g.attrs["layout"]["pattern"] == "{id}.ome.tif" and g.attrs["layout"]["file_channels"] == CHANNELS5


def test_ome_channel_selection_and_three_channels(five, tmp_path):
    root, ids, labels, pixels = five
    g = _ok(root / "ome", tmp_path / "s.zarr", "--labels", str(root / "labels.csv"), "--id-column", "sample",
            "--label-column", "labels", "--separator", ";", "--pattern", "{id}.ome.tif", "--channels", "tubulin,dapi,gfp")
    assert g.attrs["channels"] == ["tubulin", "dapi", "gfp"] and g.attrs["classes"] == sorted(CLASSES)
    order = [CHANNELS5.index(c) for c in ("tubulin", "dapi", "gfp")]
    h = _ok(root / "png", tmp_path / "p.zarr", "--labels", str(root / "labels.csv"), "--id-column", "sample",
            "--label-column", "labels", "--separator", ";", "--pattern", "{id}_{channel}",
            "--channels", "tubulin,dapi,gfp")
    assert np.array_equal(g["images/32"][:], h["images/32"][:])
    assert g["images/32"].shape == (12, 3, 32, 32)
    assert set(CHANNELS3) == set(g.attrs["channels"]) and order == [2, 0, 1]


def test_to_uint8_rules(five, tmp_path):
    root, ids, labels, pixels = five
    base = ["--labels", str(root / "labels.csv"), "--id-column", "sample", "--label-column", "labels",
            "--separator", ";", "--pattern", "{id}.ome.tif"]
    g = _ok(root / "ome", tmp_path / "a.zarr", *base, "--to-uint8", "257")
    assert "dtype" not in g.attrs or g.attrs["dtype"] == "uint8"
    assert g["images/32"].dtype == np.uint8
    eight = (pixels.astype(np.uint32) * 2 + 257) // 514  # round(x / 257) of the source, then block means
    want = (eight.reshape(12, 5, 16, 3, 16, 3).sum(axis=(3, 5)) * 2 + 9) // 18
    np.testing.assert_array_equal(g["images/16"][:], want)
    p = _ok(root / "ome", tmp_path / "c.zarr", *base, "--to-uint8", "percentile")
    lo, hi = p.attrs["layout"]["percentiles"]["gfp"]
    assert 0 <= lo < hi <= 4000
    assert p["images/32"][:, 1].max() == 255 and p["images/32"].dtype == np.uint8
    assert "percentile" in p.attrs["intensity_rule"]


def test_one_hot_and_integer_labels(five, tmp_path):
    root, ids, labels, pixels = five
    onehot = tmp_path / "onehot.tsv"
    onehot.write_text("\t".join(["id", *CLASSES]) + "\n" + "".join(
        "\t".join([sid, *("1" if v else "0" for v in row)]) + "\n" for sid, row in zip(ids, labels, strict=True)))
    g = _ok(root / "ome", tmp_path / "a.zarr", "--labels", str(onehot), "--id-column", "id", "--one-hot",
            "--pattern", "{id}.ome.tif")
    assert g.attrs["classes"] == CLASSES and np.array_equal(read_array(g, "labels"), labels)
    idx = tmp_path / "idx.csv"
    idx.write_text("Id,Target\n" + "".join(f"{sid},{' '.join(str(c) for c in np.flatnonzero(row))}\n"
                                           for sid, row in zip(ids, labels, strict=True)))
    h = _ok(root / "ome", tmp_path / "b.zarr", "--labels", str(idx), "--classes", ",".join(CLASSES),
            "--pattern", "{id}.ome.tif")
    assert h.attrs["classes"] == CLASSES and np.array_equal(read_array(h, "labels"), labels)


def _error(result) -> str:
    """The one ``Error:`` line of a refused command (exit 1, no traceback)."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize("case", ["unknown_class", "index_out_of_range", "missing_channel", "not_square",
                                  "too_small", "signed", "float", "two_files", "mixed_depth", "duplicate_id"])
def test_bad_layouts_are_one_line_errors(tmp_path, case):
    import tifffile
    from PIL import Image

    ids, labels, pixels = make_pixels(n=4, channels=3, classes=CLASSES[:7])
    src = tmp_path / "src"
    write_png_per_channel(src, ids, pixels, CHANNELS3)
    table = write_labels(src / "labels.csv", ids, labels, CLASSES[:7], sep="|", id_col="Id", label_col="Target")
    args = ["--labels", str(table), "--separator", "|", "--pattern", "{id}_{channel}", "--channels", ",".join(CHANNELS3)]
    expect = ""
    if case == "unknown_class":
        table.write_text(table.read_text().replace("ciliated", "cilliated", 1))
        args += ["--classes", ",".join(CLASSES[:7])]
        expect = "labels.csv:"
    elif case == "index_out_of_range":
        table.write_text("Id,Target\n" + "".join(f"{sid},{i}\n" for i, sid in enumerate(ids[:3])) + f"{ids[3]},7\n")
        args += ["--classes", ",".join(CLASSES[:7])]
        expect = "labels.csv:5: id cell-003: Target index 7 out of range 0-6"
    elif case == "missing_channel":
        (src / f"{ids[2]}_gfp.png").unlink()
        expect = f"id {ids[2]}, channel gfp: no file"
    elif case == "not_square":
        Image.fromarray(pixels[1, 0, :, :40]).save(src / f"{ids[1]}_dapi.png")
        for c in CHANNELS3[1:]:
            Image.fromarray(pixels[1, 0, :, :40]).save(src / f"{ids[1]}_{c}.png")
        expect = f"id {ids[1]}: 40x48 px is not square"
    elif case == "too_small":
        args = [*args[:-2], "--channels", ",".join(CHANNELS3)]
        for c in CHANNELS3:
            Image.fromarray(pixels[0, 0, :24, :24]).save(src / f"{ids[0]}_{c}.png")
        expect = f"id {ids[0]}: 24x24 px is below the largest resolution 32"
    elif case == "signed":
        (src / f"{ids[3]}_er.png").unlink(missing_ok=True)
        (src / f"{ids[3]}_tubulin.png").unlink()
        tifffile.imwrite(src / f"{ids[3]}_tubulin.tif", pixels[3, 2].astype(np.int32))
        expect = "signed 32-bit integer pixels (int32)"
    elif case == "float":
        (src / f"{ids[0]}_dapi.png").unlink()
        tifffile.imwrite(src / f"{ids[0]}_dapi.tif", pixels[0, 0].astype(np.float32))
        expect = "floating-point pixels (float32)"
    elif case == "two_files":
        tifffile.imwrite(src / f"{ids[1]}_gfp.tif", pixels[1, 1])
        expect = f"id {ids[1]}, channel gfp: 2 files ({ids[1]}_gfp.png, {ids[1]}_gfp.tif)"
    elif case == "mixed_depth":
        for c, plane in zip(CHANNELS3, pixels[2], strict=True):
            Image.fromarray((plane // 16).astype(np.uint8)).save(src / f"{ids[2]}_{c}.png")
        expect = f"id {ids[2]}: uint8 pixels, but {ids[0]}_dapi.png is uint16; one bit depth per dataset"
    elif case == "duplicate_id":
        table.write_text(table.read_text() + f"{ids[0]},mitotic\n")
        expect = f"labels.csv:6: id {ids[0]} also on line 2"
    line = _error(_convert(src, tmp_path / "out.zarr", *args))
    assert expect in line, line
    assert not (tmp_path / "out.zarr").exists()


def test_options_without_labels_are_refused(tmp_path):
    (tmp_path / "src").mkdir()
    result = _convert(tmp_path / "src", tmp_path / "o.zarr", "--channels", "a,b")
    assert result.exit_code != 0 and "--channels describe a generic layout" in result.output


def test_resume_after_interruption_gives_the_same_store(five, tmp_path, monkeypatch):
    from micro_bench_hpa import convert as conv

    root, *_ = five
    args = ["--labels", str(root / "labels.csv"), "--id-column", "sample", "--label-column", "labels",
            "--separator", ";", "--pattern", "{id}.ome.zarr", "--block-size", "4"]
    _ok(root / "zarr", tmp_path / "full.zarr", *args)
    real, calls = conv.convert_block, []

    def dying(*a, **k):
        calls.append(a[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(conv, "convert_block", dying)
    with pytest.raises(KeyboardInterrupt):
        conv.convert(root / "zarr", tmp_path / "part.zarr", resolutions=(32, 16), workers=1, block_size=4, progress=False,
                     generic=_options(root, "{id}.ome.zarr"))
    monkeypatch.setattr(conv, "convert_block", real)
    _ok(root / "zarr", tmp_path / "part.zarr", *args)
    assert _array_files(tmp_path / "part.zarr") == _array_files(tmp_path / "full.zarr")
    report = json.loads((tmp_path / "part.zarr" / "convert_report.json").read_text())
    assert report["written"] == 12
    verify = CliRunner().invoke(data, ["verify", str(tmp_path / "part.zarr")])
    assert verify.exit_code == 0, verify.output


def _options(root, pattern):
    from micro_bench_hpa.options import generic_options

    return generic_options(root, labels=str(root / "labels.csv"), id_column="sample", label_column="labels",
                           separator=";", pattern=pattern)


def test_hpa2021_preset_on_a_tiny_fake(tmp_path):
    """The HPA Single-Cell 2021 layout: train.csv ID,Label with labels like 8|5|0, RGBY 16-bit PNGs
    of 1728 (and 2048) px: 19 classes named right, 16-bit kept."""
    from PIL import Image

    from micro_bench_hpa.layouts import HPA2021_CLASSES

    src = tmp_path / "hpa2021"
    (src / "train").mkdir(parents=True)
    rows = {"a1": "8|5|0", "b2": "18", "c3": "11|17"}
    sides = {"a1": 1728, "b2": 2048, "c3": 1728}
    for sid, side in sides.items():
        ramp = (np.add.outer(np.arange(side), np.arange(side)) * 7 % 60000).astype(np.uint16)
        for k, color in enumerate(("red", "green", "blue", "yellow")):
            Image.fromarray(ramp + np.uint16(k)).save(src / "train" / f"{sid}_{color}.png")
    (src / "train.csv").write_text("ID,Label\n" + "".join(f"{s},{lab}\n" for s, lab in rows.items()))
    result = CliRunner().invoke(data, ["convert", str(src), str(tmp_path / "s.zarr"), "--layout", "hpa2021",
                                       "--resolutions", "64", "--workers", "1"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    g = open_store(tmp_path / "s.zarr")
    assert g.attrs["classes"] == list(HPA2021_CLASSES) and len(HPA2021_CLASSES) == 19
    assert HPA2021_CLASSES[8] == "Intermediate filaments" and HPA2021_CLASSES[18] == "Negative"
    assert g.attrs["channels"] == ["red", "green", "blue", "yellow"] and g.attrs["dtype"] == "uint16"
    labels = read_array(g, "labels")
    assert [list(np.flatnonzero(r)) for r in labels] == [[0, 5, 8], [18], [11, 17]]
    assert g.attrs["layout"]["preset"] == "hpa2021" and (g["status"][:] == 1).all()
    # 1728 -> 64 is block means of 27 x 27 in uint16
    ramp = (np.add.outer(np.arange(1728), np.arange(1728)) * 7 % 60000).astype(np.uint64)
    want = (ramp.reshape(64, 27, 64, 27).sum(axis=(1, 3)) * 2 + 729) // 1458
    assert np.array_equal(g["images/64"][0, 0], want)
