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


def _small(tmp_path, n=4):
    """A 3-channel, 7-class dataset of 48 px 16-bit PNGs, one per channel, and its options."""
    ids, labels, pixels = make_pixels(n=n, channels=3, classes=CLASSES[:7])
    src = tmp_path / "src"
    write_png_per_channel(src, ids, pixels, CHANNELS3)
    table = write_labels(src / "labels.csv", ids, labels, CLASSES[:7], sep="|", id_col="Id", label_col="Target")
    args = ["--labels", str(table), "--separator", "|", "--pattern", "{id}_{channel}", "--channels", ",".join(CHANNELS3)]
    return src, table, args, ids, labels, pixels


@pytest.mark.parametrize("case", ["unknown_class", "index_out_of_range", "mixed_depth", "duplicate_id",
                                  "all_not_square", "all_missing", "bad_channel_option"])
def test_problems_of_the_whole_dataset_are_one_line_errors(tmp_path, case):
    """The label table, options the files cannot satisfy, samples of different bit depths, and no
    valid sample at all: one line, exit 1, nothing written."""
    from PIL import Image

    src, table, args, ids, labels, pixels = _small(tmp_path)
    if case == "unknown_class":
        table.write_text(table.read_text().replace("ciliated", "cilliated", 1))
        args += ["--classes", ",".join(CLASSES[:7])]
        expect = "labels.csv:"
    elif case == "index_out_of_range":
        table.write_text("Id,Target\n" + "".join(f"{sid},{i}\n" for i, sid in enumerate(ids[:3])) + f"{ids[3]},7\n")
        args += ["--classes", ",".join(CLASSES[:7])]
        expect = "labels.csv:5: id cell-003: Target index 7 out of range 0-6"
    elif case == "mixed_depth":
        for c, plane in zip(CHANNELS3, pixels[2], strict=True):
            Image.fromarray((plane // 16).astype(np.uint8)).save(src / f"{ids[2]}_{c}.png")
        expect = f"id {ids[2]}: uint8 pixels, but {ids[0]}_dapi.png is uint16; one bit depth per dataset"
    elif case == "duplicate_id":
        table.write_text(table.read_text() + f"{ids[0]},mitotic\n")
        expect = f"labels.csv:6: id {ids[0]} also on line 2"
    elif case == "all_not_square":
        for sid, sample in zip(ids, pixels, strict=True):
            for c, plane in zip(CHANNELS3, sample, strict=True):
                Image.fromarray(plane[:, :40]).save(src / f"{sid}_{c}.png")
        expect = (f"src: no valid sample to convert: all 4 of labels.csv skipped (wrong_size 4); first: wrong_size "
                  f"{ids[0]}: {ids[0]}_dapi.png: 40x48 px is not square; choose --fit pad, crop or resize")
    elif case == "all_missing":
        args[-1] = "dapi,gfp,rfp"
        expect = (f"src: no valid sample to convert: all 4 of labels.csv skipped (missing_channel 4); first: "
                  f"missing_channel {ids[0]}: {ids[0]}_rfp: channel rfp: no file {ids[0]}_rfp.*")
    elif case == "bad_channel_option":
        import tifffile

        for sid, sample in zip(ids, pixels, strict=True):
            tifffile.imwrite(src / f"{sid}.tif", sample, photometric="minisblack")
        args = [*args[:4], "--pattern", "{id}.tif", "--channels", "dapi,gfp"]
        expect = f"{ids[0]}.tif: 3 channels without names in its metadata; --channels names 2 (dapi, gfp)"
    line = _error(_convert(src, tmp_path / "out.zarr", *args))
    assert expect in line, line
    assert not (tmp_path / "out.zarr").exists()


def test_per_sample_problems_are_skipped_and_reported(tmp_path):
    """As in the Kaggle path: a sample with a missing, doubled, refused, misshapen or undecodable file
    is skipped and listed with its reason; the others are stored exactly; ``data info`` and ``data
    verify`` agree with the report."""
    import tifffile
    from PIL import Image

    src, table, args, ids, labels, pixels = _small(tmp_path, n=9)
    (src / f"{ids[1]}_gfp.png").unlink()  # missing channel file
    tifffile.imwrite(src / f"{ids[2]}_gfp.tif", pixels[2, 1])  # two files for one channel
    (src / f"{ids[3]}_tubulin.png").unlink()
    tifffile.imwrite(src / f"{ids[3]}_tubulin.tif", pixels[3, 2].astype(np.int32))  # signed pixels
    for c, plane in zip(CHANNELS3, pixels[4], strict=True):  # not square, no --fit
        Image.fromarray(plane[:, :40]).save(src / f"{ids[4]}_{c}.png")
    for c, plane in zip(CHANNELS3, pixels[5], strict=True):  # below the largest resolution (32)
        Image.fromarray(plane[:24, :24]).save(src / f"{ids[5]}_{c}.png")
    cut = src / f"{ids[6]}_dapi.png"  # a header that reads, pixels that do not decode
    cut.write_bytes(cut.read_bytes()[:200])
    for c, plane in zip(CHANNELS3, pixels[0], strict=True):  # files of an id the table lacks
        Image.fromarray(plane).save(src / f"stray_{c}.png")
    result = _convert(src, tmp_path / "out.zarr", *args, "--classes", ",".join(CLASSES[:7]))
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads((tmp_path / "out.zarr" / "convert_report.json").read_text())
    assert {(s["id"], s["kind"]) for s in report["skipped"]} == {
        (ids[1], "missing_channel"), (ids[2], "duplicate_channel"), (ids[3], "wrong_dtype"),
        (ids[4], "wrong_size"), (ids[5], "wrong_size"), (ids[6], "truncated"), ("stray", "not_in_csv")}
    assert report["written"] == 3 and report["skipped_after_decode"] == 1
    assert report["problems"] == {"duplicate_channel": 1, "missing_channel": 1, "not_in_csv": 1, "truncated": 1,
                                  "wrong_dtype": 1, "wrong_size": 2}
    detail = {s["id"]: s["detail"] for s in report["skipped"]}
    assert detail[ids[1]] == f"{ids[1]}_gfp: channel gfp: no file {ids[1]}_gfp.* (.png, .tif, .tiff, .ome.tif, .ome.tiff, .ome.zarr, .zarr)"
    assert detail[ids[2]] == f"{ids[2]}_gfp.png: channel gfp: 2 files ({ids[2]}_gfp.png, {ids[2]}_gfp.tif); keep one"
    assert detail[ids[3]].startswith(f"{ids[3]}_tubulin.tif: signed 32-bit integer pixels (int32)")
    assert detail[ids[4]] == f"{ids[4]}_dapi.png: 40x48 px is not square; choose --fit pad, crop or resize"
    assert detail[ids[5]].startswith(f"{ids[5]}_dapi.png: 24x24 px is below the largest resolution 32")
    assert detail[ids[6]].startswith(f"{ids[6]}_dapi.png: cannot decode")
    for kind, count in report["problems"].items():
        assert f"skipped {count:6d}  {kind}" in result.output
    # the store: the good samples and the undecodable one (a zero row, status 2), in table order
    g = open_store(tmp_path / "out.zarr")
    kept = [0, 6, 7, 8]
    assert list(read_array(g, "ids")) == [ids[i] for i in kept]
    assert np.array_equal(read_array(g, "labels"), labels[kept])
    assert list(read_array(g, "status")) == [1, 2, 1, 1]
    want = (pixels.reshape(9, 3, 16, 3, 16, 3).sum(axis=(3, 5), dtype=np.uint64) * 2 + 9) // 18
    images = g["images/16"][:]
    assert np.array_equal(images[[0, 2, 3]], want[[0, 7, 8]]) and not images[1].any()
    info = CliRunner().invoke(data, ["info", str(tmp_path / "out.zarr"), "--json"])
    facts = json.loads(info.output)
    assert (facts["n"], facts["bad"], facts["samples"], facts["skipped"]) == (3, 1, 4, 7)
    assert facts["problems"] == report["problems"]
    text = CliRunner().invoke(data, ["info", str(tmp_path / "out.zarr")]).output
    assert "3 samples (7 skipped at conversion: duplicate_channel 1, missing_channel 1, not_in_csv 1, " in text
    assert "1 of them kept as zero rows, status 2)" in text
    verify = CliRunner().invoke(data, ["verify", str(tmp_path / "out.zarr")])
    assert verify.exit_code == 0 and "OK (3 written samples match their digests)" in verify.output, verify.output


def test_multichannel_files_that_disagree_are_skipped(five, tmp_path):
    """A multi-channel file with other channels than most (count or OME names), or a Z stack, is
    skipped; the dataset's channels are those of most files."""
    import shutil

    import tifffile

    root, ids, labels, pixels = five
    src = tmp_path / "ome"
    shutil.copytree(root / "ome", src)
    tifffile.imwrite(src / f"{ids[3]}.ome.tif", pixels[3, :4], metadata={"axes": "CYX", "Channel": {"Name": CHANNELS5[:4]}})
    renamed = ["nuclei", *CHANNELS5[1:]]
    tifffile.imwrite(src / f"{ids[5]}.ome.tif", pixels[5], metadata={"axes": "CYX", "Channel": {"Name": renamed}})
    stack = np.stack([pixels[7], pixels[7]], axis=1)  # (C, Z=2, Y, X)
    tifffile.imwrite(src / f"{ids[7]}.ome.tif", stack, metadata={"axes": "CZYX", "Channel": {"Name": CHANNELS5}})
    g = _ok(src, tmp_path / "o.zarr", "--labels", str(root / "labels.csv"), "--id-column", "sample",
            "--label-column", "labels", "--separator", ";", "--pattern", "{id}.ome.tif")
    report = json.loads((tmp_path / "o.zarr" / "convert_report.json").read_text())
    assert {(s["id"], s["kind"]) for s in report["skipped"]} == {
        (ids[3], "channel_mismatch"), (ids[5], "channel_mismatch"), (ids[7], "wrong_size")}
    detail = {s["id"]: s["detail"] for s in report["skipped"]}
    assert detail[ids[3]].startswith(f"{ids[3]}.ome.tif: 4 channels named dapi, gfp, tubulin, actin; the dataset's "
                                     f"channels: 5 channels named dapi, gfp, tubulin, actin, er (9 of 11 files, e.g. {ids[0]}.ome.tif)")
    assert "the dataset's channel names" in detail[ids[5]]
    kept = [i for i in range(12) if i not in (3, 5, 7)]
    assert list(read_array(g, "ids")) == [ids[i] for i in kept] and g.attrs["channels"] == CHANNELS5
    want = (pixels[kept].reshape(9, 5, 16, 3, 16, 3).sum(axis=(3, 5), dtype=np.uint64) * 2 + 9) // 18
    assert np.array_equal(g["images/16"][:], want)


def test_every_sample_failing_when_decoded_is_one_line(tmp_path):
    src, table, args, ids, labels, pixels = _small(tmp_path)
    for sid in ids:
        cut = src / f"{sid}_gfp.png"
        cut.write_bytes(cut.read_bytes()[:200])
    line = _error(_convert(src, tmp_path / "out.zarr", *args))
    assert line.startswith(f"Error: {tmp_path / 'out.zarr'}: no sample could be converted: all 4 failed when decoded "
                           f"(truncated 4); first: truncated {ids[0]}: {ids[0]}_gfp.png: cannot decode"), line
    assert line.endswith(f"the store holds no usable sample (report: {tmp_path / 'out.zarr' / 'convert_report.json'})")


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


def _eight_in_sixteen(rng, side):
    return rng.integers(1, 256, (side, side)).astype(np.uint16)  # 8-bit values in a 16-bit file


@pytest.mark.parametrize("rule", ["257", "percentile", None])
def test_16bit_files_holding_8bit_values_generic(tmp_path, rule):
    """One rule in both paths (docs/data.md): with round(x / 257), a sample whose 16-bit files all
    hold values <= 255 is refused as ``8bit_in_16bit`` (a zero row, status 2, reported); a dim channel
    of a true 16-bit sample is mapped as usual; kept 16-bit or the percentile rule take it as it is."""
    from PIL import Image

    src, table, args, ids, labels, pixels = _small(tmp_path)
    rng = np.random.default_rng(1)
    for c in CHANNELS3:
        pixels[1, CHANNELS3.index(c)] = _eight_in_sixteen(rng, 48)
        Image.fromarray(pixels[1, CHANNELS3.index(c)]).save(src / f"{ids[1]}_{c}.png")
    pixels[2, 2] = _eight_in_sixteen(rng, 48)  # one dim channel of a true 16-bit sample
    Image.fromarray(pixels[2, 2]).save(src / f"{ids[2]}_tubulin.png")
    g = _ok(src, tmp_path / "o.zarr", *args, *(["--to-uint8", rule] if rule else []))
    report = json.loads((tmp_path / "o.zarr" / "convert_report.json").read_text())
    status = list(read_array(g, "status"))
    if rule == "257":
        assert status == [1, 2, 1, 1] and report["problems"] == {"8bit_in_16bit": 1}
        (item,) = report["skipped"]
        assert item["id"] == ids[1] and item["detail"].startswith(
            f"{ids[1]}_dapi.png: 16-bit pixels whose values are all <= 255 (the sample's maximum is 255): 8-bit data "
            "saved as 16-bit, which round(x / 257) would make black; keep the 16 bits (no --to-uint8), use "
            "--to-uint8 percentile, or save the files as 8-bit")
        eight = (pixels[2].astype(np.uint32) * 2 + 257) // 514
        assert np.array_equal(g["images/16"][2], (eight.reshape(3, 16, 3, 16, 3).sum(axis=(2, 4)) * 2 + 9) // 18)
        assert g["images/32"][2, 2].max() <= 1  # the dim channel: mapped by the rule, not refused
    else:
        assert status == [1, 1, 1, 1] and report["skipped"] == []
    if rule is None:
        want = (pixels.reshape(4, 3, 16, 3, 16, 3).sum(axis=(3, 5), dtype=np.uint64) * 2 + 9) // 18
        assert np.array_equal(g["images/16"][:], want)


def test_16bit_files_holding_8bit_values_kaggle(tmp_path):
    """The Kaggle path's rule is the same one: the sample whose four 16-bit files hold only 8-bit
    values is refused; a sample with one such channel among true 16-bit ones is converted by x/257."""
    from PIL import Image

    src = tmp_path / "kaggle"
    (src / "train").mkdir(parents=True)
    rng = np.random.default_rng(2)
    ids = ["s0", "s1", "s2"]
    planes = {sid: {c: rng.integers(0, 65536, (512, 512)).astype(np.uint16) for c in ("red", "green", "blue", "yellow")}
              for sid in ids}
    planes["s1"] = {c: _eight_in_sixteen(rng, 512) for c in planes["s1"]}
    planes["s2"]["yellow"] = _eight_in_sixteen(rng, 512)
    for sid, chans in planes.items():
        for c, a in chans.items():
            Image.fromarray(a).save(src / "train" / f"{sid}_{c}.png")
    (src / "train.csv").write_text("Id,Target\ns0,0\ns1,1 2\ns2,3\n")
    result = CliRunner().invoke(data, ["convert", str(src), str(tmp_path / "k.zarr"), "--resolutions", "64",
                                       "--workers", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "k.zarr" / "convert_report.json").read_text())
    assert [(s["kind"], s["id"]) for s in report["skipped"]] == [("8bit_in_16bit", "s1")]
    assert "8-bit data saved as 16-bit, which round(x / 257) would make black; save the files as 8-bit" in (
        report["skipped"][0]["detail"])
    g = open_store(tmp_path / "k.zarr")
    assert list(read_array(g, "status")) == [1, 2, 1]
    yellow = (planes["s2"]["yellow"].astype(np.uint32) * 2 + 257) // 514
    want = (yellow.reshape(64, 8, 64, 8).sum(axis=(1, 3)) * 2 + 64) // 128
    assert np.array_equal(g["images/64"][2, 3], want)


def test_ome_zarr_metadata_read_by_ome_zarr_once_per_kind(five, tmp_path, monkeypatch):
    """ome-zarr's reader reads and validates the multiscales metadata of the first image of each
    kind; the images after it with the same metadata are read by zarr directly, to the same bytes.
    An image with other metadata (here: other OME channel names) is read by ome-zarr again."""
    import shutil

    from micro_bench_hpa import formats

    root, ids, labels, pixels = five
    src = tmp_path / "zarr"
    shutil.copytree(root / "zarr", src)
    shutil.rmtree(src / f"{ids[4]}.ome.zarr")
    write_ome_zarr(src, [ids[4]], pixels[4:5], ["nuclei", *CHANNELS5[1:]])
    monkeypatch.setattr(formats, "_ZARR_LAYOUTS", {})
    real, calls = formats._zarr_node, []

    def counted(path):
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(formats, "_zarr_node", counted)
    args = ["--labels", str(root / "labels.csv"), "--id-column", "sample", "--label-column", "labels",
            "--separator", ";", "--pattern", "{id}.ome.zarr"]
    g = _ok(src, tmp_path / "z.zarr", *args)
    # plan (headers, 8 threads) and conversion in this process: ome-zarr read one image of each kind
    assert len(calls) == 2 and f"{ids[4]}.ome.zarr" in calls, calls
    report = json.loads((tmp_path / "z.zarr" / "convert_report.json").read_text())
    assert [(s["kind"], s["id"]) for s in report["skipped"]] == [("channel_mismatch", ids[4])]
    assert "5 channels named nuclei, gfp, tubulin, actin, er" in report["skipped"][0]["detail"]
    kept = [i for i in range(12) if i != 4]
    want = (pixels[kept].reshape(11, 5, 16, 3, 16, 3).sum(axis=(3, 5), dtype=np.uint64) * 2 + 9) // 18
    assert np.array_equal(g["images/16"][:], want) and g.attrs["channels"] == CHANNELS5
    # a cached kind whose image lacks its level-0 array: one named line in the report, not a crash
    monkeypatch.setattr(formats, "_ZARR_LAYOUTS", {})
    shutil.rmtree(src / f"{ids[4]}.ome.zarr")
    shutil.rmtree(src / f"{ids[7]}.ome.zarr" / "s0")
    _ok(src, tmp_path / "y.zarr", *args)
    report = json.loads((tmp_path / "y.zarr" / "convert_report.json").read_text())
    kinds = {s["id"]: s["kind"] for s in report["skipped"]}
    assert kinds == {ids[4]: "missing_channel", ids[7]: "unreadable"}, report["skipped"]
